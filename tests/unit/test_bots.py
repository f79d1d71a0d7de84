"""Which requests are bots' (hitcounter.model.bots), and the per-client limit's fields."""

from __future__ import annotations

import json
import string
from pathlib import Path

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcounter.logic.pages import RateLimited, rate_headers, reset_seconds
from hitcounter.model import bots

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
    "Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
    "Edg/131.0.0.0",
]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Wget/1.21.4",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
]


@pytest.mark.parametrize("agent", BROWSERS)
def test_a_browser_with_its_language_is_a_person(agent: str) -> None:
    assert bots.reason(agent, "en-GB,en;q=0.9") is None


@pytest.mark.parametrize("agent", CRAWLERS)
def test_declared_crawlers_and_tools_are_bots_whatever_they_send(agent: str) -> None:
    assert bots.reason(agent, "en-US") == bots.CRAWLER


def test_missing_headers_are_evidence_in_order() -> None:
    assert bots.reason(None, "en") == bots.NO_USER_AGENT
    assert bots.reason("   ", None) == bots.NO_USER_AGENT
    assert bots.reason(BROWSERS[0], None) == bots.NO_ACCEPT_LANGUAGE
    assert bots.reason(BROWSERS[0], " ") == bots.NO_ACCEPT_LANGUAGE
    assert bots.reason("curl/8.5.0", None) == bots.CRAWLER  # the list first: a more useful reason


def test_githubs_image_proxy_fetches_for_people() -> None:
    assert bots.reason("github-camo (876de43e)", None) is None


def test_only_the_first_characters_of_a_huge_agent_are_read() -> None:
    # The classification's work is bounded by MAX_AGENT_CHARS, whatever a client sends.
    agent = "Mozilla/5.0 " + "x" * 1_000_000
    assert bots.reason(agent + "Googlebot", "en") is None  # past MAX_AGENT_CHARS: not read
    assert bots.reason("Mozilla/5.0 Googlebot " + "x" * 1_000_000, "en") == bots.CRAWLER


def test_verdicts_are_cached_per_agent_and_the_cache_is_bounded() -> None:
    bots.listed.cache_clear()
    for i in range(5000):
        bots.reason(f"{BROWSERS[0]} n{i}", "en")
    info = bots.listed.cache_info()
    assert info.currsize == info.maxsize == 4096


def test_rate_limit_fields_follow_the_draft() -> None:
    assert rate_headers(60, 59, 12) == {
        "RateLimit-Limit": "60",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "12",
        "RateLimit-Policy": "60;w=60",
    }
    assert rate_headers(60, 61, 1)["RateLimit-Remaining"] == "0"
    assert [reset_seconds(ms) for ms in (0, 1, 999, 1000, 1001, 59_999, 60_000)] == [1, 1, 1, 1, 2, 60, 60]
    err = RateLimited(60, 7)
    assert err.status == 429 and err.headers["Retry-After"] == "7" and err.headers["RateLimit-Remaining"] == "0"
    assert RateLimited.headers == {}  # the class's own stays empty: each error carries its own


def test_the_list_can_be_compiled_ahead_of_the_first_page_hit() -> None:
    bots._matcher.cache_clear()
    bots.prepare()
    assert bots._matcher.cache_info().currsize == 1


def _crawlerdetect_verdict(agent: str) -> bool:
    from crawlerdetect import CrawlerDetect

    return bool(CrawlerDetect()._check_crawler(agent)[0])


def test_the_linear_matcher_gives_crawlerdetects_own_verdicts() -> None:
    """RE2 runs the same patterns as the list's own matcher (Python's re): on browsers,
    crawlers, the look-ahead pattern's two sides, agents built from the list's words, and
    hostile agents, every verdict is the same."""
    from devtools.agents import adversarial, list_words

    words = list_words()
    agents = BROWSERS + CRAWLERS + ["YandexBot/3.0", "YandexSearch/1.0", "Mozilla/5.0 YandexSearchBrowser"]
    agents += [f"Mozilla/5.0 (compatible; {w}/1.0)" for w in words]
    agents += adversarial(120, seed=3)
    matcher = bots._Matcher()
    differ = [a[:60] for a in agents if matcher.listed(a) != _crawlerdetect_verdict(a)]
    assert differ == []
    assert sum(matcher.listed(a) for a in agents) > len(words) // 2  # most of the list's words are crawlers


@hypothesis.given(
    hypothesis.strategies.lists(
        hypothesis.strategies.one_of(
            hypothesis.strategies.sampled_from(["bot", "Mozilla/5.0 ", "Yandex", "Search", "spider", "Chrome/", " "]),
            hypothesis.strategies.text(alphabet=string.printable, max_size=8),
        ),
        max_size=12,
    )
)
@hypothesis.settings(max_examples=300, deadline=None)
def test_any_agent_gets_crawlerdetects_verdict(parts: list[str]) -> None:
    agent = "".join(parts)
    assert bots._matcher().listed(agent) == _crawlerdetect_verdict(agent)


def test_an_ipv6_client_is_its_64() -> None:
    from hitcounter.model.history import client_key, client_network

    assert client_network("2001:db8:aa:bb:1:2:3:4") == client_network("2001:db8:aa:bb::ffff") == "20010db800aa00bb/64"
    assert client_network("203.0.113.7") == "203.0.113.7"
    assert client_network("not:an:address:at:all:x") == "not:an:address:at:all:x"
    assert client_key("2001:db8:aa:bb::1") == client_key("2001:db8:aa:bb::2") != client_key("2001:db8:aa:bc::1")


@given(
    st.integers(min_value=0, max_value=2**128 - 1),
    st.sampled_from(["compressed", "exploded", "upper", "scoped", "mapped"]),
)
def test_an_ipv6_clients_network_is_what_ipaddress_says(number: int, form: str) -> None:
    """The /64 read by the C parser is ipaddress's for every way an address can be written."""
    import ipaddress

    from hitcounter.model.history import client_network

    address = ipaddress.IPv6Address(number)
    written = {
        "compressed": address.compressed,
        "exploded": address.exploded,
        "upper": address.compressed.upper(),
        "scoped": f"{address.compressed}%eth0",
        "mapped": f"::ffff:{ipaddress.IPv4Address(number % 2**32)}",
    }[form]
    expected = ipaddress.IPv6Address(written).packed[:8].hex() + "/64"
    assert client_network(written) == expected


# Measured by `python -m devtools.botcorpus` on matomo's device-detector fixtures (34,250
# browser agents, 1,341 labelled bots): tests/data keeps what the normalisation can change.
LABELLED = json.loads((Path(__file__).resolve().parent.parent / "data" / "labelled_agents.json").read_text())


def test_fewer_real_browsers_are_called_bots() -> None:
    before = LABELLED["browsers_flagged_as_sent"]
    still = [a for a in before if bots.reason(a, "en") == bots.CRAWLER]
    assert len(before) == 40 and len(still) <= 14, still  # 65 % fewer (docs/pages.md)
    for phone in ("Spider 8", "VR BOT", "Cronet/"):
        assert any(phone in a for a in before), phone
        assert all(bots.reason(a, "en") is None for a in before if phone in a), phone


def test_no_labelled_bot_the_normalisation_rewrites_is_lost() -> None:
    rewritten = LABELLED["bots_rewritten"]
    assert rewritten and all(bots.normalised(a) != a for a in rewritten)
    assert [a for a in rewritten if bots.reason(a, "en") != bots.CRAWLER] == []


@given(st.text(max_size=200))
def test_an_agent_without_android_or_cronet_reaches_the_list_unchanged(agent: str) -> None:
    if "Android" not in agent and "ronet" not in agent.lower():
        assert bots.normalised(agent) == agent


def test_the_device_model_is_hidden_and_program_tokens_kept() -> None:
    phone = (
        "Mozilla/5.0 (Linux; Android 13; Spider 8 Build/TP1A; wv) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
    )
    assert bots.normalised(phone).startswith("Mozilla/5.0 (Linux; Android 13; K; wv) ")
    google = "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3; Storebot-Google/1.0) AppleWebKit/537.36"
    assert "Storebot-Google/1.0" in bots.normalised(google) and bots.reason(google, "en") == bots.CRAWLER
    assert bots.normalised("Mozilla/5.0 Chrome/120.0 Cronet/120.0.6099.43 Safari") == "Mozilla/5.0 Chrome/120.0 Safari"
