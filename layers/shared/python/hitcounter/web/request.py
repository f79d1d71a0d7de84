"""Everything that reads an API Gateway event: the only module below a route that sees one.

A route turns the event into plain values here (the headers, the request's time, the visitor,
the period, a key; its body through ``hitcounter.web.bodies``) and passes those down; nothing in
``hitcounter.logic`` or ``hitcounter.data`` reads an event.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping

from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from hitcounter.core.errors import BadRequest, NotFound
from hitcounter.model import history, paths
from hitcounter.model.keys import valid_page
from hitcounter.model.visitors import Client


def headers(event: BaseProxyEvent) -> Mapping[str, str]:
    """The request headers, looked up case-insensitively: API Gateway lower-cases the names,
    ``sam local start-api`` keeps the client's case (``Accept``). Powertools' own mapping
    lower-cases them; every lookup here uses lower-case names. Powertools builds a new copy
    on every ``event.headers``; one per request is kept on the event (which lives for that
    request only), so the route, the visit and the bot check share it."""
    kept: Mapping[str, str] | None = event.__dict__.get("_request_headers")
    if kept is None:
        kept = event.__dict__["_request_headers"] = event.headers
    return kept


def request_time_ms(event: BaseProxyEvent) -> int:
    """The request's own time (``requestContext.timeEpoch``, ms): what the hit history
    buckets by, so any process gives the same answer. Events without it (hand-made ones)
    fall back to this process's clock."""
    epoch = (event.get("requestContext") or {}).get("timeEpoch")
    if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 < epoch < 2**53:
        # `sam local start-api` sends seconds (API Gateway sends milliseconds); as
        # milliseconds, a value below 10^11 would be before March 1973.
        return epoch * 1000 if epoch < 10**11 else epoch
    return time.time_ns() // 1_000_000


def period(event: BaseProxyEvent) -> history.Period:
    """``?period=`` of /stats and /dashboard: one of history.PERIODS, 30d when absent."""
    params = event.get("queryStringParameters") or {}
    name = params.get("period", history.DEFAULT_PERIOD) if isinstance(params, dict) else history.DEFAULT_PERIOD
    if name not in history.PERIODS:
        raise BadRequest(f"period must be one of {', '.join(history.PERIODS)}")
    return history.PERIODS[name]


def source_ip(event: BaseProxyEvent, edge_secret: str = "") -> str:
    """Who sent the request: API Gateway's ``sourceIp``, or, for a request that came through
    the stack's CloudFront (it carries ``X-Origin-Verify`` with the edge's secret, compared in
    constant time), the viewer's address CloudFront puts in ``CloudFront-Viewer-Address``
    (``IP:port``; an IPv6 address unbracketed). Anyone can send that header straight to the
    API: without the secret it is ignored, or it would be a way around every per-client rule."""
    context = event.get("requestContext") or {}
    direct = str((context.get("http") or {}).get("sourceIp") or "")
    if not edge_secret:
        return direct
    request_headers = headers(event)
    offered = request_headers.get("x-origin-verify") or ""
    if not hmac.compare_digest(offered.encode("utf-8", "replace"), edge_secret.encode()):
        return direct
    viewer = (request_headers.get("cloudfront-viewer-address") or "").strip()
    address, _, port = viewer.rpartition(":")
    address = address.strip("[]")
    if not port.isdigit() or not _ADDRESS.fullmatch(address):
        return direct
    return address


_ADDRESS = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def client(event: BaseProxyEvent, edge_secret: str = "") -> Client:
    """Who sent the request, as plain values (its time, its address, its agent and language
    as sent, and whether it asks not to be tracked): what the counting logic derives visitors,
    clients and bot verdicts from (``hitcounter.model.visitors``, ``hitcounter.model.bots``)."""
    request_headers = headers(event)
    private = (request_headers.get("dnt") or "").strip() == "1" or (request_headers.get("sec-gpc") or "").strip() == "1"
    return Client(
        request_time_ms(event),
        source_ip(event, edge_secret),
        request_headers.get("user-agent"),
        request_headers.get("accept-language"),
        private,
        request_headers.get("origin"),
        request_headers.get("referer"),
    )


def _preferred(request_headers: Mapping[str, str]) -> tuple[str, float]:
    """The media type the Accept header prefers, and its weight (``*/*`` loses a tie to a
    named type; no header is ``""``)."""
    accept = request_headers.get("accept") or ""
    best, best_q = "", -1.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        specific = media not in ("*/*", "")
        if q > best_q or (q == best_q and specific and best in ("*/*", "")):
            best, best_q = media, q
    return best, best_q


def wants_json(request_headers: Mapping[str, str]) -> bool:
    """True when the Accept header prefers JSON over text (``*/*`` and no header mean text)."""
    best, q = _preferred(request_headers)
    return q > 0 and best in ("application/json", "application/*")


def wants_text(request_headers: Mapping[str, str]) -> bool:
    """True when the Accept header prefers plain text (the page routes answer JSON otherwise,
    ``*/*`` and no header included)."""
    best, q = _preferred(request_headers)
    return q > 0 and best in ("text/plain", "text/*")


def idempotency_key(request_headers: Mapping[str, str]) -> str | None:
    """The request's ``Idempotency-Key``, None when absent; BadRequest when unusable."""
    key = request_headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > 255 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise BadRequest("Idempotency-Key must be 1-255 characters without control characters")
    return key


def page_id(page: str) -> str:
    """A page id from the path: 1-64 of ``[A-Za-z0-9._-]``, not ``.`` or ``..``; anything
    else is no such page, and nothing of it is echoed or stored."""
    if not valid_page(page):
        raise NotFound("no such page")
    return page


def _query(event: BaseProxyEvent) -> Mapping[str, str]:
    params = event.get("queryStringParameters") or {}
    return params if isinstance(params, dict) else {}


def stats_token(event: BaseProxyEvent) -> str | None:
    """The reader's token (``STATS_ACCESS=token``): ``Authorization: Bearer <token>``, failing
    that ``?token=`` (a share link). Never logged or echoed."""
    authorization = (headers(event).get("authorization") or "").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query_token(event)


def query_token(event: BaseProxyEvent) -> str | None:
    """``?token=``: what a share link carries, and what the dashboard's own links keep."""
    token = _query(event).get("token")
    return token if token else None


def query(event: BaseProxyEvent) -> dict[str, str]:
    """The query string's parameters, as plain values ({} when there are none)."""
    return dict(_query(event))


def limit(event: BaseProxyEvent, default: int, most: int) -> int:
    """``?limit=``: a whole number from 1 to ``most``."""
    raw = _query(event).get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= most:
        raise BadRequest(f"limit must be a whole number from 1 to {most}")
    return int(raw)


def badge_counts(event: BaseProxyEvent) -> bool:
    """``?count=false`` shows the badge without counting (a README badge viewed often)."""
    return str(_query(event).get("count", "true")).strip().lower() not in ("false", "0", "no")


def badge_label(event: BaseProxyEvent) -> str | None:
    return _query(event).get("label")


def page_param(event: BaseProxyEvent) -> tuple[str, str] | None:
    """``?page=`` of the dashboard: a page's own view, by its id or (starting with ``/``) its
    path: (the page as stored, as shown)."""
    raw = _query(event).get("page")
    if raw is None:
        return None
    return _path_page(raw) if raw.startswith("/") else (page_id(raw), raw)


def page_path(event: BaseProxyEvent) -> tuple[str, str]:
    """``?path=`` of the path routes (``/count``, ``/badge.svg``): the page named by a URL
    path, as (its id, its path in the normal form); 400 without one, 404 (nothing echoed)
    for one that cannot name a page (``hitcounter.model.paths``)."""
    raw = _query(event).get("path")
    if raw is None:
        raise BadRequest("path is required: the page's URL path, such as /2024/05/hello-world/")
    return _path_page(raw)


def stats_path(event: BaseProxyEvent) -> tuple[str, str] | None:
    """``?path=`` of ``GET /stats``: a path page's history instead of the site's."""
    raw = _query(event).get("path")
    return None if raw is None else _path_page(raw)


def _path_page(raw: str) -> tuple[str, str]:
    path = paths.normalize(raw)
    if path is None:
        raise NotFound("no such page")
    return paths.page_of(path), path
