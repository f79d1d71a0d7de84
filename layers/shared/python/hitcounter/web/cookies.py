"""The session cookie as the browser gets it (Powertools' Cookie: one ``Set-Cookie``)."""

from __future__ import annotations

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from hitcounter.logic.sessions import COOKIE


def session_cookie(sid: str, ttl: int) -> Cookie:
    return Cookie(
        name=COOKIE, value=sid, path="/", secure=True, http_only=True, max_age=ttl, same_site=SameSite.LAX_MODE
    )


def cleared_cookie() -> Cookie:
    return Cookie(name=COOKIE, value="", path="/", secure=True, http_only=True, max_age=0, same_site=SameSite.LAX_MODE)
