"""Access-log imports: factor VI's "download a large file, operate on it, store the results".

Two halves. ``start`` runs in the HTTP request: it checks the request and the object (HEAD),
answers at once with the stored summary when that object (key and ETag) was imported
before, and otherwise records the import as ``pending`` and hands it to the worker function
(``hitcounter.data.jobs``): ``202 Accepted``. ``run`` is the worker, also run by the bucket's
ObjectCreated trigger: it downloads into this invocation's scratch directory, parses within
its bounds (``hitcounter.logic.accesslog``), and commits count and summary to Redis in one step,
keyed by key and ETag, so an object counts once however often it is imported. An import
that cannot finish within its bounds is ``failed`` with the reason, and counted nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hitcounter.core.errors import AppError, BackendUnavailable, NotFound, PayloadTooLarge
from hitcounter.core.settings import ImportLimits
from hitcounter.data.import_store import ImportStore
from hitcounter.data.objects import ObjectChanged, ObjectStore
from hitcounter.data.scratch import invocation_dir, make_room
from hitcounter.logic.accesslog import History, Limits, bucket_ttls, summarize
from hitcounter.logic.import_work import ImportWork


class ForeignExport(Protocol):
    """Another counter's export to import (``hitcounter.logic.counter_imports``), run in the
    worker in place of the access-log parse: its summary, and whether this call stored it."""

    def run(self, work: ImportWork) -> tuple[dict[str, Any], bool]: ...


_ID = re.compile(r"[0-9a-f]{32}")
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class TooManyImports(AppError):
    status = 429
    code = "too_many_imports"


class ImportCrashed(AppError):
    """The worker met an error nobody foresaw; the import is failed, nothing was counted."""

    status = 500
    code = "import_crashed"

    def __init__(self, kind: str) -> None:
        super().__init__(f"the import stopped on an unexpected error ({kind}); nothing was counted")


def import_id(bucket: str, key: str, etag: str) -> str:
    return hashlib.sha256(f"{bucket}\n{key}\n{etag}".encode()).hexdigest()[:32]


def _now() -> int:
    return int(time.time())


def view(ident: str, summary: dict[str, Any] | None, state: dict[str, Any] | None) -> dict[str, Any]:
    """What ``GET /imports/{id}`` shows: done with the summary, or the state record."""
    if summary is not None:
        return {"id": ident, "state": DONE, "summary": summary}
    if state is not None:
        shown = {"id": ident, "state": state["state"], "key": state["key"]}
        if state.get("reason"):
            shown["reason"] = state["reason"]
        return shown
    raise NotFound("no import with that id")


def start(  # noqa: PLR0917 - the request, as plain values
    objects: ObjectStore,
    ledger: ImportStore,
    submit: Callable[[dict[str, Any]], None],
    limits: ImportLimits,
    key: str,
    fmt: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """``(200, done)`` for an object imported before (nothing counted), ``(202, pending)`` for
    one handed to the worker (or already with it). ``fmt``: another counter's export
    (``hitcounter.logic.counter_exports``), None for an access log."""
    info = objects.head(key)
    if info.size > limits.max_object_bytes:
        raise PayloadTooLarge(f"the object is {info.size} bytes; imports take at most {limits.max_object_bytes}")
    ident = import_id(objects.bucket, key, info.etag)
    summary, state = ledger.read(ident)
    if summary is not None:
        return 200, view(ident, summary, None)
    fresh = state is not None and _now() - int(state.get("updated_at", 0)) < limits.stale_seconds
    if state is not None and state["state"] in (PENDING, RUNNING) and fresh:
        return 202, view(ident, None, state)  # already with the worker: no second job
    record = {"state": PENDING, "key": key, "etag": info.etag, "updated_at": _now()}
    ledger.set_state(ident, record)
    job = {"id": ident, "key": key, "etag": info.etag} | ({"format": fmt} if fmt else {})
    try:
        submit({"import": job})
    except BackendUnavailable as err:
        # Not handed over: a pending record would make the next POST wait out stale_seconds
        # for a job that does not exist. Failed, the next POST hands it over again.
        ledger.set_state(ident, record | {"state": FAILED, "reason": {"code": err.code, "message": err.message}})
        raise
    return 202, view(ident, None, record)


def run(
    objects: ObjectStore,
    ledger: ImportStore,
    scratch_root: Path,
    limits: ImportLimits,
    key: str,
    *,
    etag: str | None = None,
    remaining_ms: Callable[[], int] = lambda: 2**31,
    job_id: str | None = None,
    counters: ForeignExport | None = None,
) -> tuple[dict[str, Any], bool]:
    """The worker: import one object; returns its summary and whether this call counted it.
    ``counters``: the object is another counter's export, written into the pages
    (``hitcounter.logic.counter_imports``); None: an access log, into the site's counter.
    A refusal (bounds, corrupt content, a changed or deleted object) is recorded as
    ``failed`` and raised; a backing service failing is raised as it is, for Lambda to retry
    the event."""
    try:
        info = objects.head(key)
    except AppError as err:
        if job_id and not isinstance(err, BackendUnavailable):  # the object went away after POST
            failed = {"state": FAILED, "key": key, "etag": etag, "updated_at": _now()}
            ledger.set_state(job_id, failed | {"reason": {"code": err.code, "message": err.message}})
        raise
    ident = import_id(objects.bucket, key, info.etag)
    existing = ledger.get(ident)
    if existing is not None:  # saves the download; the commit below would also count nothing
        return existing, False
    if not ledger.admit(datetime.now(UTC).strftime("%Y%m%d"), limits.per_day):
        refused = TooManyImports(f"at most {limits.per_day} imports start a day (IMPORTS_PER_DAY); try tomorrow")
        if job_id:  # asked for through POST /imports: its state says why
            failed = {"state": FAILED, "key": key, "etag": info.etag, "updated_at": _now()}
            ledger.set_state(ident, failed | {"reason": {"code": refused.code, "message": refused.message}})
        raise refused  # an upload alone leaves nothing in Redis past the day's tally
    record = {"state": RUNNING, "key": key, "etag": info.etag, "updated_at": _now()}
    try:
        if etag is not None and etag != info.etag:
            raise ObjectChanged()  # the version that was asked for is gone
        ledger.set_state(ident, record)
        work = ImportWork(objects, ledger, scratch_root, limits, info, ident, remaining_ms)
        if counters is not None:
            return counters.run(work)
        summary, history = _import(work)
        owner = ledger.claim_content(summary["sha256"], ident)
        if owner != ident:
            # The same bytes under another key (a rotation, a copy, another multipart part
            # size: another ETag) were counted by import ``owner``: this one counts nothing.
            summary |= {"counted": 0, "duplicate_of": owner}
            return ledger.commit(ident, 0, summary, None, history.days, merge_visitors=False)
        return ledger.commit(ident, summary["counted"], summary, history.buckets, history.days)
    except BackendUnavailable:
        raise  # Redis or S3 away: not the import's fault; Lambda retries the event
    except AppError as err:
        ledger.set_state(ident, record | {"state": FAILED, "reason": {"code": err.code, "message": err.message}})
        raise
    except Exception as exc:
        # A bug met by some input must not leave the import ``running`` for a week (and a new
        # POST answering "running" and starting nothing): it ends failed, and says so.
        crashed = ImportCrashed(type(exc).__name__)
        reason = {"code": crashed.code, "message": crashed.message}
        ledger.set_state(ident, record | {"state": FAILED, "reason": reason})
        raise crashed from exc


class _History:
    """The import's share of the hit history: buckets counted by the parse, and its visitors
    staged in Redis per day in batches (never all held: at most ``FLUSH_AT`` digests)."""

    FLUSH_AT = 5000

    def __init__(self, ledger: ImportStore, ident: str, staging_ttl: int) -> None:
        self.ledger, self.ident, self.staging_ttl = ledger, ident, staging_ttl
        self.pending: dict[str, set[str]] = {}
        self.held = 0
        self.days: list[str] = []
        self.buckets: dict[str, tuple[int, int]] = {}

    def visitor(self, day: str, digest: str) -> None:
        batch = self.pending.setdefault(day, set())
        if digest not in batch:
            batch.add(digest)
            self.held += 1
            if self.held >= self.FLUSH_AT:
                self.flush()

    def flush(self) -> None:
        for day, digests in self.pending.items():
            ordered = sorted(digests)
            for start in range(0, len(ordered), 1000):
                self.ledger.stage_visitors(self.ident, day, ordered[start : start + 1000], self.staging_ttl)
            if day not in self.days:
                self.days.append(day)
        self.pending, self.held = {}, 0


def _import(work: ImportWork) -> tuple[dict[str, Any], _History]:
    objects, ledger, scratch_root, limits, info = work.objects, work.ledger, work.scratch_root, work.limits, work.info
    ident, remaining_ms = work.ident, work.remaining_ms
    make_room(scratch_root, limits.max_object_bytes, info.size)
    now_ms = time.time_ns() // 1_000_000  # the import's own time: each bucket's retention counts from it
    history = _History(ledger, ident, limits.stale_seconds)
    with invocation_dir(scratch_root) as workdir:
        local = workdir / "object"
        objects.download(info, local)
        parsed = summarize(
            local,
            Limits(
                max_line=limits.max_line_bytes,
                max_decompressed=limits.max_decompressed_bytes,
                margin_ms=limits.time_margin_ms,
                remaining_ms=remaining_ms,
                history=History(now_ms, history.visitor),
            ),
        )
    history.flush()
    history.buckets = bucket_ttls(parsed.buckets, now_ms)
    return {
        "id": ident,
        "key": info.key,
        "etag": info.etag,
        "lines": parsed.lines,
        "counted": parsed.counted,
        "malformed": parsed.malformed,
        "long_lines": parsed.long_lines,
        "bytes": parsed.bytes,
        "decompressed_bytes": parsed.decompressed_bytes,
        "sha256": parsed.sha256,
        "top_paths": parsed.top_paths(),
        "untimed": parsed.untimed,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }, history


def lookup(ledger: ImportStore, ident: str) -> dict[str, Any]:
    if not _ID.fullmatch(ident):
        raise NotFound("no import with that id")
    return view(ident, *ledger.read(ident))
