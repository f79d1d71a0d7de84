"""Generated access logs with known answers: for the tests, and the sample log `make dev` puts in its local bucket."""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class GeneratedLog:
    text: bytes
    lines: int
    counted: int
    malformed: int

    def gzipped(self) -> bytes:
        # mtime=0: the same bytes every call (gzip otherwise stamps the current second).
        return gzip.compress(self.text, mtime=0)


def _line(method: str, target: str, status: int, combined: bool, i: int, *, when: str | None = None) -> str:
    host = f"198.51.100.{i % 250}"
    when = when or f"23/Nov/2026:10:{i // 60 % 60:02d}:{i % 60:02d} +0000"
    base = f'{host} - - [{when}] "{method} {target} HTTP/1.1" {status} {i % 5000}'
    return base + (f' "https://example.com/" "curl/8.{i % 9}"' if combined else "")


def generate(n: int, seed: int = 6, days: tuple[datetime, int] | None = None) -> GeneratedLog:
    """``n`` lines mixing counted hits, other paths, other methods, non-2xx and garbage, all on
    23 Nov 2026, or spread evenly over ``days`` = (the last day, how many days back)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    out, counted, malformed = [], 0, 0
    for i in range(n):
        kind = rng.random()
        combined = rng.random() < 0.5
        when = None
        if days is not None:
            last, back = days
            stamp = last - timedelta(days=back) + timedelta(seconds=(i + 1) * back * 86400 // n)
            when = stamp.strftime("%d/%b/%Y:%H:%M:%S +0000")
        if kind < 0.4:
            target = rng.choice(["/", "/?utm=mail", "/?a=1&b=2"])
            out.append(_line("GET", target, rng.choice([200, 200, 204]), combined, i, when=when))
            counted += 1
        elif kind < 0.55:
            out.append(_line("GET", rng.choice(["/hits", "/about", "/index.html", "//"]), 200, combined, i, when=when))
        elif kind < 0.65:
            out.append(_line(rng.choice(["POST", "HEAD", "PUT"]), "/", 200, combined, i, when=when))
        elif kind < 0.8:
            out.append(_line("GET", "/", rng.choice([301, 304, 404, 500, 503]), combined, i, when=when))
        elif kind < 0.9:
            out.append(rng.choice(["garbage line", '1.2.3.4 - - [x] "GET /" 200', "", "GET / 200"]))
            malformed += out[-1] != ""
        else:
            out.append(_line("GET", "/", 200, combined, i, when=when).replace('"GET', '"GET  '))  # mangled request
            malformed += 1
    lines = sum(1 for line in out if line.strip())
    return GeneratedLog(("\n".join(out) + "\n").encode(), lines, counted, malformed)
