"""What each value of an export may be (``hitcounter.model.snapshot`` says which keys are
exported and of what kind): the check of each kind, the HyperLogLog's own format, an
import summary field by field. Pure functions: no I/O."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from hitcounter.model.bots import REASONS
from hitcounter.model.keys import stored_page
from hitcounter.model.paths import normalize
from hitcounter.model.referrers import HOSTS_PER_DAY, OTHER, kept_host

# A count a restore takes: JSON's safe integers (2^53). Redis's own stop at 2^63-1, and a count
# restored there would overflow on the next hit; no real counter comes near either.
MAX_COUNT = 2**53
MAX_SUMMARY_BYTES = 16 * 1024
HLL_REGISTERS = 16384
HLL_DENSE_BYTES = 16 + HLL_REGISTERS * 6 // 8
# A dense register holds the length of a run of zeros plus one, counted in the hash's 50 bits
# left after the register index (hyperloglog.c: HLL_Q = 64 - 14): at most 51. The 6-bit field
# takes up to 63, and PFCOUNT over a register above 51 answers nonsense (a negative count).
HLL_MAX_REGISTER = 51


def valid_hll(raw: bytes) -> bool:
    """Whether ``raw`` is a HyperLogLog Redis can read: the "HYLL" header, then either the
    dense registers (exactly 12,288 bytes) or sparse opcodes covering exactly 16,384
    registers (ZERO, XZERO and VAL, as Redis's hyperloglog.c reads them). Redis itself
    checks a sparse one only when it is counted, and then answers an error: a restore must
    never store one it would refuse."""
    if len(raw) < 16 or raw[:4] != b"HYLL" or raw[5:8] != b"\0\0\0":
        return False
    if raw[4] == 0:
        return len(raw) == HLL_DENSE_BYTES and _dense_registers_ok(raw[16:])
    if raw[4] != 1:
        return False
    covered, i = 0, 16
    while i < len(raw):
        op = raw[i]
        if op & 0x80:  # VAL: 1vvvvvxx
            covered += (op & 0x3) + 1
            i += 1
        elif op & 0x40:  # XZERO: 01xxxxxx yyyyyyyy
            if i + 1 >= len(raw):
                return False
            covered += (((op & 0x3F) << 8) | raw[i + 1]) + 1
            i += 2
        else:  # ZERO: 00xxxxxx
            covered += (op & 0x3F) + 1
            i += 1
        if covered > HLL_REGISTERS:
            return False
    return covered == HLL_REGISTERS


def _dense_registers_ok(registers: bytes) -> bool:
    """Every 6-bit register (packed little-endian, as hyperloglog.c's HLL_DENSE_GET_REGISTER
    reads them) at most HLL_MAX_REGISTER: four registers in each three bytes."""
    value = int.from_bytes(registers, "little")
    for _ in range(HLL_REGISTERS):
        if value & 0x3F > HLL_MAX_REGISTER:
            return False
        value >>= 6
    return True


def recount(raw: bytes) -> bytes:
    """The HyperLogLog with its cached cardinality marked stale, so Redis counts its
    registers again rather than trust a number written in a file."""
    return raw[:15] + bytes([raw[15] | 0x80]) + raw[16:]


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError("a count is a whole number from 0 to 2^53")
    return value


# An import summary as the import worker writes it (GET /imports/{id} answers it, and the
# dashboard shows the latest): each field's type, so a file cannot plant one a reader would
# choke on.
_SUMMARY_COUNTS = ("lines", "counted", "malformed", "long_lines", "bytes", "decompressed_bytes", "untimed")
_SUMMARY_TEXTS = ("key", "etag", "imported_at")
_SUMMARY_IDS = {"id": 32, "duplicate_of": 32, "sha256": 64}
_SUMMARY_FIELDS = {*_SUMMARY_COUNTS, *_SUMMARY_TEXTS, *_SUMMARY_IDS, "top_paths"}


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(json.dumps(value)) > MAX_SUMMARY_BYTES:
        raise ValueError("a summary is a JSON object of at most 16 KiB")
    if not set(value) <= _SUMMARY_FIELDS or not {"id", "key", "counted"} <= set(value):
        raise ValueError("a summary holds an import's fields, and at least its id, key and count")
    for name in _SUMMARY_COUNTS:
        if name in value:
            _count(value[name])
    if not all(isinstance(value[name], str) for name in _SUMMARY_TEXTS if name in value):
        raise ValueError("a summary's key, etag and time are text")
    for name, size in _SUMMARY_IDS.items():
        if name in value and not (isinstance(value[name], str) and re.fullmatch(f"[0-9a-f]{{{size}}}", value[name])):
            raise ValueError(f"a summary's {name} is {size} hex digits")
    paths = value.get("top_paths", [])
    if not isinstance(paths, list) or len(paths) > 10 or not all(_top_path(p) for p in paths):
        raise ValueError("a summary's top paths are at most 10 of {path, requests}")
    return value


def _top_path(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and set(item) == {"path", "requests"}
        and isinstance(item["path"], str)
        and len(item["path"]) <= 256
        and isinstance(item["requests"], int)
        and not isinstance(item["requests"], bool)
        and item["requests"] >= 0
    )


def _scores(value: Any, member_ok: Any) -> dict[str, int]:
    if not isinstance(value, dict) or not all(isinstance(m, str) and member_ok(m) for m in value):
        raise ValueError("a sorted set is an object of allowed members")
    return {member: _count(score) for member, score in value.items()}


def _hll(value: Any) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except binascii.Error:
        raw = b""
    if not valid_hll(raw):
        raise ValueError("not a HyperLogLog Redis can read")
    return recount(raw)


def _content(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value):
        raise ValueError("a content record names an import id")
    return value


def _recent(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 0 < len(value) <= 10:
        raise ValueError("the recent imports are 1 to 10 summaries")
    return [_object(item) for item in value]


def _registry(value: Any, slot_cap: int) -> dict[str, int]:
    """A slot's registry: each page id with the time of its last counted hit (epoch ms)."""
    if not isinstance(value, dict) or not 0 < len(value) <= slot_cap:
        raise ValueError("a slot's registry holds 1 to its share of PAGES_MAX page ids")
    if not all(isinstance(p, str) and stored_page(p) for p in value):
        raise ValueError("a registry holds page ids")
    return {page: _count(at) for page, at in value.items()}


def _legacy_registry(value: Any, slot_cap: int) -> list[str]:
    """A slot's registry as version 1 wrote it (before pages expired): its page ids, each once."""
    if not isinstance(value, list) or not 0 < len(value) <= slot_cap:
        raise ValueError("a slot's registry holds 1 to its share of PAGES_MAX page ids")
    if not all(isinstance(p, str) and stored_page(p) for p in value):
        raise ValueError("a registry holds page ids")
    if len(set(value)) != len(value):
        raise ValueError("a registry names a page twice")
    return sorted(value)


def _path(value: Any) -> str:
    """A path page's path, in its normal form (its key's id must be that path's: the record
    check holds it to that)."""
    if not isinstance(value, str) or normalize(value) != value:
        raise ValueError("a page's path is a URL path in its normal form")
    return value


def _referrers(value: Any) -> dict[str, int]:
    """A page's referring hosts of a day: at most HOSTS_PER_DAY hosts in their normal form,
    and ``other``."""
    if isinstance(value, dict) and len(value) > HOSTS_PER_DAY + 1:
        raise ValueError(f"a day's referrers hold at most {HOSTS_PER_DAY} hosts and other")
    return _scores(value, lambda m: m == OTHER or kept_host(m))


_CHECKS: dict[str, Any] = {
    "count": lambda value, _: _count(value),
    "hll": lambda value, _: _hll(value),
    "summary": lambda value, _: _object(value),
    "content": lambda value, _: _content(value),
    "recent": lambda value, _: _recent(value),
    "registry": _registry,
    "legacy_registry": _legacy_registry,
    "top": lambda value, _: _scores(value, stored_page),
    "path": lambda value, _: _path(value),
    "bots": lambda value, _: _scores(value, lambda m: m in REASONS),
    "referrers": lambda value, _: _referrers(value),
}


def check_value(kind_: str, value: Any, slot_cap: int) -> Any:
    """The value as it will be written, or ValueError saying what is wrong with it."""
    return _CHECKS[kind_](value, slot_cap)
