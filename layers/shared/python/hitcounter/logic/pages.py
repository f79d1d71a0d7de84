"""Per-page counting: a hit of a page, its history, the period's top pages. Plain values in
(the page id already checked by ``hitcounter.web.request``), plain values out."""

from __future__ import annotations

from typing import Any

from hitcounter.core.errors import AppError, InsufficientStorage, NotFound, Unprocessable
from hitcounter.core.observability import count_metric, logger
from hitcounter.data.page_store import PageHit, PageStore
from hitcounter.logic.stats import shape
from hitcounter.model import history
from hitcounter.model.history import Visit

TOP_DEFAULT, TOP_MAX = 10, 50


class PagesFull(InsufficientStorage):
    code = "pages_full"
    message = "the counter holds as many pages as it may (PAGES_MAX); existing pages go on counting"


def count(store: PageStore, page: str, idempotency_key: str | None, visit: Visit) -> PageHit:
    """One hit of ``page``: at most once without a key, exactly once per key; a new page past
    PAGES_MAX is refused with nothing stored."""
    hit = store.hit(page, visit, idempotency_key)
    if hit.refused:
        count_metric("PagesRefused")
        logger.warning("a new page was refused: PAGES_MAX reached", extra={"error_code": "pages_full"})
        raise PagesFull()
    return hit


class PageCounts(AppError):
    status = 409
    code = "page_counts"
    message = "the page already counts: a starting count is only for a page that has none"


MAX_SEED = 10**15


def seed(store: PageStore, page: str, body: object) -> dict[str, Any]:
    """``PUT /pages/{page}/count``: the starting count of a page that has none."""
    hits = body.get("hits") if isinstance(body, dict) else None
    # JSON has one number type: 303.0 is the whole number 303 (as JSON Schema's "integer" says).
    if isinstance(hits, float) and hits.is_integer():
        hits = int(hits)
    if isinstance(hits, bool) or not isinstance(hits, int) or not 0 <= hits <= MAX_SEED:
        raise Unprocessable(f'"hits" must be a whole number from 0 to {MAX_SEED}')
    done = store.seed(page, hits)
    if done == 0:
        raise PageCounts()
    if done < 0:
        raise PagesFull()
    return {"page": page, "hits": hits}


def page_stats(store: PageStore, page: str, period: history.Period, now_ms: int) -> dict[str, Any]:
    """One page's history, in ``GET /stats``'s shape, with the page's id."""
    counts = store.page_history(page, period, now_ms)
    if counts.total == 0 and store.count(page) is None:
        raise NotFound("no such page")
    return {"page": page, **shape(counts, period, now_ms)}


def top_pages(store: PageStore, period: history.Period, now_ms: int, limit: int) -> dict[str, Any]:
    """The period's busiest pages (ranked by whole UTC days), each with its unique visitors."""
    ranked = store.top(period, now_ms, limit)
    uniques = store.uniques([page for page, _ in ranked], period, now_ms)
    return {
        "period": period.name,
        "pages": [{"page": page, "hits": hits, "uniques": uniques[page]} for page, hits in ranked],
    }
