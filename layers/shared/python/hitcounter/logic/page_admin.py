"""An operator's steps on the pages (signed routes): every page listed a cursor at a time, a
page deleted, a page's starting count or corrected total. Plain values in (the page id already
checked), plain values out; the store is ``hitcounter.logic.pages.PageCounter``."""

from __future__ import annotations

import re
from typing import Any

from hitcounter.core.errors import AppError, BadRequest, NotFound, Unprocessable
from hitcounter.core.observability import count_metric, logger
from hitcounter.logic.pages import PageCounter, PagesFull
from hitcounter.model import history
from hitcounter.model.keys import PAGE_SLOTS


class PageCounts(AppError):
    status = 409
    code = "page_counts"
    message = 'the page already counts: a starting count is only for a page that has none ("replace": true corrects it)'


MAX_SEED = 10**15


LIST_DEFAULT, LIST_MAX = 50, 200
# A listing's cursor: a slot and an offset in its registry (the OpenAPI document's pattern).
_CURSOR = re.compile(r"([0-9]|[1-5][0-9]|6[0-3])\.([0-9]{1,9})")


def listing(store: PageCounter, cursor: str | None, limit: int) -> dict[str, Any]:
    """``GET /admin/pages``: every page (a path page by its path) with its total and the UTC
    day of its last counted hit, ``limit`` at a time; ``next`` is the cursor of the rest
    (null at the end). The cursor is opaque to the caller: where the listing stopped."""
    slot, offset = 0, 0
    if cursor is not None:
        found = _CURSOR.fullmatch(cursor)
        if found is None or int(found[1]) >= PAGE_SLOTS:
            raise BadRequest("cursor must be a listing's own next value")
        slot, offset = int(found[1]), int(found[2])
    rows, after = store.listing(slot, offset, limit)
    named = store.paths([page for page, _, _ in rows])
    return {
        "pages": [
            {"page": named.get(page, page), "hits": hits, "last_counted": history.day_iso(at)}
            for page, hits, at in rows
        ],
        "next": None if after is None else f"{after[0]}.{after[1]}",
    }


def delete(store: PageCounter, page: str, now_ms: int, shown: str = "") -> None:
    """``DELETE /pages/{page}`` (or ``/count?path=``): the page and everything of it gone, its
    share of PAGES_MAX free, a later hit starting it at 1; NotFound for a page that has none.
    Logged (its id or path, nothing of any visitor), and counted (metric PageDeleted)."""
    if not store.delete(page, now_ms):
        raise NotFound("no such page")
    logger.info("a page was deleted", extra={"page": shown or page})
    count_metric("PageDeleted")


def seed(store: PageCounter, page: str, body: object) -> tuple[int, dict[str, Any]]:
    """``PUT /pages/{page}/count``: the starting count of a page that has none (``201``), or,
    with ``"replace": true``, a counting page's total corrected (``200``; its history and
    uniques as they are; logged with the old and the new total, nothing of any visitor)."""
    if isinstance(body, dict) and set(body) - {"hits", "replace"}:
        raise Unprocessable('the body is {"hits": N} and, to correct a total, "replace": true; nothing else')
    hits = body.get("hits") if isinstance(body, dict) else None
    replace = body.get("replace", False) if isinstance(body, dict) else False
    # JSON has one number type: 303.0 is the whole number 303 (as JSON Schema's "integer" says).
    if isinstance(hits, float) and hits.is_integer():
        hits = int(hits)
    if isinstance(hits, bool) or not isinstance(hits, int) or not 0 <= hits <= MAX_SEED:
        raise Unprocessable(f'"hits" must be a whole number from 0 to {MAX_SEED}')
    if not isinstance(replace, bool):
        raise Unprocessable('"replace" must be true or false')
    if replace:
        old = store.replace(page, hits)
        if old is None:
            raise NotFound("no such page: a total is corrected only for a page that counts")
        logger.info("a page's total was corrected", extra={"page": page, "old_total": old, "new_total": hits})
        count_metric("PageCorrected")
        return 200, {"page": page, "hits": hits}
    done = store.seed(page, hits)
    if done == 0:
        raise PageCounts()
    if done < 0:
        raise PagesFull()
    return 201, {"page": page, "hits": hits}
