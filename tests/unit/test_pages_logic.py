"""The page logic's rules (hitcounter.logic.pages) on a fake store: what each outcome becomes
for a page hit and for its badge, which visitor and client a request is, and who is a bot.
The store's own behaviour is tested on real Redis (tests/test_pages.py and friends)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hitcounter.core.errors import AppError, BackendUnavailable
from hitcounter.logic import pages
from hitcounter.model import history, owners
from hitcounter.model.history import Visit
from hitcounter.model.pages import BOT, COUNTED, LIMITED, NEW_LIMITED, REFUSED, RELOAD, REPLAYED, PageHit
from hitcounter.model.visitors import Client, page_visit, site_visit

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PERSON = Client(1_700_000_000_000, "203.0.113.7", BROWSER, "en")


@dataclass
class FakeStore:
    """Answers each hit with ``answer`` and records what it was asked."""

    answer: PageHit = field(default_factory=lambda: PageHit(5, COUNTED, used=3, reset_ms=41_500))
    rate_limit: int = 60
    fail: AppError | None = None
    calls: list[tuple[str, Visit, str | None, str | None]] = field(default_factory=list)
    counted: int | None = 7
    paths_given: list[str] = field(default_factory=list)
    referrers_given: list[str] = field(default_factory=list)

    def hit(
        self,
        page: str,
        visit: Visit,
        idempotency_key: str | None = None,
        bot: str | None = None,
        path: str = "",
        unlisted: bool = False,
        referrer: str = "",
    ) -> PageHit:
        if self.fail:
            raise self.fail
        self.calls.append((page, visit, idempotency_key, bot))
        self.paths_given.append(path)
        self.referrers_given.append(referrer)
        return self.answer

    def paths(self, pages: list[str]) -> dict[str, str]:
        return {page: f"/{page}/" for page in pages if page.startswith("~")}

    def count(self, page: str) -> int | None:
        if self.fail:
            raise self.fail
        return self.counted

    def __getattr__(self, name: str) -> Any:  # the reads: not these tests'
        raise AssertionError(f"unexpected call: {name}")


def test_a_counted_hit_answers_its_total_and_the_clients_standing() -> None:
    store = FakeStore()
    hit, headers = pages.count(store, "home", "key-1", PERSON)
    assert hit.total == 5
    assert headers == {"RateLimit-Limit": "60", "RateLimit-Remaining": "57", "RateLimit-Reset": "42",
                       "RateLimit-Policy": "60;w=60"}  # fmt: skip
    page, visit, key, bot = store.calls[0]
    assert (page, key, bot) == ("home", "key-1", None)
    assert visit == page_visit(PERSON) and visit.track and visit.client and visit.visitor


def test_the_store_gets_the_referring_host_alone_and_never_the_sites_own() -> None:
    store = FakeStore()
    from_page = PERSON._replace(origin="https://blog.example.org")
    pages.count(store, "home", None, from_page, came_from="https://news.ycombinator.com/item?id=1")
    pages.count(store, "home", None, from_page, came_from="https://blog.example.org/other-post/")
    pages.count(store, "home", None, from_page, came_from="javascript:alert(1)")
    pages.count(store, "home", None, from_page)
    owner = owners.OwnerRules(owners.parse_hosts("*.example.org, example.net"))
    pages.count(store, "home", None, from_page, owner=owner, came_from="https://example.net/")
    assert store.referrers_given == ["news.ycombinator.com", "", "", "", ""]


@pytest.mark.parametrize("outcome", [REPLAYED, RELOAD, BOT])
def test_a_replay_a_reload_or_a_bot_answers_the_count_without_limit_fields(outcome: str) -> None:
    hit, headers = pages.count(FakeStore(PageHit(5, outcome, used=0)), "home", None, PERSON)
    assert (hit.total, headers) == (5, {})


def test_past_the_limit_the_hit_is_refused_with_when_to_come_back() -> None:
    store = FakeStore(PageHit(9, LIMITED, used=60, reset_ms=1))
    with pytest.raises(pages.RateLimited) as refused:
        pages.count(store, "home", None, PERSON)
    assert refused.value.headers["Retry-After"] == "1" and refused.value.headers["RateLimit-Remaining"] == "0"


@pytest.mark.parametrize(
    ("answer", "error"),
    [(PageHit(0, REFUSED), pages.PagesFull), (PageHit(0, NEW_LIMITED, reset_ms=59_001), pages.NewPagesLimited)],
)
def test_a_new_page_refused_is_an_error_that_says_why(answer: PageHit, error: type[AppError]) -> None:
    with pytest.raises(error):
        pages.count(FakeStore(answer), "new", None, PERSON)


def test_the_badge_always_renders_the_limit_and_the_refusals_draw_a_number_or_a_dash() -> None:
    # A client past its limit sees the page's number; a refused page or Redis away, a dash;
    # the error comes back to be logged, never raised.
    assert pages.badge_value(FakeStore(PageHit(9, LIMITED, used=60)), "home", PERSON, counts=True) == (9, None)
    value, refused = pages.badge_value(FakeStore(PageHit(0, REFUSED)), "home", PERSON, counts=True)
    assert value is None and isinstance(refused, pages.PagesFull)
    away = BackendUnavailable("redis")
    assert pages.badge_value(FakeStore(fail=away), "home", PERSON, counts=True) == (None, away)
    # A badge that only shows reads the count and counts nothing.
    store = FakeStore()
    assert pages.badge_value(store, "home", PERSON, counts=False) == (7, None) and store.calls == []
    store.counted = None
    assert pages.badge_value(store, "never", PERSON, counts=False) == (0, None)


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        (Client(0, "203.0.113.7", "curl/8.5.0", None), "crawler"),
        (Client(0, "203.0.113.7", None, "en"), "no_user_agent"),
        (Client(0, "203.0.113.7", BROWSER, None), "no_accept_language"),
        (Client(0, "203.0.113.7", "github-camo (1a2b3c)", None), None),  # GitHub's image proxy fetches for people
        (PERSON, None),
    ],
)
def test_the_bot_verdict_is_the_logics(client: Client, reason: str | None) -> None:
    store = FakeStore()
    pages.count(store, "home", None, client)
    assert store.calls[0][3] == reason


def test_a_privacy_signal_keeps_the_visitor_for_reloads_only() -> None:
    private = Client(1, "203.0.113.7", BROWSER, "en", private=True)
    visit = page_visit(private)
    assert not visit.track and visit.visitor == page_visit(PERSON).visitor  # the reload window still knows it
    assert visit.client == history.client_key("203.0.113.7")
    assert site_visit(private).visitor == site_visit(PERSON).visitor  # the seed's counter counts as it did
    nobody = page_visit(Client(1))
    assert (nobody.visitor, nobody.client) == ("", "")
