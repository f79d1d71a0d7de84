"""Session logic between HTTP and the store: the cookie, the id's format, the body rules.

The id's format is checked before Redis is touched, so a forged or garbled cookie costs no
round trip. The id itself is a bearer secret: it is never logged or echoed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from hitcounter import http
from hitcounter.errors import PayloadTooLarge, Unauthorized, Unprocessable
from hitcounter.store import SessionStore

COOKIE = "sid"
MAX_DATA_BYTES = 4096  # the serialised `data` object
_MAX_BODY_BYTES = 64 * 1024  # refuse anything this large before parsing it
_SID = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 base64url characters


def session_id(cookies: list[str] | None) -> str:
    """The well-formed ``sid`` from the request's cookies, or Unauthorized."""
    for cookie in cookies or []:
        name, sep, value = cookie.strip().partition("=")
        if sep and name.strip() == COOKIE:
            value = value.strip()
            if _SID.fullmatch(value):
                return value
            break
    raise Unauthorized()


def session_cookie(sid: str, ttl: int) -> Cookie:
    return Cookie(
        name=COOKIE, value=sid, path="/", secure=True, http_only=True, max_age=ttl, same_site=SameSite.LAX_MODE
    )


def cleared_cookie() -> Cookie:
    return Cookie(name=COOKIE, value="", path="/", secure=True, http_only=True, max_age=0, same_site=SameSite.LAX_MODE)


def parse_data(event: BaseProxyEvent) -> dict[str, Any]:
    """The PUT body as a small JSON object, or the error that says what is wrong with it."""
    value = http.json_body(event, _MAX_BODY_BYTES)
    if not isinstance(value, dict):
        raise Unprocessable("the body must be a JSON object")
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_DATA_BYTES:
        raise PayloadTooLarge(f"data must be at most {MAX_DATA_BYTES} bytes as JSON")
    return value


def visit(store: SessionStore, cookies: list[str] | None) -> dict[str, Any]:
    found = store.visit(session_id(cookies))
    if found is None:
        raise Unauthorized()
    return {"visits": found.visits, "data": found.data, "expires_in": store.ttl}


def replace(store: SessionStore, cookies: list[str] | None, data: dict[str, Any]) -> dict[str, Any]:
    found = store.replace_data(session_id(cookies), data)
    if found is None:
        raise Unauthorized()
    return {"visits": found.visits, "data": found.data, "expires_in": store.ttl}


def end(store: SessionStore, cookies: list[str] | None) -> None:
    if not store.delete(session_id(cookies)):
        raise Unauthorized()
