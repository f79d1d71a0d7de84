"""Every page together, read from the 64 page slots' own tallies (``hitcounter.data.page_store``'s
``PageStore`` takes this read from here): the pages' hits, today's hits and visitors, and the
period's referring hosts. The hit script keeps each slot's tallies beside its pages, so the
read is one pipeline of 64 slots' keys, whatever the number of pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hitcounter.data.history_reads import read_with_unions, summed_scores
from hitcounter.data.page_parts import PageParts
from hitcounter.model import history, keyspace
from hitcounter.model.keys import PAGE_SLOTS
from hitcounter.model.referrers import HOSTS_PER_DAY


@dataclass(slots=True)
class AllPagesCounts:
    """The pages together: hits all time, today's hits and unique visitors, and the period's
    referring hosts (most first)."""

    total: int = 0
    today_hits: int = 0
    today_uniques: int = 0
    referrers: list[tuple[str, int]] = field(default_factory=list)


class AllPages(PageParts):
    """The all-pages read of a page store."""

    def all_pages(self, period: history.Period, now_ms: int, referrers: int) -> AllPagesCounts:
        """Per slot: its pages' hits, today's hits, today's visitors (``PFCOUNT``), and its
        referring hosts of the period (closed days summed once a day by ``TOP_UNION``, and
        today's): one pipeline. A visitor is counted once per slot whose pages they read (a
        slot's visitors are salted with its own salt, so slots cannot be merged): the
        all-pages visitors are the sum over slots, an upper bound (docs/pages.md)."""
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        unions = []
        if len(days) > 1:
            for slot in range(PAGE_SLOTS):
                closed = [self._slot_key(slot, keyspace.SLOT_REFERRERS, day=d) for d in days if d != today]
                union = self._slot_key(slot, keyspace.SLOT_REFERRERS_UNION, period=period.name, day=today)
                unions.append((union, closed))
        most = referrers + HOSTS_PER_DAY

        def build(pipe: Any) -> None:
            for slot in range(PAGE_SLOTS):
                pipe.get(self._slot_key(slot, keyspace.SLOT_HITS))
                pipe.get(self._slot_key(slot, keyspace.SLOT_DAY, day=today))
                pipe.execute_command("PFCOUNT", self._slot_key(slot, keyspace.SLOT_UNIQUES, day=today))
                pipe.zrevrange(self._slot_key(slot, keyspace.SLOT_REFERRERS, day=today), 0, most, withscores=True)
                if unions:
                    pipe.zrevrange(unions[slot][0], 0, most, withscores=True)

        with self._redis.use() as client:
            replies = read_with_unions(client, unions, self._top_union, build)
        counts = AllPagesCounts()
        step = 5 if unions else 4
        sets: list[Any] = []
        for slot in range(PAGE_SLOTS):
            total, day, uniques, *slot_sets = replies[slot * step : (slot + 1) * step]
            # Never below 0: a restore of an export made before the slots kept their tallies
            # starts them at 0, and a delete then takes a page's count off.
            counts.total += max(int(total or 0), 0)
            counts.today_hits += int(day or 0)
            counts.today_uniques += int(uniques)
            sets += slot_sets
        hosts = summed_scores(sets)
        counts.referrers = sorted(hosts.items(), key=lambda item: (-item[1], item[0]))[:referrers]
        return counts
