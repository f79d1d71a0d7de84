"""What every measurement of ``make bench`` shares: where things are, how many runs, how a
figure is taken (a median of runs, per-call microseconds after a warm-up)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def per_call_us(fn: Callable[[], object], n: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """µs per call after 50 to warm up, on ``clock`` (``time.process_time``: the caller's own
    CPU, a socket's wait left out)."""
    for _ in range(50):
        fn()
    start = clock()
    for _ in range(n):
        fn()
    return (clock() - start) / n * 1e6


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return event


def client_address(n: int) -> str:
    """The ``n``-th page client: an IPv6 address in a /64 of its own (the per-client limit
    counts an IPv6 client by its /64), so each page hit counts: not a reload, not limited."""
    return f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1"


def referred(event: dict[str, Any]) -> dict[str, Any]:
    """A path page's hit as count.js sends it from a page another site linked to: ``r`` names
    the referrer, ``Origin`` the page's own site (the referring host is kept)."""
    event["queryStringParameters"] = {**event["queryStringParameters"], "r": "https://news.ycombinator.com/item?id=1"}
    event["rawQueryString"] += "&r=https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1"
    event["headers"]["origin"] = "https://blog.example.org"
    return event
