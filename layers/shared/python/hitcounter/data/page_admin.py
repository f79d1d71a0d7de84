"""An operator's steps on the pages (``hitcounter.data.page_store``'s ``PageStore`` takes
them from here): delete a page, list every page a cursor at a time, correct a total. Each
write is one script or one command, sent once; reads ride pipelines."""

from __future__ import annotations

from typing import Any

from redis.commands.core import Script

from hitcounter.data.page_parts import PageParts
from hitcounter.data.page_scripts import hit_keys
from hitcounter.model import history, keyspace
from hitcounter.model.keys import PAGE_SLOTS, page_slot


class PageAdmin(PageParts):
    """The operator's steps of a page store (``hit_keys`` names what a hit would write now)."""

    _delete: Script
    _replace: Script
    _take_off: Script

    def count(self, page: str) -> int | None:
        raise NotImplementedError

    def delete(self, page: str, now_ms: int) -> bool:
        """Delete a page: every key of it, its registry entry and its place in the top pages,
        one script per shard (``DELETE_PAGE``), each sent once; then the kept top lists of
        today, so ``GET /pages`` forgets it at once. True when the page existed. Its keys are
        found by a SCAN of its own names (an admin's step: it reads the keyspace, in pages of
        1,000) and by the names a hit could be writing now."""
        existed = False
        with self._redis.use() as client:
            for shard in range(self.shards):
                keys, indexes = self._delete_keys(client, page, shard, now_ms)
                slot = page_slot(page, shard)
                fixed = [
                    self._key(page, keyspace.PAGE_COUNT, shard),
                    self._slot_key(slot, keyspace.REGISTRY),
                    self._slot_key(slot, keyspace.LEGACY_REGISTRY),
                    self._slot_key(slot, keyspace.SLOT_HITS),
                ]
                done = self._delete(keys=[*fixed, *indexes, *keys], args=[page, len(indexes)], client=client)
                existed = existed or bool(int(done))
            # One DEL of every kept list (they share slot 0): a write, so never in a pipeline.
            client.delete(*self._kept_top_lists(now_ms))
        return existed

    def _delete_keys(self, client: Any, page: str, shard: int, now_ms: int) -> tuple[list[str], list[str]]:
        """(the page's keys on ``shard``: those that exist, by SCAN, and those a hit now would
        write; the slot's indexes that may name it: each day's top, the running unions)."""
        base = keyspace.page_base(self._prefix, page, shard)
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in base) + "*"
        found = {
            raw.decode() if isinstance(raw, bytes) else str(raw) for raw in client.scan_iter(match=pattern, count=1000)
        }
        minute = now_ms // 60_000
        current = hit_keys(self._prefix, page, shard, minute)
        found |= {key for key in current[:-1] if key.startswith(base)}  # the limit log's name is not a key
        slot = page_slot(page, shard)
        days = {history.day_id(now_ms - d * 86_400_000) for d in range(history.DAY_TTL // 86400 + 2)}
        indexes = [self._slot_key(slot, keyspace.TOP, day=day) for day in sorted(days)]
        for at in (minute, minute - 1440):  # today's running unions and yesterday's
            indexes += [self._slot_key(slot, keyspace.TOP_UNION, first=f, day=d) for f, d in history.top_spans(at)]
        return sorted(found - {current[0]}), indexes

    def _kept_top_lists(self, now_ms: int) -> list[str]:
        day = history.day_id(now_ms)
        return [
            self._slot_key(0, keyspace.TOP_CACHE, period=period, limit=limit, day=day)
            for period in history.PERIODS
            for limit in range(1, 51)
        ]

    def listing(self, slot: int, offset: int, limit: int) -> tuple[list[tuple[str, int, int]], tuple[int, int] | None]:
        """Every page, slot by slot, by id within a slot: up to ``limit`` of them from
        (``slot``, ``offset``), each with its total and the time of its last counted hit (ms),
        and where the next call starts (None past the last slot). Two pipelines of reads:
        each remaining slot's next ``limit`` ids (bounded: 64 times ``limit``), then the
        totals."""
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for s in range(slot, PAGE_SLOTS):
                start = offset if s == slot else 0
                pipe.zrange(self._slot_key(s, keyspace.REGISTRY), start, start + limit - 1, withscores=True)
            replies = pipe.execute()
            rows: list[tuple[str, int]] = []
            cursor: tuple[int, int] | None = None
            for s, members in zip(range(slot, PAGE_SLOTS), replies, strict=True):
                start = offset if s == slot else 0
                taken = members[: limit - len(rows)]
                rows += [(m.decode() if isinstance(m, bytes) else str(m), int(score)) for m, score in taken]
                if len(rows) == limit:
                    # Full: go on after the last one taken (this slot may hold more, or the next).
                    more_here = len(taken) < len(members) or len(members) == limit
                    cursor = (s, start + len(taken)) if more_here else (s + 1, 0) if s + 1 < PAGE_SLOTS else None
                    break
            pipe = client.pipeline(transaction=False)
            for page, _ in rows:
                for shard in range(self.shards):
                    pipe.get(self._key(page, keyspace.PAGE_COUNT, shard))
            counts = pipe.execute() if rows else []
        listed = []
        for i, (page, at) in enumerate(rows):
            held = [int(v) for v in counts[i * self.shards : (i + 1) * self.shards] if v is not None]
            listed.append((page, sum(held), at))
        return listed, cursor

    def replace(self, page: str, hits: int) -> int | None:
        """Set a counting page's total to ``hits`` (its history as it is): the old total, or
        None for a page that has none. With HITS_SHARDS > 1 the first shard takes the total
        and the others' counts go (each its own script, taking the count off its slot's pages'
        hits: a hit landing on another shard meanwhile adds to the corrected total)."""
        old_total = self.count(page) if self.shards > 1 else None
        with self._redis.use() as client:
            first = [self._key(page, keyspace.PAGE_COUNT), self._slot_key(page_slot(page), keyspace.SLOT_HITS)]
            spread = "1" if old_total is not None else "0"
            old = self._replace(keys=first, args=[hits, spread, self.idle_seconds], client=client)
            if self.shards > 1:
                for shard in range(1, self.shards):
                    shard_keys = [
                        self._key(page, keyspace.PAGE_COUNT, shard),
                        self._slot_key(page_slot(page, shard), keyspace.SLOT_HITS),
                    ]
                    self._take_off(keys=shard_keys, args=[], client=client)
        if old is None and not old_total:
            return None
        return old_total if old_total is not None else int(old)
