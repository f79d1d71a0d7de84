"""Writing another counter's numbers into the pages (``hitcounter.data.page_store``'s
``PageStore`` takes this step from here): a ``Tally`` gathered whole before (``hitcounter.model
.page_tally``), written slot by slot, a chunk of pages at a time, each chunk one script sent
once (``APPLY_PAGE_IMPORT``) that runs at most once per import, so a retry completes what a
failure left and never counts twice."""

from __future__ import annotations

import json
from typing import Any

from redis.commands.core import Script

from hitcounter.data.page_parts import PageParts
from hitcounter.model import history, keyspace
from hitcounter.model.keys import page_slot
from hitcounter.model.page_tally import PageCounts, Tally, capped, page_ttl
from hitcounter.model.paths import page_of

CHUNK_OPS = 2000  # operations a script call carries at most: a few hundred kB of arguments
# How long a slot remembers the chunks of an import it applied: longer than any retry.
MARKER_TTL = history.PAGE_TTLS["uniques"]


class _Call:
    """One script call's keys (each once) and operations."""

    def __init__(self, fixed: list[str]) -> None:
        self.keys = list(fixed)
        self.index = {key: i + 1 for i, key in enumerate(fixed)}
        self.ops: list[list[Any]] = []

    def key(self, name: str) -> int:
        if name not in self.index:
            self.keys.append(name)
            self.index[name] = len(self.keys)
        return self.index[name]


class PageImports(PageParts):
    """The import step of a page store."""

    _apply_import: Script

    def apply_import(self, ident: str, tally: Tally) -> tuple[int, int]:
        """Write ``tally`` (import ``ident``): (pages refused past PAGES_MAX, hits written)."""
        by_slot: dict[int, list[tuple[str, str, PageCounts]]] = {}
        for path, counts in sorted(tally.pages.items()):
            page = page_of(path)
            by_slot.setdefault(page_slot(page), []).append((page, path, counts))
        if tally.site_referrers:
            by_slot.setdefault(0, [])
        refused = written = 0
        with self._redis.use() as client:
            for slot, pages in sorted(by_slot.items()):
                site = tally.site_referrers if slot == 0 else {}
                gone = hits = 0
                for number, call in enumerate(self._calls(ident, slot, pages, site, tally.now_ms)):
                    ops = json.dumps(call.ops, separators=(",", ":"))
                    args: list[str | int] = [number, MARKER_TTL, self.slot_cap, tally.now_ms, self.idle_seconds, ops]
                    # The slot's totals so far: a retry's skipped chunks report what they wrote.
                    gone, hits = self._apply_import(keys=call.keys, args=args, client=client)
                refused += int(gone)
                written += int(hits)
        return refused, written

    def _calls(
        self,
        ident: str,
        slot: int,
        pages: list[tuple[str, str, PageCounts]],
        site: dict[str, dict[str, int]],
        now_ms: int,
    ) -> list[_Call]:
        def slot_key(kind: keyspace.KeyKind, **fields: object) -> str:
            return self._slot_key(slot, kind, **fields)

        fixed = [slot_key(keyspace.IMPORT_APPLIED, id=ident), slot_key(keyspace.REGISTRY), slot_key(keyspace.SLOT_HITS)]
        calls = [_Call(fixed)]
        call = calls[0]
        # The periods' unions made before the import miss its days: gone, the next read makes
        # them again (the pages' own are deleted with each page's operations).
        today = history.day_id(now_ms)
        for first, last in history.top_spans(now_ms // 60_000):
            call.ops.append(["del", call.key(slot_key(keyspace.TOP_UNION, first=first, day=last))])
        for period in history.PERIODS:
            call.ops.append(["del", call.key(slot_key(keyspace.SLOT_REFERRERS_UNION, period=period, day=today))])
        for day, hosts in sorted(site.items()):
            ttl = page_ttl("uniques", day, now_ms)
            call.ops.append(["refs", call.key(slot_key(keyspace.SLOT_REFERRERS, day=day)), _text(capped(hosts)), ttl])
        for page, path, counts in pages:
            if len(call.ops) > CHUNK_OPS:
                call = _Call(fixed)
                calls.append(call)
            self._page_ops(call, slot_key, page, path, counts, now_ms)
        return calls

    def _page_ops(  # noqa: PLR0917 - one page's operations
        self, call: _Call, slot_key: Any, page: str, path: str, counts: PageCounts, now_ms: int
    ) -> None:
        def own(kind: keyspace.KeyKind, **fields: object) -> int:
            return call.key(self._key(page, kind, 0, **fields))

        today = history.day_id(now_ms)
        call.ops.append(["page", page, own(keyspace.PAGE_COUNT), own(keyspace.PAGE_PATH), path, str(counts.total)])
        for day, n in sorted(counts.days.items()):
            ttl = page_ttl("day", day, now_ms)
            call.ops.append(["incr", own(keyspace.PAGE_DAY, day=day), str(n), ttl])
            call.ops.append(["incr", call.key(slot_key(keyspace.SLOT_DAY, day=day)), str(n), ttl])
            call.ops.append(["zincr", call.key(slot_key(keyspace.TOP, day=day)), page, str(n), history.DAY_TTL])
        for hour, n in sorted(counts.hours.items()):
            call.ops.append(["incr", own(keyspace.PAGE_HOUR, hour=hour), str(n), page_ttl("hour", hour, now_ms)])
        for day, hosts in sorted(counts.referrers.items()):
            ttl = page_ttl("uniques", day, now_ms)
            call.ops.append(["refs", own(keyspace.PAGE_REFERRERS, day=day), _text(capped(hosts)), ttl])
            call.ops.append(["refs", call.key(slot_key(keyspace.SLOT_REFERRERS, day=day)), _text(hosts), ttl])
        for period in history.PERIODS:
            call.ops.append(["del", own(keyspace.PAGE_REFERRERS_UNION, period=period, day=today)])


def _text(hosts: dict[str, int]) -> dict[str, str]:
    """Counts as text: Lua's numbers are doubles, and 10^12 would reach Redis as 1e+12."""
    return {host: str(n) for host, n in hosts.items()}
