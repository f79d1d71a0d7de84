"""The period's top pages, read from the page slots (``hitcounter.data.page_store``'s
``PageStore`` takes these reads from here): each slot's busiest from the period's running
union, and the assembled list kept a few seconds. Reads ride pipelines; the one write, the
kept list, is one SET sent once."""

from __future__ import annotations

import json
from typing import Any

from hitcounter.data.history_reads import read_with_unions
from hitcounter.data.page_parts import PageParts
from hitcounter.model import history, keyspace
from hitcounter.model.keys import PAGE_SLOTS

# How long an assembled top list is served again (GET /pages and /dashboard send
# ``max-age=30`` anyway): what makes a read's steady cost one GET, at 10 pages or 10,000.
TOP_CACHE_SECONDS = keyspace.TOP_CACHE_SECONDS


class TopPages(PageParts):
    """The top-pages reads of a page store."""

    def top(self, period: history.Period, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """The period's busiest pages, busiest first. Per slot, the period's running union
        of today (its closed days summed once a day, ``TOP_UNION``, then kept up to date by
        every counted hit) or, for a period of one day, today's index; from each, only its
        ``limit`` busiest (``ZREVRANGE``), so a read costs the same at 10 pages and at 10,000.
        Exact with HITS_SHARDS=1 (a page lives in one slot); with more, a page's shards sit
        in several slots, and each slot gives its ``limit`` times HITS_SHARDS busiest."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        per_slot = min(limit * self.shards, self.slot_cap)
        unions = []
        if len(days) > 1:
            for slot in range(PAGE_SLOTS):
                sources = [self._slot_key(slot, keyspace.TOP, day=d) for d in days]
                union = self._slot_key(slot, keyspace.TOP_UNION, first=days[0], day=today)
                unions.append((union, sources))
        read = [union for union, _ in unions] or [
            self._slot_key(slot, keyspace.TOP, day=today) for slot in range(PAGE_SLOTS)
        ]

        def build(pipe: Any) -> None:
            for key in read:
                pipe.zrevrange(key, 0, per_slot - 1, withscores=True)

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._top_union, build)
        totals: dict[str, float] = {}
        for members in replies:
            for member, score in members:
                name = member.decode() if isinstance(member, bytes) else str(member)
                if name:  # "" marks a slot's union made with no page in it
                    totals[name] = totals.get(name, 0) + score
        # Ties as ZREVRANGE orders them (the later id first), so each slot's busiest are the
        # ones this order ranks first, and the merged list is exact.
        ranked = sorted(totals.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return [(name, int(hits)) for name, hits in ranked[:limit]]

    def cached_top(self, period: history.Period, now_ms: int, limit: int) -> dict[str, Any] | None:
        """The period's top-pages answer as a read assembled it less than TOP_CACHE_SECONDS
        ago (one GET), or None."""
        with self._redis.use() as client:
            raw = client.get(self._top_cache_key(period, now_ms, limit))
        kept = None if raw is None else json.loads(raw)
        return kept if isinstance(kept, dict) else None  # a list: kept by the version before

    def keep_top(self, period: history.Period, now_ms: int, limit: int, answer: dict[str, Any]) -> None:
        """Keep an assembled top-pages answer for TOP_CACHE_SECONDS: one SET, sent once; a read
        that cannot write it (memory full) still answers."""
        with self._redis.use() as client:
            value = json.dumps(answer, separators=(",", ":"))
            client.set(self._top_cache_key(period, now_ms, limit), value, ex=TOP_CACHE_SECONDS)

    def _top_cache_key(self, period: history.Period, now_ms: int, limit: int) -> str:
        day = history.day_id(now_ms)
        return self._slot_key(0, keyspace.TOP_CACHE, period=period.name, limit=limit, day=day)
