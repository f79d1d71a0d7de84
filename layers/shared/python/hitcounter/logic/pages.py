"""Per-page counting: a hit of a page, its badge, its history, the period's top pages. Plain
values in (the page id already checked by ``hitcounter.web.request``, the request's
``Client``), plain values out. The rules a hit answers to are decided here: which visitor
and client it is (``hitcounter.model.visitors``), whether it is a bot's
(``hitcounter.model.bots``), what a client past its limit gets (``RateLimited``), and that a
badge always renders (``badge_value``)."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from hitcounter.core.errors import AppError, InsufficientStorage, NotFound
from hitcounter.core.observability import count_metric, logger
from hitcounter.data.all_pages import AllPagesCounts
from hitcounter.data.history_reads import HistoryCounts
from hitcounter.logic.stats import shape
from hitcounter.model import bots, history, owners, referrers, visitors
from hitcounter.model.history import Visit
from hitcounter.model.pages import BOT, LIMITED, NEW_LIMITED, RELOAD, REPLAYED, UNLISTED, PageHit
from hitcounter.model.visitors import Client


class PageCounter(Protocol):
    """What the page logic needs of a store (``hitcounter.data.page_store.PageStore``; the
    unit tests pass a fake)."""

    rate_limit: int

    def hit(  # noqa: PLR0917
        self,
        page: str,
        visit: Visit,
        idempotency_key: str | None = None,
        bot: str | None = None,
        path: str = "",
        unlisted: bool = False,
        referrer: str = "",
    ) -> PageHit: ...
    def paths(self, pages: list[str]) -> dict[str, str]: ...
    def today(self, page: str, now_ms: int) -> int: ...
    def count(self, page: str) -> int | None: ...
    def seed(self, page: str, hits: int) -> int: ...
    def replace(self, page: str, hits: int) -> int | None: ...
    def delete(self, page: str, now_ms: int) -> bool: ...
    def listing(
        self, slot: int, offset: int, limit: int
    ) -> tuple[list[tuple[str, int, int]], tuple[int, int] | None]: ...
    def page_history(self, page: str, period: history.Period, now_ms: int) -> HistoryCounts: ...
    def tallies(
        self, page: str, period: history.Period, now_ms: int, referrers: int
    ) -> tuple[dict[str, int], list[tuple[str, int]]]: ...
    def top(self, period: history.Period, now_ms: int, limit: int) -> list[tuple[str, int]]: ...
    def uniques(self, pages: list[str], period: history.Period, now_ms: int) -> dict[str, int]: ...
    def all_pages(self, period: history.Period, now_ms: int, referrers: int) -> AllPagesCounts: ...
    def cached_top(self, period: history.Period, now_ms: int, limit: int) -> dict[str, Any] | None: ...
    def keep_top(self, period: history.Period, now_ms: int, limit: int, answer: dict[str, Any]) -> None: ...


TOP_DEFAULT, TOP_MAX = 10, 50
REFERRERS_DEFAULT, REFERRERS_MAX = 10, 50
NO_RULES = owners.OwnerRules()


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


def count(
    store: PageCounter,
    page: str,
    idempotency_key: str | None,
    client: Client,
    path: str = "",
    *,
    owner: owners.OwnerRules = NO_RULES,
    came_from: str | None = None,
) -> tuple[PageHit, dict[str, str]]:
    """One request of ``page``, and the ``RateLimit-*`` fields of its answer: a person's counts
    at most once without a key, exactly once per key, unless it is a reload; a bot's is
    tallied apart; a client past its limit is ``RateLimited`` (nothing counted); a new page
    past PAGES_MAX (``PagesFull``) or past the client's new-page budget (``NewPagesLimited``)
    is refused with nothing stored. ``path``: the path a path page is named by (its id is
    ``hitcounter.model.paths.page_of(path)``), kept for display. ``owner``: the owner's rules
    (a hit they refuse is tallied apart, as a bot's, under their reason). ``came_from``: the
    ``r`` parameter, where the reader came from (``hitcounter.model.referrers``: kept as a
    host when it names another site; anything else is dropped and the hit counts)."""
    referrer = referrers.referrer(came_from, client.origin, client.referer, owner.hosts) if came_from else ""
    hit = _hit(store, page, idempotency_key, client, path, owner, referrer)
    if hit.outcome == LIMITED:
        raise RateLimited(store.rate_limit, reset_seconds(hit.reset_ms))
    return hit, _limit_headers(store, hit)


def badge_value(  # noqa: PLR0917 - the badge's request, as plain values
    store: PageCounter,
    page: str,
    client: Client,
    counts: bool,
    path: str = "",
    metric: str = "hits",
    *,
    owner: owners.OwnerRules = NO_RULES,
) -> tuple[int | None, AppError | None]:
    """The number a page's badge shows: the count after this request (``counts``: the badge
    counts one hit; a reload, a client past its limit or a bot counts nothing and sees the
    current number), or the count as it is. The badge's one rule: an ``<img>`` never breaks.
    A page refused (PAGES_MAX, the new-page budget) or Redis away draws a dash (None), with
    the error for the route to log as it would log the error itself."""
    try:
        total = _hit(store, page, None, client, path, owner).total if counts else (store.count(page) or 0)
        if metric == "today":  # the page's hits of the UTC day, after this one
            return store.today(page, client.at_ms), None
        if metric == "uniques":  # its unique visitors of the last 30 days
            return store.uniques([page], history.PERIODS["30d"], client.at_ms)[page], None
        return total, None
    except AppError as err:
        return None, err


def _hit(  # noqa: PLR0917
    store: PageCounter,
    page: str,
    idempotency_key: str | None,
    client: Client,
    path: str = "",
    owner: owners.OwnerRules | None = None,
    referrer: str = "",
) -> PageHit:
    # The owner's rules first (their own addresses, other sites), then the bot evidence.
    refused = owners.reason(owner, client.source_ip, client.origin, client.referer) if owner else None
    if refused == owners.FOREIGN_ORIGIN:
        count_metric("ForeignOrigin")
    bot = refused or bots.reason(client.user_agent, client.accept_language)
    unlisted = owner is not None and not owner.may_create(page, path)
    hit = store.hit(page, visitors.page_visit(client), idempotency_key, bot, path, unlisted, referrer)
    if hit.outcome == UNLISTED:  # PAGES_CREATE=listed: nobody seeded it, PAGES_ALLOW does not name it
        raise NotFound("no such page")
    if hit.outcome == NEW_LIMITED:
        count_metric("NewPagesLimited")
        raise NewPagesLimited(reset_seconds(hit.reset_ms))
    if hit.refused:
        count_metric("PagesRefused")
        logger.warning("a new page was refused: PAGES_MAX reached", extra={"error_code": "pages_full"})
        raise PagesFull()
    return hit


def _limit_headers(store: PageCounter, hit: PageHit) -> dict[str, str]:
    """The RateLimit-* fields of a counted person's page hit (none with the limit off, for a
    client with no address, a replay, a reload or a bot)."""
    if not store.rate_limit or hit.outcome in (REPLAYED, BOT, RELOAD) or not hit.used:
        return {}
    return rate_headers(store.rate_limit, hit.used, reset_seconds(hit.reset_ms))


def page_stats(  # noqa: PLR0917 - one read, as plain values
    store: PageCounter,
    page: str,
    period: history.Period,
    now_ms: int,
    path: str = "",
    referrers: int = REFERRERS_DEFAULT,
) -> dict[str, Any]:
    """One page's history, in ``GET /stats``'s shape, with the page's id (a path page's path),
    the requests counted apart as bots over the period's whole UTC days, by reason, and the
    ``referrers`` hosts most readers came from over those days (``other``: a day's tail)."""
    counts = store.page_history(page, period, now_ms)
    if counts.total == 0 and store.count(page) is None:
        raise NotFound("no such page")
    reasons, hosts = store.tallies(page, period, now_ms, referrers)
    return {
        "page": path or page,
        **shape(counts, period, now_ms),
        "bots": {"total": sum(reasons.values()), "by_reason": reasons},
        "referrers": [{"host": host, "hits": hits} for host, hits in hosts],
    }


def top_pages(store: PageCounter, period: history.Period, now_ms: int, limit: int) -> dict[str, Any]:
    """The period's busiest pages (ranked by whole UTC days), each with its unique visitors:
    assembled from each slot's busiest (a bounded read), with every page together
    (``all_pages``), then served for TOP_CACHE_SECONDS from one key, so a burst of reads costs
    Redis one assembly."""
    kept = store.cached_top(period, now_ms, limit)
    if kept is not None:
        return {"period": period.name, **kept}
    ranked = store.top(period, now_ms, limit)
    uniques = store.uniques([page for page, _ in ranked], period, now_ms)
    named = store.paths([page for page, _ in ranked])  # path pages are listed by their path
    answer = {
        "pages": [{"page": named.get(page, page), "hits": hits, "uniques": uniques[page]} for page, hits in ranked],
        "all": all_pages(store, period, now_ms),
    }
    with contextlib.suppress(AppError):  # the answer stands if it cannot be kept
        store.keep_top(period, now_ms, limit, answer)
    return {"period": period.name, **answer}


def all_pages(store: PageCounter, period: history.Period, now_ms: int) -> dict[str, Any]:
    """Every page together: their hits (all time), today's hits and unique visitors (a visitor
    once per slot of pages they read: an upper bound), and the period's referring hosts, read
    from the slots' own tallies at a cost that does not grow with the pages."""
    counts = store.all_pages(period, now_ms, REFERRERS_DEFAULT)
    return {
        "hits": counts.total,
        "today": {"hits": counts.today_hits, "uniques": counts.today_uniques},
        "referrers": [{"host": host, "hits": hits} for host, hits in counts.referrers],
    }
