"""The bodies a route reads out of an API Gateway event: checked JSON (size, depth, numbers,
encoding) and what each route's body must be (a session's data, an import's or a restore's
object, a page's starting count). Part of reading the event (``hitcounter.web.request`` reads
the rest of it)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from hitcounter.core.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from hitcounter.logic.sessions import MAX_DATA_BYTES
from hitcounter.model.keys import import_key as validate_key
from hitcounter.web.request import headers

MAX_JSON_DEPTH = 32
# JSON strings (with their escapes) taken out before brackets are counted for the depth check.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, found without parsing (so a 40 KB body of
    brackets costs a scan, not a RecursionError deep inside the json module)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def json_body(event: BaseProxyEvent, max_bytes: int) -> Any:
    """The one JSON body reader of every route. Refuses, with the documented status and
    without echoing anything back:

    * 415 when the body is not ``application/json``;
    * 413 when it is larger than ``max_bytes`` of UTF-8 (before it is parsed);
    * 400 when it does not decode (bad base64, not UTF-8, not JSON, ``NaN``/``Infinity``,
      which Python's json accepts and no other parser does) or nests deeper than
      ``MAX_JSON_DEPTH``;
    * 422 when it is JSON whose content cannot be kept: a number too large to be finite
      (``1e999``), or a string with a lone surrogate (``"\\ud800"``), which no UTF-8 store
      or S3 key can hold.
    """
    media = (headers(event).get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType()
    raw = event.body or ""
    if len(raw) > max_bytes * 2:  # base64 or not, far too large: not even decoded
        raise PayloadTooLarge()
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode("utf-8")
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
        text = data.decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise BadRequest("the body is not valid JSON") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:  # a float that overflowed to infinity
        raise Unprocessable("numbers must be finite") from None
    except UnicodeEncodeError:
        raise Unprocessable("strings must be valid Unicode (no lone surrogates)") from None
    return value


def utf8_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: what a limit on stored JSON counts."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


_MAX_SESSION_BODY = 64 * 1024  # refuse anything this large before parsing it
_MAX_IMPORT_BODY = 16 * 1024
MAX_SEED_BODY = 1024


def session_data(event: BaseProxyEvent) -> dict[str, Any]:
    """The PUT /session body as a small JSON object, or the error that says what is wrong."""
    value = json_body(event, _MAX_SESSION_BODY)
    if not isinstance(value, dict):
        raise Unprocessable("the body must be a JSON object")
    if utf8_size(value) > MAX_DATA_BYTES:
        raise PayloadTooLarge(f"data must be at most {MAX_DATA_BYTES} bytes as UTF-8 JSON")
    return value


def import_key(event: BaseProxyEvent, prefix: str) -> str:
    """The object key from a ``POST /restores`` body, or the error saying what is wrong."""
    payload = json_body(event, _MAX_IMPORT_BODY)
    key = payload.get("key") if isinstance(payload, dict) else None
    return validate_key(key, prefix)


def import_order(event: BaseProxyEvent, logs_prefix: str) -> tuple[str, str | None]:
    """``POST /imports``' body: an access log's key under ``logs_prefix``, or, with a
    ``format`` (``hitcounter.logic.counter_exports.FORMATS``), another counter's export under
    ``imports/``; the error saying what is wrong otherwise."""
    from hitcounter.logic.counter_exports import FORMATS, PREFIX

    payload = json_body(event, _MAX_IMPORT_BODY)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    key = payload.get("key") if isinstance(payload, dict) else None
    if fmt is None:
        return validate_key(key, logs_prefix), None
    if fmt not in FORMATS:
        raise Unprocessable(f'"format" is one of {", ".join(FORMATS)} (none: an access log under {logs_prefix!r})')
    return validate_key(key, PREFIX), str(fmt)
