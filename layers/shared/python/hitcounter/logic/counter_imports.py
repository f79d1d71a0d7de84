"""Bringing another counter's past: a GoatCounter or Plausible export (``POST /imports`` with a
``format``, an object under ``imports/``) written into the path pages, through the import
machinery access logs use (``hitcounter.logic.imports``: the ledger, once per object and once
per content, the states, the day's budget).

In order: download into the invocation's scratch, read the whole file into a bounded
``Tally`` (``hitcounter.logic.counter_exports``; any refusal here writes nothing), claim its
content (the same bytes under another key count once), write the pages slot by slot
(``hitcounter.data.page_imports``: each chunk once, so a retry completes a failed write and
never counts twice), then store the summary. Imported hits count in totals and buckets, never
as unique visitors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hitcounter.data.scratch import invocation_dir, make_room
from hitcounter.logic.accesslog import file_digest
from hitcounter.logic.counter_exports import Bounds, read
from hitcounter.logic.import_work import ImportWork
from hitcounter.model.page_tally import Tally

# Numbers an import gathers at most before it writes (a page's day, hour or referring host of
# a day is one): about 150 bytes each in memory, 75 MB at most, within the worker's 1,024 MB.
MAX_CELLS = 500_000


class PageImporter(Protocol):
    """What the import needs of the pages (``hitcounter.data.page_store.PageStore``)."""

    def apply_import(self, ident: str, tally: Tally) -> tuple[int, int]: ...


@dataclass(frozen=True)
class CounterImport:
    """One import of another counter's export: its ``format``, where it writes, and how many
    pages it may name (PAGES_MAX)."""

    format: str
    pages: PageImporter
    max_pages: int
    now_ms: Callable[[], int] = lambda: int(datetime.now(UTC).timestamp() * 1000)

    def run(self, work: ImportWork) -> tuple[dict[str, Any], bool]:
        ledger, limits, info, ident = work.ledger, work.limits, work.info, work.ident
        scratch_root = work.scratch_root
        make_room(scratch_root, limits.max_object_bytes, info.size)
        tally = Tally(self.now_ms(), self.max_pages, MAX_CELLS)
        bounds = Bounds(limits.max_decompressed_bytes, limits.max_line_bytes, limits.time_margin_ms, work.remaining_ms)
        with invocation_dir(scratch_root) as workdir:
            local = workdir / "object"
            work.objects.download(info, local)
            size, sha256 = file_digest(local)
            described = read(local, self.format, tally, bounds)
        summary: dict[str, Any] = {
            "id": ident,
            "key": info.key,
            "etag": info.etag,
            "format": self.format,
            "rows": described["rows"],
            "counted": tally.counted,
            "pages": len(tally.pages),
            "skipped": dict(sorted(tally.skipped.items())),
            "bytes": size,
            "sha256": sha256,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        owner = ledger.claim_content(sha256, ident)
        if owner != ident:  # these bytes were imported under another key: nothing more counts
            summary |= {"counted": 0, "written": 0, "pages_refused": 0, "duplicate_of": owner}
            return ledger.commit(ident, 0, summary, None, [], merge_visitors=False)
        refused, written = self.pages.apply_import(ident, tally)
        summary |= {"written": written, "pages_refused": refused}
        return ledger.commit(ident, 0, summary, None, [], merge_visitors=False)
