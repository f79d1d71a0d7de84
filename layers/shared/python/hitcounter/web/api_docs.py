"""What the OpenAPI document says about each route, next to the code that serves it.

Route decorators take ``responses`` from here; ``python -m devtools.openapi`` asks
Powertools for each function's document, adds the request parameters and bodies below,
and writes ``hitcounter/web/openapi.json``, which ``GET /openapi.json`` serves as it is (so no
function imports Pydantic at run time). A test fails when the file and the code disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the types module is light, but nothing of openapi/ is needed at run time
    from aws_lambda_powertools.event_handler.openapi.types import (
        OpenAPIResponse,
        OpenAPIResponseContentSchema,
        OpenAPIResponseHeader,
    )

Schema = dict[str, Any]

_ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_HITS: Schema = {"type": "object", "required": ["hits"], "properties": {"hits": {"type": "integer", "minimum": 0}}}
_SESSION: Schema = {
    "type": "object",
    "required": ["visits", "data", "expires_in"],
    "properties": {
        "visits": {"type": "integer", "minimum": 0},
        "data": {"type": "object"},
        "expires_in": {"type": "integer", "minimum": 1},
    },
}
_SET_COOKIE: dict[str, OpenAPIResponseHeader] = {
    "Set-Cookie": {
        "description": "__Host-sid=…; Path=/; Max-Age=…; HttpOnly; Secure; SameSite=Lax",
        "schema": {"type": "string"},
    }
}


def _json(description: str, schema: Schema, headers: dict[str, Any] | None = None) -> OpenAPIResponse:
    response: OpenAPIResponse = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str) -> OpenAPIResponse:
    return _json(description, _ERROR)


_UNAVAILABLE = {
    503: _json(
        "Redis is unreachable; retry after the given seconds",
        _ERROR,
        {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    ),
}
_UNAUTHORIZED = {401: _error("No live session (no cookie, or an unknown, expired or malformed id)")}

COUNT_HIT: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The hit was counted (or, for a replayed Idempotency-Key, was counted before)",
        "content": {
            "text/plain": {"schema": {"type": "string", "pattern": "^Hello World! [0-9]+ times\\.$"}},
            "application/json": {"schema": _HITS},
        },
        "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}},
    },
    400: _error("Unusable Idempotency-Key"),
    **_UNAVAILABLE,
}
# The reads, with STATS_ACCESS=token (docs/operating.md).
PRIVATE = {401: _error("STATS_ACCESS=token: no token (Authorization: Bearer, or ?token=), or not one of the owner's")}
READ_HITS: dict[int, OpenAPIResponse] = {
    200: _json("The current count; nothing is counted", _HITS),
    **PRIVATE,
    **_UNAVAILABLE,
}
_SERIES_POINT: Schema = {
    "type": "object",
    "required": ["start", "hits"],
    "properties": {
        "start": {"type": "string", "format": "date-time", "description": "The bucket's start, UTC"},
        "hits": {"type": "integer", "minimum": 0},
        "uniques": {"type": "integer", "minimum": 0, "description": "Day buckets only"},
    },
}
_COUNT: Schema = {"type": "integer", "minimum": 0}
STATS: dict[int, OpenAPIResponse] = {
    200: _json(
        "The period's hits per bucket (minutes for 1h, hours for 48h, days otherwise, UTC, oldest first), its unique "
        "visitors (HyperLogLog, about 0.81% error), today's, and the all-time total; nothing is counted",
        {
            "type": "object",
            "required": ["period", "unit", "total", "hits", "uniques", "today", "series"],
            "properties": {
                "period": {"type": "string", "enum": ["1h", "48h", "30d", "1y"]},
                "unit": {"type": "string", "enum": ["minute", "hour", "day"]},
                "total": _COUNT,
                "hits": _COUNT,
                "uniques": _COUNT,
                "today": {
                    "type": "object",
                    "required": ["hits", "uniques"],
                    "properties": {"hits": _COUNT, "uniques": _COUNT},
                },
                "series": {"type": "array", "items": _SERIES_POINT, "maxItems": 365},
            },
        },
    ),
    400: _error("An unknown period, or a limit outside 1-50"),
    404: _error("?path= names no page (not a usable path, or nobody counted it)"),
    **PRIVATE,
    **_UNAVAILABLE,
}
# ?format=csv (hitcounter.web.csv_answers): the same read as a spreadsheet's file.
_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "json (the default) or csv: a header row, then a row per bucket (start, hits, uniques) or page",
    "schema": {"type": "string", "enum": ["json", "csv"]},
}
CSV_CONTENT: dict[str, OpenAPIResponseContentSchema] = {"text/csv": {"schema": {"type": "string"}}}
STATS[200]["content"] = {**STATS[200]["content"], **CSV_CONTENT}

DASHBOARD: dict[int, OpenAPIResponse] = {
    200: {
        "description": "One HTML page: totals, today, a chart of the period, the latest imports (no script)",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    400: _error("An unknown period"),
    404: _error("?page= names no page"),
    **PRIVATE,
    **_UNAVAILABLE,
}
COUNT_JS: dict[int, OpenAPIResponse] = {
    200: {
        "description": "count.js: counts location.pathname (or the script tag's data-path) once per view, with an "
        "Idempotency-Key per view, through GET /count; follows pushState, replaceState and popstate; fills every "
        "[data-hitcounter] element; localStorage hitcounter:ignore = 1 stops it; never throws",
        "content": {"text/javascript": {"schema": {"type": "string"}}},
    }
}
LIVENESS: dict[int, OpenAPIResponse] = {
    200: _json("The function runs", {"type": "object", "properties": {"status": {"const": "ok"}}})
}
READINESS: dict[int, OpenAPIResponse] = {
    200: _json(
        "Redis answered a PING",
        {
            "type": "object",
            "required": ["status", "redis_ms"],
            "properties": {"status": {"const": "ok"}, "redis_ms": {"type": "number", "minimum": 0}},
        },
    ),
    **_UNAVAILABLE,
}
START_SESSION: dict[int, OpenAPIResponse] = {
    201: _json(
        "A session started",
        {"type": "object", "required": ["expires_in"], "properties": {"expires_in": {"type": "integer", "minimum": 1}}},
        _SET_COOKIE,
    ),
    **_UNAVAILABLE,
}
VISIT_SESSION: dict[int, OpenAPIResponse] = {
    200: _json("The visit was counted and the TTL slid", _SESSION),
    **_UNAUTHORIZED,
    **_UNAVAILABLE,
}
REPLACE_SESSION: dict[int, OpenAPIResponse] = {
    200: _json("data was replaced and the TTL slid", _SESSION),
    400: _error("The body is not valid JSON (NaN and Infinity are not JSON), or nests too deeply"),
    **_UNAUTHORIZED,
    413: _error("data is larger than 4 KiB as UTF-8 JSON"),
    415: _error("The body is not application/json"),
    422: _error("The body is not a JSON object, or holds a number too large or a lone surrogate"),
    **_UNAVAILABLE,
}
END_SESSION: dict[int, OpenAPIResponse] = {
    204: {"description": "The session ended; the cookie is cleared", "headers": _SET_COOKIE},
    **_UNAUTHORIZED,
    **_UNAVAILABLE,
}
OPENAPI: dict[int, OpenAPIResponse] = {
    200: _json("This document", {"type": "object", "required": ["openapi", "paths"]})
}

_SID_COOKIE = {
    "name": "__Host-sid",
    "in": "cookie",
    "required": False,
    "description": "The session id set by POST /session",
    "schema": {"type": "string"},
}

_PERIOD = {
    "name": "period",
    "in": "query",
    "required": False,
    "description": "1h (by minute), 48h (by hour), 30d (by day, the default) or 1y (by day)",
    "schema": {"type": "string", "enum": ["1h", "48h", "30d", "1y"], "default": "30d"},
}

# Request parameters and bodies, by (method, path): Powertools derives these only from
# validated signatures, which would put Pydantic on the functions' import path.
PARAMETERS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("get", "/"): [
        {
            "name": "Accept",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": 'application/json for {"hits": N}; anything else gives text/plain',
        },
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retries with the same key count once and return the same N "
            "(1-255 characters, no control characters)",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\x00-\\x1f\\x7f]+$"},
        },
    ],
    ("get", "/stats"): [
        _PERIOD,
        _FORMAT,
        {
            "name": "path",
            "in": "query",
            "required": False,
            "description": "a page's URL path: that path page's history (the shape of /pages/{page}/stats) instead of "
            "the site's; 404 for a path that cannot name a page or a page nobody counted",
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "with ?path=: how many referring hosts (default 10)",
            "schema": {"type": "integer", "minimum": 1, "maximum": 50},
        },
    ],
    ("get", "/dashboard"): [
        _PERIOD,
        {
            "name": "page",
            "in": "query",
            "required": False,
            "description": "one page's view: its id, or its URL path (starting with /)",
            "schema": {"type": "string"},
        },
    ],
    ("get", "/session"): [_SID_COOKIE],
    ("put", "/session"): [_SID_COOKIE],
    ("delete", "/session"): [_SID_COOKIE],
}


REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/session"): {
        "required": True,
        "description": "The new data: a JSON object, at most 4 KiB serialised",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}
