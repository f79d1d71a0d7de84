"""The export format (version 1), and what a restore accepts: pure functions, no I/O.

An export is gzip-compressed JSON Lines (docs/exports.md):

* line 1, the header: ``{"format": "hitcounter-export", "version": 2, "created_at": "…Z",
  "hits_shards": N, "page_slots": 64}``;
* one line per key: ``{"k": name, "v": value, "x": expiry}``: ``k`` the key without the
  deployment's ``KEY_PREFIX``, ``x`` when it expires (epoch ms) or null for never, ``v``
  in the shape its kind gives (below);
* the last line: ``{"end": true, "records": n, "sha256": hex}``, the SHA-256 of every byte
  before it, so a truncated or altered file is refused as a whole.

What is exported is what the answers are made of; what is exported of each key follows from
its name alone (``kind``, by the key table's ``export`` column in
``hitcounter.model.keyspace``), so a file cannot choose a type for a key:

=================  ==========================================  ==========================
kind               keys (after the counter's or slot's tag)    ``v``
=================  ==========================================  ==========================
count              ``count``, ``m:…``/``h:…``/``d:…`` buckets,  an integer
                   and a page's
hll                ``u:DAY`` (site), ``page:ID:u:DAY``         the HyperLogLog's raw bytes,
                                                               base64: uniques restore
                                                               exactly
summary            ``import:ID``                               the summary object
content            ``content:SHA256``                          the import id it names
recent             ``imports:recent``                          up to 10 summary objects
registry           ``reg`` (a slot's pages)                    ``{page: last counted, ms}``
legacy_registry    ``pages`` (version 1's registry)            the ids (restored as counted
                                                               at the restore's time)
top                ``top:DAY`` (a slot's pages of a day)       ``{page: hits}``
bots               ``page:ID:b:DAY``                           ``{reason: count}``
referrers          ``page:ID:r:DAY``                           ``{host: hits}`` (50 hosts
                                                               at most, and ``other``)
path               ``page:~DIGEST:path`` (a path page's)       the path, in its normal form
=================  ==========================================  ==========================

Not exported: what is derived (the periods' unions, remade by the next read), what lives
minutes or hours for one request's sake (idempotency records, reload and limit windows,
import staging and states, the day's import tally, sessions), and the daily salts: a
restore makes fresh ones, so a visitor seen on the day of the export, before it, may count
once more that day.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitcounter.core.errors import Unprocessable
from hitcounter.model import history, keyspace
from hitcounter.model.keys import PAGE_SLOTS, page_slot, stored_page
from hitcounter.model.paths import page_of
from hitcounter.model.snapshot_values import check_value

FORMAT, VERSION = "hitcounter-export", 2
READS = (1, 2)  # version 1: the registry was a set of ids (``pages``), before pages expired
# An expiry a restore takes: no key is kept longer than PAGE_IDLE_DAYS' highest (3,650 days);
# past that, a file is not an export (Redis itself refuses expiries past 2^63-1 ms).
MAX_EXPIRY_AHEAD_MS = 3660 * 86400 * 1000
MAX_LINE_BYTES = 64 * 1024  # a dense HyperLogLog is 16.4 KB in base64

_UNIT_FORMAT = {unit.prefix: unit.id_format for unit in history.UNITS.values()}


@dataclass(frozen=True, slots=True)
class Record:
    """One key of an export, checked: its name (no prefix), kind, value and expiry."""

    key: str
    kind: str
    value: Any
    expires_at: int | None


_FIELD_UNIT = {"minute": "m", "hour": "h", "day": "d", "first": "d"}


def _bucket_id(unit: str, ident: str) -> bool:
    try:
        datetime.strptime(ident, _UNIT_FORMAT[unit])
    except ValueError:
        return False
    return True


def kind(key: str, shards: int) -> str | None:
    """The kind of an exported key (its name without the prefix), or None for a key that is
    not exported (or not one of this scheme's names at all): the key table
    (``hitcounter.model.keyspace``) says which kinds an export carries. Dates must be real
    ones; site keys must be one of ``shards``'; page keys must sit in the slot their id
    hashes to, for one of ``shards``, or no read would ever find them."""
    found = keyspace.match(key)
    if found is None or found.kind.export is None:
        return None
    for name, value in found.fields.items():
        if name in _FIELD_UNIT and not _bucket_id(_FIELD_UNIT[name], value):
            return None
    if found.kind.scope == keyspace.SITE:
        ours = found.shard is None if shards == 1 else found.shard is not None and found.shard < shards
        return found.kind.export if ours else None
    if found.slot is None or found.slot >= PAGE_SLOTS:
        return None
    if found.page is not None and (
        not stored_page(found.page) or found.slot not in {page_slot(found.page, s) for s in range(shards)}
    ):
        return None
    return found.kind.export


def header(hits_shards: int, created_at: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "created_at": created_at, "hits_shards": hits_shards,
            "page_slots": PAGE_SLOTS}  # fmt: skip


def encode_header(first: dict[str, Any]) -> bytes:
    return json.dumps(first, separators=(",", ":")).encode() + b"\n"


def check_header(line: bytes, hits_shards: int) -> None:
    """Refuse a file that is not a version-1 export made with this deployment's layout."""
    first = _json_line(line)
    if not isinstance(first, dict) or first.get("format") != FORMAT:
        raise Unprocessable("not a hit counter export (its first line names no hitcounter-export format)")
    if first.get("version") not in READS:
        raise Unprocessable(
            f"export format version {_shown(first.get('version'))} is not one this reads ({', '.join(map(str, READS))})"
        )
    if first.get("hits_shards") != hits_shards or first.get("page_slots") != PAGE_SLOTS:
        raise Unprocessable(
            f"the export was made with HITS_SHARDS={_shown(first.get('hits_shards'))}; this deployment has "
            f"{hits_shards}: restore it into a deployment with the same HITS_SHARDS"
        )


def _shown(value: Any) -> str:
    """A header field in an error message: a small whole number as it is, anything else by
    its type only (the message is kept and shown; the file's text never is)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6:
        return str(value)
    return f"<{type(value).__name__}>"


def _json_line(line: bytes) -> Any:
    if len(line) > MAX_LINE_BYTES:
        raise Unprocessable(f"a line is longer than {MAX_LINE_BYTES} bytes")
    try:
        return json.loads(line, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Unprocessable("a line is not JSON") from exc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_record(line: bytes, shards: int, slot_cap: int, now_ms: int) -> Record | None:
    """One key line, checked; None for one that has expired already (nothing to restore)."""
    item = _json_line(line)
    if not isinstance(item, dict) or set(item) != {"k", "v", "x"} or not isinstance(item["k"], str):
        raise Unprocessable('a record is {"k", "v", "x"} and nothing else')
    key, expires = item["k"], item["x"]
    kind_ = kind(key, shards)
    if kind_ is None:
        raise Unprocessable("a record names a key this version does not export")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int) or expires <= 0):
        raise Unprocessable('a record\'s "x" is its expiry in epoch milliseconds, or null')
    if expires is not None and expires > now_ms + MAX_EXPIRY_AHEAD_MS:
        raise Unprocessable('a record\'s "x" is more than ten years ahead: no key lives that long')
    try:
        value = check_value(kind_, item["v"], slot_cap)
    except ValueError as exc:
        raise Unprocessable(f"a {kind_} record is invalid: {exc}") from exc
    if kind_ in ("registry", "legacy_registry", "top"):
        slot = int(key[4 : key.index("}")])
        slots = {page: {page_slot(page, s) for s in range(shards)} for page in value}
        if any(slot not in owned for owned in slots.values()):
            raise Unprocessable(f"a {kind_} record names a page of another slot")
    if kind_ == "path" and f":page:{page_of(value)}:" not in key:
        raise Unprocessable("a path record is not its page's")
    if expires is not None and expires <= now_ms:
        return None
    return Record(key, kind_, value, expires)


class Registries:
    """What a restore checks across records: each slot's registry given once (in either
    version's form), so a slot holds at most its share of PAGES_MAX (each record is checked
    against that share alone)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def add(self, record: Record) -> None:
        if record.kind not in ("registry", "legacy_registry"):
            return
        slot = record.key[: record.key.index("}") + 1]
        if slot in self._seen:
            raise Unprocessable("a slot's registry is given twice")
        self._seen.add(slot)


def check_trailer(line: bytes, records: int, digest: str) -> None:
    last = _json_line(line)
    if not isinstance(last, dict) or last.get("end") is not True:
        raise Unprocessable("the export ends without its closing line: it is truncated")
    if last.get("records") != records or last.get("sha256") != digest:
        raise Unprocessable("the export's checksum does not match its content: it was altered or truncated")


def encode(key: str, kind_: str, value: Any, expires_at: int | None) -> bytes:
    """One key line, as an export writes it."""
    if kind_ == "hll":
        value = base64.b64encode(value).decode()
    return json.dumps({"k": key, "v": value, "x": expires_at}, separators=(",", ":")).encode() + b"\n"


def trailer(records: int, digest: str) -> bytes:
    return json.dumps({"end": True, "records": records, "sha256": digest}).encode() + b"\n"
