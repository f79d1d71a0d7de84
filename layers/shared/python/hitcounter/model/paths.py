"""Pages named by a URL path (``GET /count?path=/2024/05/hello-world/``): one normal form, so
two spellings of one path are one page, and the page id a path is stored under. Pure
functions, no I/O.

The normal form (docs/pages.md, "Pages named by their path"), in order:

1. it starts with ``/``; a query (``?…``) or fragment (``#…``) is cut off;
2. percent-encoding is normalised as RFC 3986 (6.2.2) says: an encoded unreserved character
   (``A-Z a-z 0-9 - . _ ~``) is decoded, every other escape is written with upper-case hex,
   a ``%`` that starts no escape is written ``%25``; a character a URL path may not hold as
   it is (a space, a non-ASCII letter, ``"<>\\^`{|}``) is percent-encoded as UTF-8, the way
   a browser's ``location.pathname`` spells it;
3. ``.`` and ``..`` segments are resolved (RFC 3986 5.2.4) and repeated ``/`` collapsed;
4. the result is at most ``MAX_PATH_BYTES``.

Refused (no such page): no leading ``/``; an escape sequence that is not UTF-8; a control,
format (bidi, zero-width) or separator character, raw or encoded; anything longer.

Keys never hold the path: a path page is stored under ``~`` and the first 128 bits of the
SHA-256 of its normal form (``page_of``), a name no id page can have (ids are
``[A-Za-z0-9._-]``), and the path itself is kept once, for display, beside its count.
"""

from __future__ import annotations

import hashlib
import re
import string

from hitcounter.model.keys import PATH_PAGE, refused_key_class

MAX_PATH_BYTES = 256
MAX_RAW_CHARS = 4096  # what is read of a path at all before it is refused (bounded work)

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# What a path segment may hold as it is (RFC 3986 pchar, and "/"): kept literal.
_LITERAL = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HEX = frozenset("0123456789abcdefABCDEF")
_REFUSED = re.compile(f"[{refused_key_class()}]")


def _escape(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))


def normalize(raw: str) -> str | None:
    """The normal form of ``raw``, or None when it cannot name a page."""
    if not raw.startswith("/") or len(raw) > MAX_RAW_CHARS:
        return None
    raw = raw.split("#", 1)[0].split("?", 1)[0]
    spelled: list[str] = []  # the normal form's characters and escapes
    decoded = bytearray()  # every escape decoded: what must be UTF-8 without a control character
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "%" and i + 2 < len(raw) and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            byte = int(raw[i + 1 : i + 3], 16)
            decoded.append(byte)
            spelled.append(chr(byte) if chr(byte) in _UNRESERVED else f"%{byte:02X}")
            i += 3
            continue
        try:
            encoded = char.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no URL holds one
            return None
        decoded += encoded
        spelled.append(char if char in _LITERAL else _escape(char))
        i += 1
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _REFUSED.search(text):
        return None
    path = _resolve("".join(spelled))
    return path if len(path.encode("utf-8")) <= MAX_PATH_BYTES else None


def _resolve(path: str) -> str:
    """``.`` and ``..`` segments removed, repeated ``/`` collapsed; a trailing ``/`` kept."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
            continue
        if last:
            kept.append("")
    return "/" + "/".join(kept)


def page_of(path: str) -> str:
    """The page id a path (in its normal form) is stored under."""
    return "~" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:32]


def is_path_page(page: str) -> bool:
    return bool(PATH_PAGE.fullmatch(page))
