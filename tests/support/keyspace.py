"""Holding what a real Redis holds to the key table (``hitcounter.model.keyspace``): every
key under the stage's prefix must be a kind the table declares, and live no longer than the
TTL it declares (a fixed number, or the setting the function runs with)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hitcounter.model import keyspace


def declared_ms(kind: keyspace.KeyKind, environment: Mapping[str, str]) -> int | None:
    """The longest a key of ``kind`` may live, in ms (None: kept), as the function's
    environment configures it."""
    if kind.ttl is None:
        return None
    if isinstance(kind.ttl, int):
        return kind.ttl * 1000
    value = int(environment[kind.ttl])
    return value * (86_400_000 if kind.ttl.endswith("_DAYS") else 1000)


def problems(nodes: Iterable[Any], prefix: str, environment: Mapping[str, str]) -> list[str]:
    """Each key under ``prefix`` on ``nodes`` (clients of every primary) that the table does
    not declare, or that lives (or would) longer than its kind may: one line each."""
    found = []
    for node in nodes:
        for raw in node.scan_iter(match=f"{prefix}*", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else raw
            name = key[len(prefix) :]
            matched = keyspace.match(name)
            if matched is None:
                found.append(f"{name}: no kind in the key table")
                continue
            limit, pttl = declared_ms(matched.kind, environment), node.pttl(key)
            if pttl == -1 and limit is not None:
                found.append(f"{name} ({matched.kind.scope} {matched.kind.name}): no TTL, declared {limit} ms")
            elif limit is not None and pttl > limit:
                found.append(f"{name} ({matched.kind.scope} {matched.kind.name}): TTL {pttl} ms > {limit} ms")
    return found
