"""A page's reads (``hitcounter.data.page_store``'s ``PageStore`` takes them from here): its
path, its day's hits, its history, its bots and referring hosts, the uniques of several
pages. Each is one pipeline of reads (the unions a period needs made once a day, never in the
pipeline); none writes but those unions."""

from __future__ import annotations

from typing import Any

from hitcounter.data.history_reads import HistoryCounts, read_history, read_with_unions, summed_scores
from hitcounter.data.page_parts import PageParts
from hitcounter.model import history, keyspace
from hitcounter.model.bots import REASONS
from hitcounter.model.paths import is_path_page
from hitcounter.model.referrers import HOSTS_PER_DAY


class PageReads(PageParts):
    """The reads of a page store."""

    def paths(self, pages: list[str]) -> dict[str, str]:
        """The path of each path page of ``pages`` (kept on the shard its hits counted on), in
        one pipeline of GETs; id pages and paths not found are left out."""
        named = [page for page in pages if is_path_page(page)]
        if not named:
            return {}
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for page in named:
                for shard in range(self.shards):
                    pipe.get(self._key(page, keyspace.PAGE_PATH, shard))
            replies = pipe.execute()
        found = {}
        for i, page in enumerate(named):
            held = [r for r in replies[i * self.shards : (i + 1) * self.shards] if r is not None]
            if held:
                found[page] = held[0].decode() if isinstance(held[0], bytes) else str(held[0])
        return found

    def today(self, page: str, now_ms: int) -> int:
        """The page's counted hits of the UTC day (its day bucket, every shard summed)."""
        day = history.day_id(now_ms)
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for shard in range(self.shards):
                pipe.get(self._key(page, keyspace.PAGE_DAY, shard, day=day))
            return sum(int(v) for v in pipe.execute() if v is not None)

    def page_history(self, page: str, period: history.Period, now_ms: int) -> HistoryCounts:
        with self._redis.use() as client:
            return read_history(
                client,
                self._period_union,
                lambda shard, kind, **fields: self._key(page, kind, shard, **fields),
                keyspace.PAGE_HISTORY,
                self.shards,
                period,
                now_ms,
            )

    def tallies(
        self, page: str, period: history.Period, now_ms: int, referrers: int
    ) -> tuple[dict[str, int], list[tuple[str, int]]]:
        """The page's bot requests by reason, and its ``referrers`` most referring hosts
        (most first; ``other`` among them when a day's tail was trimmed), over the period's
        whole UTC days. Per shard and tally, the closed days summed once a day
        (``TOP_UNION``) and today's: one pipeline for both, flat in the period's length. Of a
        union of referrers, only the busiest ``referrers`` + a day's hosts are read: exact
        while the period's hosts fit in it, and bounded however many there were."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        # Each read bounded: a day holds at most every reason, or HOSTS_PER_DAY hosts and other.
        kinds = ((keyspace.PAGE_BOTS, keyspace.PAGE_BOTS_UNION, len(REASONS)),
                 (keyspace.PAGE_REFERRERS, keyspace.PAGE_REFERRERS_UNION, referrers + HOSTS_PER_DAY))  # fmt: skip
        unions = []
        if len(days) > 1:
            for kind, union_kind, _ in kinds:
                for shard in range(self.shards):
                    closed = [self._key(page, kind, shard, day=d) for d in days if d != today]
                    union = self._key(page, union_kind, shard, period=period.name, day=today)
                    unions.append((union, closed))

        def build(pipe: Any) -> None:
            for i, (kind, _, most) in enumerate(kinds):
                for shard in range(self.shards):
                    pipe.zrevrange(self._key(page, kind, shard, day=today), 0, most, withscores=True)
                    if unions:
                        pipe.zrevrange(unions[i * self.shards + shard][0], 0, most, withscores=True)

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._top_union, build)
        half = len(replies) // 2
        reasons = summed_scores(replies[:half])
        hosts = sorted(summed_scores(replies[half:]).items(), key=lambda item: (-item[1], item[0]))
        return dict(sorted(reasons.items())), hosts[:referrers]

    def uniques(self, pages: list[str], period: history.Period, now_ms: int) -> dict[str, int]:
        """Each page's unique visitors over the period (the days its HyperLogLogs are kept),
        from the same two-key unions as its history (per shard, summed), in one pipeline."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        cached = len(days) > 1 and period.unit == "day"
        shards = [(page, shard) for page in pages for shard in range(self.shards)]
        unions = []
        if cached:
            for page, shard in shards:
                closed = [self._key(page, keyspace.PAGE_UNIQUES, shard, day=d) for d in days if d != today]
                union = self._key(page, keyspace.PAGE_UNIQUES_UNION, shard, period=period.name, day=today)
                unions.append((union, closed))

        def build(pipe: Any) -> None:
            for i, (page, shard) in enumerate(shards):
                if cached:
                    pipe.execute_command(
                        "PFCOUNT", unions[i][0], self._key(page, keyspace.PAGE_UNIQUES, shard, day=today)
                    )
                else:
                    pipe.execute_command(
                        "PFCOUNT", *[self._key(page, keyspace.PAGE_UNIQUES, shard, day=d) for d in days]
                    )

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._period_union, build)
        totals = dict.fromkeys(pages, 0)
        for (page, _), n in zip(shards, replies, strict=True):
            totals[page] += int(n)
        return totals
