"""Export and restore: every counter, page, bucket and HyperLogLog into one object in the
imports bucket, and such an object back into an empty store (docs/exports.md).

As for imports, each has two halves: ``start_*`` runs in the HTTP request (checks, a state
record, the hand-over to the worker: ``202``), ``run_*`` in the worker. Both are bounded like
imports: the object's size, its size uncompressed, a line's length, and the worker's time.

A restore is all or nothing, and alone:

* ``POST /restores`` takes the one restore lock (a second restore, of any file, is ``409``
  while it lives) and checks the store is empty;
* the worker reads its file three times. First every line is checked (format, version,
  layout, each key's name, value and expiry, each registry once and in its own slot, the
  closing checksum) and nothing is written. Then every record is staged beside its key,
  under a name no reader looks at. Only then is each staged key merged into its own, one
  script per key: hits that arrived since the ``POST`` are added to, never overwritten;
* a failure while staging drops what was staged and ends ``failed``: the store is as it
  was. A failure while merging ends ``failed`` with ``committing``, and the same file's
  ``POST /restores`` finishes the merge (a key merged already is skipped, so nothing is
  added twice).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hitcounter.core.errors import AppError, BackendUnavailable, PayloadTooLarge, Unprocessable
from hitcounter.core.settings import ImportLimits
from hitcounter.data.objects import ObjectStore
from hitcounter.data.scratch import ensure_room, invocation_dir
from hitcounter.data.snapshot_store import SnapshotStore
from hitcounter.logic import snapshot_file
from hitcounter.logic.accesslog import OutOfTime, TooLarge
from hitcounter.logic.snapshot_jobs import (
    DONE,
    FAILED,
    ID,
    PENDING,
    RUNNING,
    RestoreRunning,
    SnapshotCrashed,
    StoreNotEmpty,
    WorkerStopped,
    lookup,
    now,
    recorded,
)
from hitcounter.model import snapshot

__all__ = [
    "DONE",
    "EXPORT",
    "FAILED",
    "ID",
    "PENDING",
    "RESTORE",
    "RUNNING",
    "RestoreRunning",
    "SnapshotCrashed",
    "StoreNotEmpty",
    "WorkerStopped",
    "lookup",
    "restore_id",
    "run_export",
    "run_restore",
    "start_export",
    "start_restore",
]

EXPORT, RESTORE = "export", "restore"
_CHECK_TIME_EVERY = 1000  # records
# --- export --------------------------------------------------------------------------------


def start_export(store: SnapshotStore, submit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A new export, handed to the worker: its id and ``pending``."""
    ident = secrets.token_hex(16)
    record = {"state": PENDING, "updated_at": now()}
    store.set_state(EXPORT, ident, record)
    submit({EXPORT: {"id": ident}})
    return {"id": ident, **record}


def run_export(
    store: SnapshotStore,
    objects: ObjectStore,
    scratch_root: Path,
    *,
    prefix: str,
    ident: str,
    limits: ImportLimits,
    remaining_ms: Callable[[], int] = lambda: 2**31,
) -> dict[str, Any]:
    """Write every exported key to one gzip file in scratch space, then upload it as
    ``{prefix}{time}-{id}.jsonl.gz``: ``done`` with its key, record count and checksum."""
    record: dict[str, Any] = {"state": RUNNING, "updated_at": now()}
    store.set_state(EXPORT, ident, record)
    created = datetime.now(UTC)
    key = f"{prefix}{created.strftime('%Y%m%dT%H%M%SZ')}-{ident}.jsonl.gz"
    with recorded(store, EXPORT, ident, record), invocation_dir(scratch_root) as workdir:
        path = workdir / "export.jsonl.gz"
        records, digest = _write_export(store, path, created, limits, remaining_ms)
        objects.upload(path, key)
        size = path.stat().st_size
    done = {"state": DONE, "updated_at": now(), "key": key, "records": records, "bytes": size, "sha256": digest}
    store.set_state(EXPORT, ident, done)
    return {"id": ident, **done}


def _write_export(
    store: SnapshotStore, path: Path, created: datetime, limits: ImportLimits, remaining_ms: Callable[[], int]
) -> tuple[int, str]:
    digest = hashlib.sha256()
    records = written = 0
    created_at = created.isoformat(timespec="seconds").replace("+00:00", "Z")
    with gzip.open(path, "wb", compresslevel=6) as out:

        def put(data: bytes) -> None:
            nonlocal written
            written += len(data)
            if written > limits.max_decompressed_bytes:
                raise TooLarge(
                    f"the export would be larger than {limits.max_decompressed_bytes} bytes uncompressed, what a "
                    "restore reads (IMPORT_MAX_DECOMPRESSED_BYTES)"
                )
            digest.update(data)
            out.write(data)

        put(snapshot.encode_header(snapshot.header(store.shards, created_at)))
        for name, kind, value, expires in store.dump():
            put(snapshot.encode(name, kind, value, expires))
            records += 1
            if records % _CHECK_TIME_EVERY == 0 and remaining_ms() < limits.time_margin_ms:
                raise OutOfTime("the export would not finish before the function's timeout")
        out.write(snapshot.trailer(records, digest.hexdigest()))
    return records, digest.hexdigest()


# --- restore -------------------------------------------------------------------------------


def restore_id(bucket: str, key: str, etag: str) -> str:
    return hashlib.sha256(f"restore\n{bucket}\n{key}\n{etag}".encode()).hexdigest()[:32]


def start_restore(
    store: SnapshotStore,
    objects: ObjectStore,
    submit: Callable[[dict[str, Any]], None],
    limits: ImportLimits,
    key: str,
) -> tuple[int, dict[str, Any]]:
    """``409`` unless the store is empty (or this file's merge is to be finished) and no other
    restore runs; ``200`` for an object restored before; otherwise the restore handed to the
    worker (``202``), holding the lock."""
    info = objects.head(key)
    if info.size > limits.max_object_bytes:
        raise PayloadTooLarge(f"the object is {info.size} bytes; a restore takes at most {limits.max_object_bytes}")
    ident = restore_id(objects.bucket, key, info.etag)
    state = store.state(RESTORE, ident)
    if state is not None and state["state"] == DONE:
        return 200, {"id": ident, **state}
    committing = bool(state and state.get("committing"))
    if not committing and not store.is_empty():
        raise StoreNotEmpty()
    if store.lock(ident, limits.stale_seconds) != ident:
        raise RestoreRunning()
    if (
        state is not None
        and state["state"] in (PENDING, RUNNING)
        and now() - state["updated_at"] < limits.stale_seconds
    ):
        return 202, {"id": ident, **state}
    record = {"state": PENDING, "key": key, "etag": info.etag, "updated_at": now(), "committing": committing}
    store.set_state(RESTORE, ident, record)
    submit({RESTORE: {"id": ident, "key": key, "etag": info.etag}})
    return 202, {"id": ident, **record}


def run_restore(
    store: SnapshotStore,
    objects: ObjectStore,
    scratch_root: Path,
    *,
    limits: ImportLimits,
    ident: str,
    key: str,
    etag: str,
    remaining_ms: Callable[[], int] = lambda: 2**31,
) -> dict[str, Any]:
    state = store.state(RESTORE, ident) or {}
    if state.get("state") == DONE:
        return {"id": ident, **state}
    committing = bool(state.get("committing"))
    record: dict[str, Any] = {
        "state": RUNNING,
        "key": key,
        "etag": etag,
        "updated_at": now(),
        "committing": committing,
    }
    try:
        with recorded(store, RESTORE, ident, record):
            if store.lock(ident, limits.stale_seconds) != ident:
                raise RestoreRunning()
            info = objects.head(key)
            if info.etag != etag:
                raise Unprocessable("the object changed after POST /restores named it: restore it again")
            if info.size > limits.max_object_bytes:
                raise PayloadTooLarge(
                    f"the object is {info.size} bytes; a restore takes at most {limits.max_object_bytes}"
                )
            store.set_state(RESTORE, ident, record)
            ensure_room(scratch_root, info.size)
            with invocation_dir(scratch_root) as workdir:
                path = workdir / "object"
                objects.download(info, path)
                now_ms = int(time.time() * 1000)

                def batches() -> Iterator[list[snapshot.Record]]:
                    yield from snapshot_file.batches(path, store, limits, remaining_ms, now_ms, ident)

                registries = snapshot.Registries()
                total = 0
                for batch in batches():  # check it all first: nothing is written
                    for item in batch:
                        registries.add(item)
                    total += len(batch)
                if not committing:
                    _stage(store, ident, batches)
                    record["committing"] = True
                    store.set_state(RESTORE, ident, record | {"updated_at": now()})
                for batch in batches():
                    store.commit(batch, ident)
    except BackendUnavailable:
        raise  # Lambda retries the event; the lock expires if it never comes back
    finally:
        with contextlib.suppress(AppError):
            store.unlock(ident)
    done = {"state": DONE, "key": key, "etag": etag, "updated_at": now(), "records": total}
    store.set_state(RESTORE, ident, done)
    return {"id": ident, **done}


def _stage(store: SnapshotStore, ident: str, batches: Callable[[], Iterator[list[snapshot.Record]]]) -> None:
    """Stage every record; on any failure, drop what was staged (as far as the time left
    allows: what is not dropped expires in a day, unseen) and raise it."""
    staged: list[list[snapshot.Record]] = []
    try:
        for batch in batches():
            store.stage(batch, ident)
            staged.append(batch)
    except BaseException:
        with contextlib.suppress(Exception):
            for batch in staged:
                store.unstage(batch, ident)
        raise
