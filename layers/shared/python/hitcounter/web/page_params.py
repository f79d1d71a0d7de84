"""What the OpenAPI document says of the page routes' parameters and request bodies (their
answers are in ``hitcounter.web.page_docs``)."""

from __future__ import annotations

from typing import Any

from hitcounter.web.api_docs import _FORMAT, _PERIOD
from hitcounter.web.page_docs import _PAGE_ID

# ?r=: where the reader came from (count.js sends document.referrer).
_R: dict[str, Any] = {
    "name": "r",
    "in": "query",
    "required": False,
    "description": "where the reader came from (document.referrer): its host is kept for the page and day when it "
    "names another site than the page's own; only the host, never the URL; anything else is dropped",
    "schema": {"type": "string"},
}
_REFERRERS_LIMIT: dict[str, Any] = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "how many referring hosts (default 10)",
    "schema": {"type": "integer", "minimum": 1, "maximum": 50},
}


_PAGE_PATH = {"name": "page", "in": "path", "required": True, "schema": _PAGE_ID}
_ACCEPT = {
    "name": "Accept",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": 'text/plain for "Hello World! N times."; anything else gives JSON',
}
_PATH_QUERY = {
    "name": "path",
    "in": "query",
    "required": True,
    "description": "the page's URL path (such as /2024/05/hello-world/); its normal form names the page",
    "schema": {"type": "string"},
}
# A badge must never break an <img>: odd values are read, not refused.
_BADGE_OPTIONS: list[dict[str, Any]] = [
    {
        "name": "count",
        "in": "query",
        "required": False,
        "description": "false (or 0, no) shows the count without counting; anything else counts",
        "schema": {"type": "string"},
    },
    {
        "name": "label",
        "in": "query",
        "required": False,
        "description": "the badge's label: its printable characters, cut to 32 (default: the metric's name)",
        "schema": {"type": "string"},
    },
    *[
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in (
            ("style", "flat (the default), flat-square, plastic or for-the-badge (shields.io's styles)"),
            ("color", "the number's background: hex without # (3 or 6 digits) or one of shields' named colours"),
            ("labelColor", "the label's background, as color"),
            ("metric", "hits (all time, the default), today (UTC) or uniques (unique visitors, last 30 days)"),
            ("abbreviate", "true: 1.2k, 34M"),
        )
    ],
]
PARAMETERS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("get", "/pages/{page}"): [_PAGE_PATH, _ACCEPT, _R],
    ("get", "/pages/{page}/badge.svg"): [_PAGE_PATH, *_BADGE_OPTIONS],
    ("get", "/admin/pages"): [
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "the previous answer's next (a slot and an offset)",
            "schema": {"type": "string", "pattern": "^([0-9]|[1-5][0-9]|6[0-3])\\.[0-9]{1,9}$"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        },
    ],
    ("delete", "/pages/{page}"): [_PAGE_PATH],
    ("delete", "/count"): [_PATH_QUERY],
    ("get", "/count"): [_PATH_QUERY, _R],
    ("get", "/badge.svg"): [_PATH_QUERY, *_BADGE_OPTIONS],
    ("get", "/pages/{page}/stats"): [_PAGE_PATH, _PERIOD, _FORMAT, _REFERRERS_LIMIT],
    ("put", "/pages/{page}/count"): [_PAGE_PATH],
    ("get", "/pages"): [
        _PERIOD,
        _FORMAT,
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
    ],
}

REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/pages/{page}/count"): {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["hits"],
                    "additionalProperties": False,
                    "properties": {
                        "hits": {"type": "integer", "minimum": 0, "maximum": 10**15},
                        "replace": {
                            "type": "boolean",
                            "description": "true: correct the total of a page that counts (404 for one that does not)",
                        },
                    },
                }
            }
        },
    }
}
