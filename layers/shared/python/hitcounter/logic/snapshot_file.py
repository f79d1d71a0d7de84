"""Reading an export back, in batches of checked records: the file's header, every key line
and its closing checksum (``hitcounter.model.snapshot`` checks each), bounded by its size,
its size uncompressed, a line's length and the worker's time. A restore reads it three times
(``hitcounter.logic.snapshots``: check, stage, merge); each read renews the restore's lock."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from hitcounter.core.errors import Unprocessable
from hitcounter.core.settings import ImportLimits
from hitcounter.data.snapshot_store import SnapshotStore
from hitcounter.logic.accesslog import OutOfTime, TooLarge
from hitcounter.model import snapshot

WRITE_BATCH = 500
_CHECK_TIME_EVERY = 1000  # records


def batches(  # noqa: PLR0917 - the file, its checks and the time
    path: Path,
    store: SnapshotStore,
    limits: ImportLimits,
    remaining_ms: Callable[[], int],
    now_ms: int,
    ident: str,
) -> Iterator[list[snapshot.Record]]:
    """The file's records, checked, in batches of WRITE_BATCH; the lock refreshed per batch."""
    batch: list[snapshot.Record] = []
    for item in _records(path, store, limits, remaining_ms, now_ms):
        if item is not None:
            batch.append(item)
        if len(batch) >= WRITE_BATCH:
            yield batch
            store.lock(ident, limits.stale_seconds)
            batch = []
    if batch:
        yield batch


def _records(
    path: Path, store: SnapshotStore, limits: ImportLimits, remaining_ms: Callable[[], int], now_ms: int
) -> Iterator[snapshot.Record | None]:
    """Every key line of the file, checked (None: expired already); the header and the
    closing checksum checked too, so a caller that reads to the end has read a whole,
    unaltered export."""
    digest = hashlib.sha256()
    read = count = 0
    try:
        with gzip.open(path, "rb") as stream:
            first = _line(stream)
            if not first:
                raise Unprocessable("the object is empty: not an export")
            snapshot.check_header(first, store.shards)
            digest.update(first)
            read += len(first)
            previous = _line(stream)
            while previous:
                current = _line(stream)
                read += len(previous)
                if read > limits.max_decompressed_bytes:
                    raise TooLarge(f"the export is larger than {limits.max_decompressed_bytes} bytes uncompressed")
                if not current:  # ``previous`` is the last line: the checksum
                    snapshot.check_trailer(previous, count, digest.hexdigest())
                    return
                digest.update(previous)
                count += 1
                if count % _CHECK_TIME_EVERY == 0 and remaining_ms() < limits.time_margin_ms:
                    raise OutOfTime("the restore would not finish before the function's timeout; nothing was written")
                yield snapshot.check_record(previous, store.shards, store.slot_cap, now_ms)
                previous = current
            raise Unprocessable("the export ends without its closing line: it is truncated")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise Unprocessable("the object is not a readable gzip file") from exc


def _line(stream: gzip.GzipFile) -> bytes:
    line = stream.readline(snapshot.MAX_LINE_BYTES + 1)
    if len(line) > snapshot.MAX_LINE_BYTES:
        raise Unprocessable(f"a line is longer than {snapshot.MAX_LINE_BYTES} bytes: not an export")
    return line
