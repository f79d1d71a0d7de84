"""Reading a counter's history: its buckets, its unique visitors per day and over a period,
and its total, in one pipeline of reads. The same read serves the site's counter and each
page's; the keys differ, the shape does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.commands.core import Script

from hitcounter.model import history, keyspace


@dataclass(slots=True)
class HistoryCounts:
    """What a period's read finds, summed over the shards: hits per bucket (oldest first),
    unique visitors per day and over the period, the total count, and the latest imports."""

    hits: list[int]
    day_uniques: dict[str, int]
    uniques: int = 0
    total: int = 0
    imports: list[dict[str, Any]] = field(default_factory=list)


def read_history(  # noqa: PLR0917 - one read, its keys and its period
    client: Any,
    period_union: Script,
    key: Callable[..., str],
    kinds: keyspace.HistoryKinds,
    shards: int,
    period: history.Period,
    now_ms: int,
    *,
    recent_imports: int = 0,
) -> HistoryCounts:
    """Per shard, one MGET of the period's buckets, the period's uniques, one PFCOUNT per
    day, the count (and the latest imports): one pipeline of reads, so a re-send is harmless.
    ``key(shard, kind, **fields)`` names a key of ``kinds`` (the site's or a page's,
    ``hitcounter.model.keyspace``) under a shard's hash tag.
    Bounded by the period (at most 365 buckets) times the shards.

    Day periods read their unique visitors from two keys: the union of the closed days, made
    once a day by ``period_union`` (a multi-key PFCOUNT merges every HyperLogLog it names on
    Redis's one thread on every call and cannot cache the result), and today's. Hour and
    minute periods touch at most three days, merged directly."""
    ids = [history.bucket_id(period.unit, start) for start in history.bucket_starts(period, now_ms)]
    bucket = kinds.buckets[history.UNITS[period.unit].prefix]
    field = period.unit  # the bucket kind's one field: minute, hour or day
    days = history.days_of(period, now_ms)
    today = history.day_id(now_ms)
    cached = period.unit == "day" and len(days) > 1
    unions = (
        [
            (
                key(shard, kinds.union, period=period.name, day=today),
                [key(shard, kinds.uniques, day=d) for d in days if d != today],
            )
            for shard in range(shards)
        ]
        if cached
        else []
    )

    def build(pipe: Any) -> None:
        for shard in range(shards):
            # redis-py's cluster pipeline blocks its mget()/pfcount() helpers (they could span
            # slots); these keys share the shard's hash tag, so the commands are sent as they
            # are, and the pipeline routes each by its keys' one slot.
            pipe.execute_command("MGET", *[key(shard, bucket, **{field: i}) for i in ids])
            day_hlls = [key(shard, kinds.uniques, day=d) for d in days]
            # PFCOUNT may cache its estimate in the HyperLogLog's header, nothing more: a re-send
            # (a cluster pipeline's) changes no count. Single-key PFCOUNTs of closed days answer
            # from that cache; the period's union merges two keys.
            if cached:
                pipe.execute_command("PFCOUNT", unions[shard][0], key(shard, kinds.uniques, day=today))
            else:
                pipe.execute_command("PFCOUNT", *day_hlls)
            for day_hll in day_hlls:
                pipe.execute_command("PFCOUNT", day_hll)
            pipe.get(key(shard, kinds.count))
            if recent_imports:
                pipe.lrange(key(shard, keyspace.IMPORTS_RECENT), 0, recent_imports - 1)

    replies = read_with_unions(client, unions, period_union, build)
    counts = HistoryCounts([0] * len(ids), dict.fromkeys(days, 0))
    step = 3 + len(days) + (1 if recent_imports else 0)
    for shard in range(shards):
        chunk = replies[shard * step : (shard + 1) * step]
        if recent_imports:
            counts.imports += [json.loads(raw) for raw in chunk.pop()]
        buckets, union, *day_counts, count = chunk
        counts.hits = [h + int(v or 0) for h, v in zip(counts.hits, buckets, strict=True)]
        # Each visitor lands on one shard (or, with Idempotency-Keys, may on several): the
        # shards' estimates add up (docs/history.md).
        counts.uniques += int(union)
        for day, n in zip(days, day_counts, strict=True):
            counts.day_uniques[day] += int(n)
        counts.total += int(count or 0)
    return counts


# Keys one union-making call may name at most: a year's days of a few unions. Bounds how long
# one call holds Redis's single thread, so the day's first read of 64 slots' unions is a few
# calls on one Redis, never one unbounded one.
UNION_KEYS_PER_CALL = 1024


def union_calls(
    unions: list[tuple[str, list[str]]], slot_of: Callable[[str], int] | None
) -> list[tuple[list[str], list[str]]]:
    """The calls that make ``unions``, each as its KEYS (a union, its sources, the next…) and
    its groups' source counts (ARGV after the TTL; PERIOD_UNION, TOP_UNION): one call per hash
    slot (``slot_of``; None on a standalone Redis, where any keys may share a call), split
    where a call would name more than UNION_KEYS_PER_CALL keys; a union is never split."""
    by_slot: dict[int, list[tuple[str, list[str]]]] = {}
    for entry in unions:
        by_slot.setdefault(slot_of(entry[0]) if slot_of else 0, []).append(entry)
    calls: list[tuple[list[str], list[str]]] = []
    for group in by_slot.values():
        keys: list[str] = []
        counts: list[str] = []
        for union, sources in group:
            if keys and len(keys) + 1 + len(sources) > UNION_KEYS_PER_CALL:
                calls.append((keys, counts))
                keys, counts = [], []
            keys += [union, *sources]
            counts.append(str(len(sources)))
        calls.append((keys, counts))
    return calls


def read_with_unions(
    client: Any, unions: list[tuple[str, list[str]]], script: Script, build: Callable[[Any], None]
) -> list[Any]:
    """Run the read pipeline ``build`` fills, after checking in the same pipeline that each
    union (its key, its sources) exists. The unions missing (the day's first read, or the
    first after an import) are made by ``script``, one call per hash slot (``union_calls``),
    each sent once and never in the pipeline (no write rides in one: a cluster pipeline
    re-sends), and the read runs once more; so the usual read is one round trip that names no
    source, however many days the union holds."""

    def run() -> tuple[list[Any], list[Any]]:
        pipe = client.pipeline(transaction=False)
        for union, _ in unions:
            pipe.exists(union)
        build(pipe)
        replies = pipe.execute()
        return replies[: len(unions)], replies[len(unions) :]

    exists, replies = run()
    missing = [(union, sources) for (union, sources), made in zip(unions, exists, strict=True) if not made]
    if not missing:
        return replies

    slot_of = getattr(client, "keyslot", None)  # a cluster client's; a standalone one has none
    for keys, counts in union_calls(missing, slot_of):
        script(keys=keys, args=[history.UNION_TTL, *counts], client=client)
    return run()[1]


def summed_scores(replies: list[list[tuple[bytes | str, float]]]) -> dict[str, int]:
    """Sorted sets' members (``ZRANGE … WITHSCORES`` replies) with their scores added up;
    "" (which marks a union made of days with nothing in them) and zero scores left out."""
    summed: dict[str, int] = {}
    for members in replies:
        for member, score in members:
            name = member.decode() if isinstance(member, bytes) else str(member)
            if name and score:
                summed[name] = summed.get(name, 0) + int(score)
    return summed
