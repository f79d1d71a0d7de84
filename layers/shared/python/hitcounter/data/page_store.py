"""Per-page counters in Redis: one script per counted page hit, each page's history read as
the site's is, and the period's top pages. Pages live under ``PAGE_SLOTS`` hash tags
(``hitcounter.model.keys``): a page's keys, its slot's registry, salt and top-pages index
share one slot, so a hit is one script, and pages spread over a cluster's shards."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

from hitcounter.data.history_reads import HistoryCounts, read_history, read_with_unions
from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import COUNT_PAGE_HIT, PERIOD_UNION, TOP_UNION, script
from hitcounter.model import history
from hitcounter.model.history import PAGE_TTLS, Visit
from hitcounter.model.keys import PAGE_SLOTS, page_key, page_slot, page_tag_key


@dataclass(frozen=True, slots=True)
class PageHit:
    """A page's count after this hit (or the replayed one); ``refused`` when the page was new
    and its slot already holds its share of PAGES_MAX (nothing was written)."""

    total: int
    replayed: bool = False
    created: bool = False
    refused: bool = False


class PageStore:
    def __init__(self, handle: RedisHandle, key_prefix: str, pages_max: int, idempotency_ttl: int = 86400) -> None:
        self._redis = handle
        self._prefix = key_prefix
        self.pages_max = pages_max
        # Each slot holds its share; with page ids spread by a hash, the whole holds about
        # PAGES_MAX (a slot may fill a little before the others: docs/pages.md).
        self.slot_cap = math.ceil(pages_max / PAGE_SLOTS)
        self.idempotency_ttl = idempotency_ttl
        self._count = script(COUNT_PAGE_HIT)
        self._period_union = script(PERIOD_UNION)
        self._top_union = script(TOP_UNION)

    def _key(self, page: str, name: str) -> str:
        return page_key(self._prefix, page, name)

    def hit(self, page: str, visit: Visit, idempotency_key: str | None = None) -> PageHit:
        """Count one hit of ``page``: one EVALSHA, never re-sent."""
        slot = page_slot(page)
        day = history.day_id(visit.at_ms)
        record = self._key(page, "count")
        if idempotency_key is not None:
            digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
            record = self._key(page, f"idem:{digest}")
        keys = [
            self._key(page, "count"),
            record,
            self._key(page, f"m:{history.minute_id(visit.at_ms)}"),
            self._key(page, f"h:{history.hour_id(visit.at_ms)}"),
            self._key(page, f"d:{day}"),
            self._key(page, f"u:{day}"),
            page_tag_key(self._prefix, slot, f"salt:{day}"),
            page_tag_key(self._prefix, slot, "pages"),
            page_tag_key(self._prefix, slot, f"top:{day}"),
        ]
        args: list[str | int] = [
            self.idempotency_ttl if idempotency_key is not None else 0,
            page,
            self.slot_cap,
            PAGE_TTLS["minute"],
            PAGE_TTLS["hour"],
            PAGE_TTLS["day"],
            PAGE_TTLS["uniques"],
            secrets.token_hex(16),  # the slot's salt of the day, if this is its first hit
            history.SALT_TTL,
            visit.visitor,
            history.DAY_TTL,
        ]
        with self._redis.use() as client:
            n, replayed, created = self._count(keys=keys, args=args, client=client)
        if int(n) < 0:
            return PageHit(0, refused=True)
        return PageHit(int(n), bool(replayed), bool(created))

    def count(self, page: str) -> int | None:
        """The page's count, None for a page nobody has counted."""
        with self._redis.use() as client:
            raw = client.get(self._key(page, "count"))
        return None if raw is None else int(raw)

    def page_history(self, page: str, period: history.Period, now_ms: int) -> HistoryCounts:
        with self._redis.use() as client:
            return read_history(
                client, self._period_union, lambda _shard, name: self._key(page, name), 1, period, now_ms
            )

    def top(self, period: history.Period, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """The period's busiest pages, busiest first: per slot, the closed days' sum (made
        once a day, ``TOP_UNION``) and today's, read in one pipeline; bounded by PAGES_MAX,
        whatever the period."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        unions = []
        if len(days) > 1:
            for slot in range(PAGE_SLOTS):
                closed = [page_tag_key(self._prefix, slot, f"top:{d}") for d in days if d != today]
                unions.append((page_tag_key(self._prefix, slot, f"topq:{period.name}:{today}"), closed))

        def build(pipe: Any) -> None:
            for slot in range(PAGE_SLOTS):
                pipe.zrange(page_tag_key(self._prefix, slot, f"top:{today}"), 0, -1, withscores=True)
            for union, _ in unions:
                pipe.zrange(union, 0, -1, withscores=True)

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._top_union, build)
        totals: dict[str, float] = {}
        for members in replies:
            for member, score in members:
                name = member.decode() if isinstance(member, bytes) else str(member)
                if name:  # "" marks a slot's union made with no page in it
                    totals[name] = totals.get(name, 0) + score
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return [(name, int(hits)) for name, hits in ranked[:limit]]

    def uniques(self, pages: list[str], period: history.Period, now_ms: int) -> dict[str, int]:
        """Each page's unique visitors over the period (the days its HyperLogLogs are kept),
        from the same two-key union as its history, in one pipeline."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        cached = len(days) > 1 and period.unit == "day"
        unions = (
            [
                (self._key(p, f"uq:{period.name}:{today}"), [self._key(p, f"u:{d}") for d in days if d != today])
                for p in pages
            ]
            if cached
            else []
        )

        def build(pipe: Any) -> None:
            for i, page in enumerate(pages):
                if cached:
                    pipe.execute_command("PFCOUNT", unions[i][0], self._key(page, f"u:{today}"))
                else:
                    pipe.execute_command("PFCOUNT", *[self._key(page, f"u:{d}") for d in days])

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._period_union, build)
        return {page: int(n) for page, n in zip(pages, replies, strict=True)}
