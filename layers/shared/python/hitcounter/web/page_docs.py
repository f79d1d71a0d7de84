"""What the OpenAPI document says of the page routes (``functions/pages``); the shared
helpers and every other route are in ``hitcounter.web.api_docs``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hitcounter.model.bots import REASONS
from hitcounter.model.keys import PAGE_ID
from hitcounter.web.api_docs import _ERROR, _UNAVAILABLE, CSV_CONTENT, PRIVATE, Schema, _error, _json

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

_COUNT: Schema = {"type": "integer", "minimum": 0}
_PAGE_ID: Schema = {"type": "string", "pattern": f"^{PAGE_ID.pattern}$", "not": {"enum": [".", ".."]}}
_PAGES_FULL = {507: _error("A new page past PAGES_MAX: refused, nothing stored (existing pages go on counting)")}
_NO_PAGE = {404: _error("No such page, or an id that is not 1-64 of [A-Za-z0-9._-] (never echoed)")}
# A page named by its URL path, in the normal form (docs/pages.md): what the path routes answer.
_PATH: Schema = {"type": "string", "pattern": "^/", "maxLength": 256}
_NO_PATH = {404: _error("A path that cannot name a page: no leading /, not UTF-8, a control character, too long")}

_INT_HEADER: OpenAPIResponseHeader = {"schema": {"type": "integer", "minimum": 0}}
_RATE_HEADERS: dict[str, OpenAPIResponseHeader] = {
    "RateLimit-Limit": {"description": "RATE_LIMIT_PER_MINUTE", **_INT_HEADER},
    "RateLimit-Remaining": {"description": "Counted hits this client has left this minute", **_INT_HEADER},
    "RateLimit-Reset": {"description": "Seconds until the minute's window ends", **_INT_HEADER},
    "RateLimit-Policy": {"schema": {"type": "string"}},
}
_BOTS: Schema = {
    "type": "object",
    "required": ["total", "by_reason"],
    "properties": {
        "total": _COUNT,
        "by_reason": {
            "type": "object",
            "propertyNames": {"enum": sorted(REASONS)},
            "additionalProperties": _COUNT,
        },
    },
}

_REFERRERS: Schema = {
    "type": "array",
    "maxItems": 50,
    "items": {
        "type": "object",
        "required": ["host", "hits"],
        "properties": {
            "host": {"type": "string", "description": "a referring host (lower-case, no www.), or other"},
            "hits": _COUNT,
        },
    },
}
PAGE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The page's hit was counted (or, for a replayed Idempotency-Key, was counted before); a "
        "reload within DEDUPE_SECONDS or a bot counts nothing and gets the current count",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["page", "hits"],
                    "properties": {"page": _PAGE_ID, "hits": _COUNT},
                }
            },
            "text/plain": {"schema": {"type": "string", "pattern": "^Hello World! [0-9]+ times\\.$"}},
        },
        "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}, **_RATE_HEADERS},
    },
    400: _error("Unusable Idempotency-Key"),
    **_NO_PAGE,
    429: _json(
        "This client counted RATE_LIMIT_PER_MINUTE page hits this minute: nothing counted",
        _ERROR,
        {"Retry-After": _INT_HEADER, **_RATE_HEADERS},
    ),
    **_PAGES_FULL,
    **_UNAVAILABLE,
}
COUNT: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The hit of the page named by ?path= was counted (as GET /pages/{page} counts); the page is "
        "answered by its path in the normal form",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["page", "hits"],
                    "properties": {"page": _PATH, "hits": _COUNT},
                }
            }
        },
        "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}, **_RATE_HEADERS},
    },
    400: _error("No ?path=, or an unusable Idempotency-Key"),
    **_NO_PATH,
    429: PAGE[429],
    **_PAGES_FULL,
    **_UNAVAILABLE,
}
BADGE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "An SVG badge with the page's count (a dash past PAGES_MAX or while Redis is away: an <img> "
        "never breaks); counts one hit unless ?count=false",
        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
    },
    **_NO_PAGE,
}
ADMIN_PAGES: dict[int, OpenAPIResponse] = {
    200: _json(
        "Every page (a path page by its path), slot by slot, with its total and the UTC day of its last counted hit; "
        "next: the cursor of the rest, null at the end",
        {
            "type": "object",
            "required": ["pages", "next"],
            "properties": {
                "pages": {
                    "type": "array",
                    "maxItems": 200,
                    "items": {
                        "type": "object",
                        "required": ["page", "hits", "last_counted"],
                        "properties": {
                            "page": {"anyOf": [_PAGE_ID, _PATH]},
                            "hits": _COUNT,
                            "last_counted": {"type": "string", "format": "date"},
                        },
                    },
                },
                "next": {"type": ["string", "null"]},
            },
        },
    ),
    400: _error("A cursor that is not a listing's own, or a limit outside 1-200"),
    **_UNAVAILABLE,
}
DELETE: dict[int, OpenAPIResponse] = {
    204: {
        "description": "The page and everything of it are gone: its count, history, uniques, bots, its place in "
        "the top pages and its share of PAGES_MAX; a later hit starts it at 1"
    },
    **_NO_PAGE,
    **_UNAVAILABLE,
}
DELETE_PATH: dict[int, OpenAPIResponse] = {**DELETE, 400: _error("No ?path="), **_NO_PATH}
PATH_BADGE: dict[int, OpenAPIResponse] = {**BADGE, 400: _error("No ?path="), **_NO_PATH}
PAGE_STATS: dict[int, OpenAPIResponse] = {
    200: _json(
        "The page's history in GET /stats's shape (uniques per day kept 35 days), with its id, the requests "
        "counted apart as bots over the period's whole UTC days (kept 35 days), by reason, and the hosts most "
        "readers came from over those days (at most ?limit, most first; other: the hosts past a day's 50)",
        {
            "type": "object",
            "required": ["page", "period", "total", "series", "bots", "referrers"],
            "properties": {"page": {"anyOf": [_PAGE_ID, _PATH]}, "bots": _BOTS, "referrers": _REFERRERS},
        },
    ),
    400: _error("An unknown period, or a limit outside 1-50"),
    **PRIVATE,
    **_NO_PAGE,
    **_UNAVAILABLE,
}
TOP_PAGES: dict[int, OpenAPIResponse] = {
    200: _json(
        "The period's busiest pages (ranked by whole UTC days), busiest first, at most ?limit; and every page "
        "together (all): their hits, today's hits and unique visitors (a visitor once per slot of pages read: an "
        "upper bound), the period's referring hosts",
        {
            "type": "object",
            "required": ["period", "pages", "all"],
            "properties": {
                "period": {"type": "string"},
                "all": {
                    "type": "object",
                    "required": ["hits", "today", "referrers"],
                    "properties": {
                        "hits": _COUNT,
                        "today": {
                            "type": "object",
                            "required": ["hits", "uniques"],
                            "properties": {"hits": _COUNT, "uniques": _COUNT},
                        },
                        "referrers": {**_REFERRERS, "maxItems": 10},
                    },
                },
                "pages": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["page", "hits", "uniques"],
                        "properties": {"page": {"anyOf": [_PAGE_ID, _PATH]}, "hits": _COUNT, "uniques": _COUNT},
                    },
                },
            },
        },
    ),
    400: _error("An unknown period or limit"),
    **PRIVATE,
    **_UNAVAILABLE,
}

for _read in (PAGE_STATS, TOP_PAGES):  # ?format=csv
    _read[200]["content"] = {**_read[200]["content"], **CSV_CONTENT}

SEED: dict[int, OpenAPIResponse] = {
    200: _json(
        'With "replace": true, the counting page\'s total is now the given number (its history as it was)',
        {"type": "object", "required": ["page", "hits"], "properties": {"page": _PAGE_ID, "hits": _COUNT}},
    ),
    201: _json(
        "The page now counts from the given number",
        {"type": "object", "required": ["page", "hits"], "properties": {"page": _PAGE_ID, "hits": _COUNT}},
    ),
    400: _error("The body is not valid JSON"),
    409: _error('The page already counts (and "replace" is not true)'),
    413: _error("The body is larger than 1 KiB"),
    415: _error("The body is not application/json"),
    422: _error('"hits" is not a whole number from 0 to 10^15'),
    **_NO_PAGE,
    **_PAGES_FULL,
    **_UNAVAILABLE,
}
