"""Session logic between the route and the store: which cookie values are session ids,
and the first live one among them.

The id's format is checked before Redis is touched, so a forged or garbled cookie costs no
round trip. The id itself is a bearer secret: it is never logged or echoed.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from hitcounter.core.errors import Unauthorized
from hitcounter.data.session_store import Session


class SessionKeeper(Protocol):
    """What the session logic needs of a store (``hitcounter.data.session_store.SessionStore``;
    the unit tests pass a fake)."""

    ttl: int

    def visit(self, sid: str) -> Session | None: ...
    def replace_data(self, sid: str, data: dict[str, Any]) -> Session | None: ...
    def delete(self, sid: str) -> bool: ...


# The __Host- prefix: a browser keeps it only when Secure, for Path=/ and with no Domain,
# so no subdomain and no plain-HTTP page can set or shadow the session cookie.
COOKIE = "__Host-sid"
MAX_DATA_BYTES = 4096  # the serialised `data` object
_SID = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 base64url characters


MAX_CANDIDATES = 4  # sid cookies tried per request: each costs a round trip


def session_ids(cookies: list[str] | None) -> list[str]:
    """The well-formed ``sid`` values of the request, in order, or Unauthorized. A browser can
    send several (a stale one for a wider path first, RFC 6265 5.4): each is tried in turn,
    and the first live one wins."""
    found: list[str] = []
    for cookie in cookies or []:
        for part in cookie.split(";"):  # tolerate a Cookie header passed as one string
            name, sep, value = part.strip().partition("=")
            value = value.strip()
            if sep and name.strip() == COOKIE and _SID.fullmatch(value) and value not in found:
                found.append(value)
    if not found:
        raise Unauthorized()
    return found[:MAX_CANDIDATES]


def visit(store: SessionKeeper, cookies: list[str] | None) -> dict[str, Any]:
    for sid in session_ids(cookies):
        found = store.visit(sid)  # writes only to a live session
        if found is not None:
            return {"visits": found.visits, "data": found.data, "expires_in": store.ttl}
    raise Unauthorized()


def replace(store: SessionKeeper, cookies: list[str] | None, data: dict[str, Any]) -> dict[str, Any]:
    for sid in session_ids(cookies):
        found = store.replace_data(sid, data)
        if found is not None:
            return {"visits": found.visits, "data": found.data, "expires_in": store.ttl}
    raise Unauthorized()


def end(store: SessionKeeper, cookies: list[str] | None) -> None:
    for sid in session_ids(cookies):
        if store.delete(sid):
            return
    raise Unauthorized()
