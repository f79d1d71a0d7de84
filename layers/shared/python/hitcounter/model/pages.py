"""A page hit's vocabulary: what became of it (``COUNT_PAGE_HIT``'s outcome codes), and the
answer a store gives. Pure: the data layer fills it in, the logic decides on it."""

from __future__ import annotations

from typing import NamedTuple

# What became of a page hit (the script's outcome codes: ``COUNT_PAGE_HIT``; ``new_limited``:
# the client's new-page budget refused the page, ``TAKE_NEW_PAGE``).
COUNTED, REPLAYED, RELOAD, LIMITED, BOT, REFUSED = "counted", "replayed", "reload", "limited", "bot", "refused"
NEW_LIMITED = "new_limited"
# PAGES_CREATE=listed: a page nobody seeded and PAGES_ALLOW does not name is not made.
UNLISTED = "unlisted"
OUTCOMES = {0: COUNTED, 1: REPLAYED, 2: RELOAD, 3: LIMITED, 4: BOT, 6: UNLISTED, -1: REFUSED}


class PageHit(NamedTuple):
    """A page's count after this request, and what became of it: ``counted``; ``replayed``
    (an Idempotency-Key seen before: the N the first request got); ``reload`` (the same
    visitor within DEDUPE_SECONDS), ``limited`` (the client is past RATE_LIMIT_PER_MINUTE)
    or ``bot``: nothing counted, N is the current count; ``refused``: a new page past its
    slot's share of PAGES_MAX, nothing written; ``new_limited``: a new page past the client's
    new-page budget, nothing written. ``used``: the client's counted hits in the last 60 s
    (0 with the limit off); ``reset_ms``: until the oldest of them leaves the minute (or,
    ``new_limited``, until the budget frees one)."""

    total: int
    outcome: str = COUNTED
    created: bool = False
    used: int = 0
    reset_ms: int = 0

    @property
    def replayed(self) -> bool:
        return self.outcome == REPLAYED

    @property
    def refused(self) -> bool:
        return self.outcome == REFUSED
