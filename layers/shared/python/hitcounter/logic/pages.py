"""Per-page counting: a hit of a page, its history, the period's top pages. Plain values in
(the page id already checked by ``hitcounter.web.request``), plain values out."""

from __future__ import annotations

import contextlib
from typing import Any

from hitcounter.core.errors import AppError, InsufficientStorage, NotFound, Unprocessable
from hitcounter.core.observability import count_metric, logger
from hitcounter.data.page_store import BOT, LIMITED, NEW_LIMITED, RELOAD, REPLAYED, PageHit, PageStore
from hitcounter.logic.stats import shape
from hitcounter.model import history
from hitcounter.model.history import Visit

TOP_DEFAULT, TOP_MAX = 10, 50


class PagesFull(InsufficientStorage):
    code = "pages_full"
    message = "the counter holds as many pages as it may (PAGES_MAX); existing pages go on counting"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "this client has counted as many page hits as it may in a minute (RATE_LIMIT_PER_MINUTE)"

    def __init__(self, limit: int, reset: int) -> None:
        super().__init__()
        self.headers = {"Retry-After": str(reset), **rate_headers(limit, limit, reset)}


def rate_headers(limit: int, used: int, reset: int) -> dict[str, str]:
    """The client's standing in its window, as the IETF draft's ``RateLimit-*`` fields
    (draft-ietf-httpapi-ratelimit-headers-07, the form Abacus answers): the limit, what is
    left of it, and the seconds until the window ends."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(limit - used, 0)),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limit};w=60",
    }


class NewPagesLimited(AppError):
    status = 429
    code = "new_pages_limited"
    message = (
        "this client has created as many new pages as it may for now (NEW_PAGES_PER_CLIENT_MINUTE, "
        "NEW_PAGES_PER_CLIENT_DAY); existing pages go on counting"
    )

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.headers = {"Retry-After": str(retry_after)}


def reset_seconds(reset_ms: int) -> int:
    """Whole seconds until a sliding window frees one more hit (at least 1): what
    ``Retry-After`` and ``RateLimit-Reset`` say."""
    return max(1, -(-reset_ms // 1000))


def count(store: PageStore, page: str, idempotency_key: str | None, visit: Visit, bot: str | None) -> PageHit:
    """One request of ``page``: a person's counts at most once without a key, exactly once
    per key, unless it is a reload or its client is past the limit; a bot's is tallied
    apart; a new page past PAGES_MAX is refused with nothing stored."""
    hit = store.hit(page, visit, idempotency_key, bot)
    if hit.outcome == NEW_LIMITED:
        count_metric("NewPagesLimited")
        raise NewPagesLimited(reset_seconds(hit.reset_ms))
    if hit.refused:
        count_metric("PagesRefused")
        logger.warning("a new page was refused: PAGES_MAX reached", extra={"error_code": "pages_full"})
        raise PagesFull()
    return hit


def answer_headers(store: PageStore, hit: PageHit, visit: Visit) -> dict[str, str]:
    """The RateLimit-* fields of a person's page hit (none with the limit off, for a replay
    or a bot), or ``RateLimited`` when the client is past the limit (nothing was counted)."""
    if not store.rate_limit or not visit.client or hit.outcome in (REPLAYED, BOT, RELOAD):
        return {}
    reset = reset_seconds(hit.reset_ms)
    if hit.outcome == LIMITED:
        raise RateLimited(store.rate_limit, reset)
    return rate_headers(store.rate_limit, hit.used, reset)


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
    """One page's history, in ``GET /stats``'s shape, with the page's id, and the requests
    counted apart as bots over the period's whole UTC days, by reason."""
    counts = store.page_history(page, period, now_ms)
    if counts.total == 0 and store.count(page) is None:
        raise NotFound("no such page")
    reasons = store.bots(page, period, now_ms)
    return {
        "page": page,
        **shape(counts, period, now_ms),
        "bots": {"total": sum(reasons.values()), "by_reason": reasons},
    }


def top_pages(store: PageStore, period: history.Period, now_ms: int, limit: int) -> dict[str, Any]:
    """The period's busiest pages (ranked by whole UTC days), each with its unique visitors:
    assembled from each slot's busiest (a bounded read), then served for TOP_CACHE_SECONDS
    from one key, so a burst of reads costs Redis one assembly."""
    listed = store.cached_top(period, now_ms, limit)
    if listed is None:
        ranked = store.top(period, now_ms, limit)
        uniques = store.uniques([page for page, _ in ranked], period, now_ms)
        listed = [{"page": page, "hits": hits, "uniques": uniques[page]} for page, hits in ranked]
        with contextlib.suppress(AppError):  # the answer stands if it cannot be kept
            store.keep_top(period, now_ms, limit, listed)
    return {"period": period.name, "pages": listed}
