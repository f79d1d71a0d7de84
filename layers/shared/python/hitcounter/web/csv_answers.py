"""The reads as CSV (``?format=csv``), for a spreadsheet: the same numbers as their JSON, a
header row, one row per bucket or per page, and a file name. A text cell that a spreadsheet
would read as a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: a page path, a page id) is prefixed with ``'``, as OWASP's CSV-injection advice says,
so opening the file never runs anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from hitcounter.core.errors import BadRequest

FORMATS = ("json", "csv")
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(query: Mapping[str, str]) -> bool:
    """``?format=``: json (the default) or csv; anything else is a 400."""
    chosen = query.get("format", "json")
    if chosen not in FORMATS:
        raise BadRequest("format must be json or csv")
    return chosen == "csv"


def cell(value: object) -> object:
    """A value as a cell: numbers as they are, text defused when it could start a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180's line ends
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def series(body: Mapping[str, Any]) -> str:
    """A history (``/stats``, a page's stats): a row per bucket, ``start,hits[,uniques]``."""
    daily = body.get("unit") == "day"
    header = ["start", "hits", *(["uniques"] if daily else [])]
    rows = [[p["start"], p["hits"], *([p.get("uniques", 0)] if daily else [])] for p in body["series"]]
    return _table(header, rows)


def top_pages(body: Mapping[str, Any]) -> str:
    """The period's top pages: a row per page, ``page,hits,uniques``."""
    return _table(["page", "hits", "uniques"], ([p["page"], p["hits"], p["uniques"]] for p in body["pages"]))


def headers(name: str) -> dict[str, str]:
    """The answer's headers beside its media type (``CONTENT_TYPE``): a file name (ASCII
    letters, digits, dots and dashes only: nothing else from the request)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "-" for c in name)[:80]
    return {
        "Content-Disposition": f'attachment; filename="{safe}.csv"',
        "X-Content-Type-Options": "nosniff",
    }
