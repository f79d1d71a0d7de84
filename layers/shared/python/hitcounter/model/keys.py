"""The key scheme: every key beside a counter shard lives under that shard's hash tag, so a
multi-key step (a script, an MGET) stays in one slot on cluster mode and ElastiCache
Serverless. Pure functions: no I/O."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from hitcounter.core.errors import Unprocessable


def hits_tag(shards: int, shard: int) -> str:
    """The hash tag of a counter shard: ``{hits}`` unsharded, ``{hits:i}`` for shard i."""
    return "{hits}" if shards == 1 else f"{{hits:{shard}}}"


def hits_key(prefix: str, shards: int, shard: int, name: str) -> str:
    """Every key that lives beside a counter shard, under its hash tag: the count itself,
    idempotency records, import summaries. One place, so multi-key steps share a slot."""
    return f"{prefix}{hits_tag(shards, shard)}:{name}"


def shard_of(value: str, shards: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) % shards


# The characters an import key may not hold, by Unicode category: controls (C0 and C1, such
# as U+0085 and U+009B), format characters (bidi overrides such as U+202E, zero-width and
# tag characters), surrogates, private use, and the line and paragraph separators (Cc, Cf,
# Cs, Co, Zl, Zp). Each can make a key read as another one in a log, a console or the
# dashboard. Written out as code point ranges (Unicode 15.1, Python 3.13's), so the check and
# the OpenAPI document share them; a unit test derives them from ``unicodedata`` again.
REFUSED_KEY_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xF8FF),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xF0000, 0xFFFFD),
    (0x100000, 0x10FFFD),
)  # fmt: skip


def refused_key_class(*, surrogates: bool = True) -> str:
    """The refused characters as a regular expression's class body: ``\\uXXXX`` for the Basic
    Multilingual Plane, the characters themselves beyond it, which both Python's ``re`` and
    ECMA-262 (JSON Schema's ``pattern``) read the same way. ``surrogates=False`` leaves the
    surrogates out: no decoded JSON string holds one alone, and Rust's regex (schemathesis's
    validator) refuses them in a class."""

    def char(cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else chr(cp)

    parts = []
    for first, high in REFUSED_KEY_RANGES:
        low = 0xE000 if not surrogates and first <= 0xDFFF <= high else first
        parts.append(char(low) if low == high else f"{char(low)}-{char(high)}")
    return "".join(parts)


# Pages (``/pages/{page}``): an id is what a site owner names a page, and becomes part of a
# Redis key, so it is a narrow ASCII set, never "." or "..".
PAGE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Pages spread over this many hash tags (slots), each with its own registry and top-pages
# index beside its pages' keys, so a page hit stays one script in one slot while pages spread
# over a cluster's shards (a busy site is no longer one hot key).
PAGE_SLOTS = 64


def slot_cap(pages_max: int) -> int:
    """The pages one slot may register: its share of PAGES_MAX (a page hit and a restore
    keep the same bound)."""
    return -(-pages_max // PAGE_SLOTS)


# A page named by a URL path is stored under "~" and a digest of its normal form
# (``hitcounter.model.paths``): a name no id can take.
PATH_PAGE = re.compile(r"~[0-9a-f]{32}")


def valid_page(page: str) -> bool:
    """An id a route takes (``/pages/{page}``)."""
    return bool(PAGE_ID.fullmatch(page)) and page not in (".", "..")


def stored_page(page: str) -> bool:
    """A page as the store names it: an id, or a path page's digest."""
    return valid_page(page) or bool(PATH_PAGE.fullmatch(page))


@lru_cache(maxsize=8192)
def page_slot(page: str, shard: int = 0) -> int:
    """The slot of a page's ``shard``: its own slot, then (``HITS_SHARDS`` > 1, a hot page
    spread over several) the slots after it. Kept for the last 8,192 (page, shard) pairs: a
    hit names about ten keys of its page, each needing the slot (a SHA-256 otherwise)."""
    return (shard_of(page, PAGE_SLOTS) + shard) % PAGE_SLOTS


def page_tag_key(prefix: str, slot: int, name: str) -> str:
    """A key beside the pages of ``slot``: its registry, its top-pages index, its salt."""
    return f"{prefix}{{pg:{slot}}}:{name}"


def page_key(prefix: str, page: str, name: str, shard: int = 0) -> str:
    """A key of one page's shard (``count``, ``m:…``, ``u:…``), under that shard's slot."""
    return page_tag_key(prefix, page_slot(page, shard), f"page:{page}:{name}")


MAX_IMPORT_KEY_CHARS = 256
_REFUSED = re.compile(f"[{refused_key_class()}]")


def import_key(key: object, prefix: str) -> str:
    """An S3 key as an import (an access log) or a restore (an export) may take it, or the
    error saying what is wrong."""
    if not isinstance(key, str) or not key:
        raise Unprocessable(f'"key" is required: the S3 key of an object under {prefix!r}')
    # 256 characters are at most 1024 bytes in UTF-8: always a valid S3 key. The key is never
    # a local path (the download is always saved as "object"), so ".." is only a name.
    if len(key) > MAX_IMPORT_KEY_CHARS or _REFUSED.search(key):
        raise Unprocessable(
            f'"key" must be at most {MAX_IMPORT_KEY_CHARS} characters of Unicode text: no control, format (bidi, '
            "zero-width), surrogate, private-use or separator characters"
        )
    if not key.startswith(prefix):
        raise Unprocessable(f'"key" must be under {prefix!r}')
    return key
