"""Access-log imports: factor VI's "download a large file, operate on it, store the results".

The object is downloaded into this invocation's scratch directory, parsed as a stream, and
its count and summary are committed to Redis in one step, keyed by key and ETag: importing
the same object twice counts once. The scratch directory is gone afterwards, whatever
happened.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from hitcounter import http
from hitcounter.accesslog import summarize
from hitcounter.errors import NotFound, Unprocessable
from hitcounter.objects import ObjectStore
from hitcounter.scratch import ensure_room, invocation_dir
from hitcounter.store import ImportStore

_ID = re.compile(r"[0-9a-f]{32}")
MAX_KEY_CHARS = 256
_MAX_BODY = 16 * 1024


def import_id(bucket: str, key: str, etag: str) -> str:
    return hashlib.sha256(f"{bucket}\n{key}\n{etag}".encode()).hexdigest()[:32]


def parse_request(event: BaseProxyEvent, prefix: str) -> str:
    """The object key from a ``POST /imports`` body, or the error saying what is wrong."""
    payload = http.json_body(event, _MAX_BODY)
    key = payload.get("key") if isinstance(payload, dict) else None
    return validate_key(key, prefix)


def validate_key(key: object, prefix: str) -> str:
    if not isinstance(key, str) or not key:
        raise Unprocessable('"key" is required: the S3 key of an access log, e.g. "logs/access.log.gz"')
    # 256 characters are at most 1024 bytes in UTF-8: always a valid S3 key. The key is never
    # a local path (the download is always saved as "object"), so ".." is only a name.
    if len(key) > MAX_KEY_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise Unprocessable(f'"key" must be at most {MAX_KEY_CHARS} characters, no control characters')
    if not key.startswith(prefix):
        raise Unprocessable(f'"key" must be under {prefix!r}')
    return key


def run(objects: ObjectStore, ledger: ImportStore, scratch_root: Path, key: str) -> tuple[dict[str, Any], bool]:
    """Import one object; returns its summary and whether this call counted it."""
    info = objects.head(key)
    ident = import_id(objects.bucket, key, info.etag)
    existing = ledger.get(ident)
    if existing is not None:  # saves the download; the commit below would also count nothing
        return existing, False
    ensure_room(scratch_root, info.size)
    with invocation_dir(scratch_root) as workdir:
        local = workdir / "object"
        objects.download(info, local)
        parsed = summarize(local)
    summary = {
        "id": ident,
        "key": key,
        "etag": info.etag,
        "lines": parsed.lines,
        "counted": parsed.counted,
        "malformed": parsed.malformed,
        "bytes": parsed.bytes,
        "sha256": parsed.sha256,
        "top_paths": parsed.top_paths(),
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return ledger.commit(ident, parsed.counted, summary)


def lookup(ledger: ImportStore, ident: str) -> dict[str, Any]:
    found = ledger.get(ident) if _ID.fullmatch(ident) else None
    if found is None:
        raise NotFound("no import with that id")
    return found
