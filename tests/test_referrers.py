"""Referring sites per page (docs/pages.md): the host of ``?r=`` kept per page and UTC day in
the hit's one script, read back in a page's stats and its dashboard view; the page's own site,
a badge's Referer, a bot or a reload never make one; a flood of made-up hosts stays bounded.
Through the handler, on a real redis-server."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from hitcounter.model import referrers
from hitcounter.model.paths import page_of
from tests.support.events import Invoke, body_json, invoker, page_event, path_event, stats_event
from tests.support.redis_calls import round_trips
from tests.support.servers import RedisServer

SITE = "https://blog.example.org"
DAY_MS = 86_400_000


def _from(r: str, page: str = "post", at_ms: int | None = None, **headers: str) -> dict[str, Any]:
    event = page_event(page, query={"r": r}, origin=SITE, **headers)
    if at_ms is not None:
        event["requestContext"]["timeEpoch"] = at_ms
    return event


def _stats(
    invoke: Invoke, page: str = "post", period: str = "30d", at_ms: int | None = None, **query: str
) -> dict[str, Any]:
    event = page_event(page, "/stats", {"period": period, **query})
    if at_ms is not None:
        event["requestContext"]["timeEpoch"] = at_ms
    response = invoke(event)
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = body_json(response)
    return body


def _referred_keys(server: RedisServer) -> list[str]:
    return [str(k) for k in server.client().keys("*") if ":page:" in str(k) and ":r:" in str(k)]


def test_a_pages_referring_hosts_are_counted_exactly_most_first(invoke_hits: Invoke) -> None:
    sent = ["https://news.ycombinator.com/item?id=1"] * 3 + ["https://www.reddit.com/r/x"] * 2
    sent += ["https://reddit.com/", "https://lobste.rs/s/abc", "android-app://com.google.android.gm/"]
    for r in sent:
        assert invoke_hits(_from(r))["statusCode"] == 200
    assert _stats(invoke_hits)["referrers"] == [
        {"host": "news.ycombinator.com", "hits": 3},
        {"host": "reddit.com", "hits": 3},
        {"host": "lobste.rs", "hits": 1},
    ]
    assert _stats(invoke_hits, limit="2")["referrers"] == _stats(invoke_hits)["referrers"][:2]
    assert invoke_hits(page_event("post", "/stats", {"limit": "51"}))["statusCode"] == 400


def test_own_site_badges_bots_and_reloads_make_no_referrer(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    assert invoke_hits(_from(f"{SITE}/older-post/"))["statusCode"] == 200  # moving within the site
    badge = page_event("post", "/badge.svg", referer="https://github.com/someone/project")
    assert invoke_hits(badge)["statusCode"] == 200  # a badge's Referer is the embedding page
    bot = _from("https://example.com/", user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
    assert invoke_hits(bot)["statusCode"] == 200
    twice = [_from("https://example.net/", source_ip="198.51.100.20") for _ in range(2)]
    assert [invoke_hits(e)["statusCode"] for e in twice] == [200, 200]  # the second: a reload
    assert _stats(invoke_hits)["referrers"] == [{"host": "example.net", "hits": 1}]
    assert _stats(invoke_hits)["total"] == 3  # the first hit, the badge's and the first of the two


def test_a_path_page_takes_r_from_count_js_and_reads_it_by_path(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    event = path_event("/2024/05/hello/", query={"r": "https://news.ycombinator.com/"}, origin=SITE)
    assert body_json(invoke_hits(event))["hits"] == 1
    page = stats_event(int(time.time() * 1000), "30d")
    page["queryStringParameters"]["path"] = "/2024/05/hello/"
    assert body_json(invoke_hits(page))["referrers"] == [{"host": "news.ycombinator.com", "hits": 1}]
    key = _referred_keys(shared_redis)
    assert len(key) == 1 and page_of("/2024/05/hello/") in key[0]
    assert shared_redis.client().ttl(key[0]) > 34 * 86400  # kept as the uniques and bots are


def test_a_hit_with_a_referrer_is_still_one_round_trip(invoke_hits: Invoke) -> None:
    invoke_hits(_from("https://example.com/"))  # the page exists
    assert round_trips(lambda: invoke_hits(_from("https://example.com/"))) == 1


def test_the_period_sums_closed_days_and_today(invoke_hits: Invoke) -> None:
    now = int(time.time()) // 86400 * DAY_MS + DAY_MS // 2  # today's noon (UTC): 1h holds today alone
    sent = [(3, "https://a.example/"), (3, "https://b.example/"), (1, "https://a.example/"), (0, "https://a.example/")]
    for days_ago, r in sent:
        invoke_hits(_from(r, at_ms=now - days_ago * DAY_MS))
    both = [{"host": "a.example", "hits": 3}, {"host": "b.example", "hits": 1}]
    assert _stats(invoke_hits, at_ms=now)["referrers"] == both
    assert _stats(invoke_hits, period="1h", at_ms=now)["referrers"] == [{"host": "a.example", "hits": 1}]
    invoke_hits(_from("https://b.example/", at_ms=now))  # today's hits reach the period's read at once
    assert _stats(invoke_hits, at_ms=now)["referrers"][1] == {"host": "b.example", "hits": 2}


@pytest.fixture
def invoke_unlimited(hits_module: ModuleType, function_env: Callable[..., None], redis_url: str) -> Invoke:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="test:", RATE_LIMIT_PER_MINUTE="0", DEDUPE_SECONDS="0")
    return invoker(hits_module)


def test_a_flood_of_made_up_hosts_stays_bounded_and_a_real_referrer_outlasts_it(
    invoke_unlimited: Invoke, shared_redis: RedisServer
) -> None:
    rng = random.Random(7)
    real = 0
    for i in range(1_500):
        if i % 10 == 0:
            invoke_unlimited(_from("https://news.ycombinator.com/"))
            real += 1
        made_up = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=40))
        invoke_unlimited(_from(f"https://{made_up}.example/"))
    (key,) = _referred_keys(shared_redis)
    client = shared_redis.client()
    held: Any = client.zrange(key, 0, -1, withscores=True)
    assert len(held) == referrers.HOSTS_PER_DAY + 1  # the cap, and other
    assert sum(score for _, score in held) == 1_500 + real  # every referred hit is somewhere
    memory = client.memory_usage(key)
    assert memory is not None and memory < 8 * 1024, memory  # a listpack: a few kB whatever the flood
    assert client.object("encoding", key) == "listpack"
    top = _stats(invoke_unlimited)["referrers"]
    assert top[0] == {"host": "other", "hits": top[0]["hits"]} and top[0]["hits"] > 1_000
    assert {"host": "news.ycombinator.com", "hits": real} in top


def test_the_dashboard_lists_a_pages_referrers(invoke_hits: Invoke) -> None:
    invoke_hits(_from("https://news.ycombinator.com/"))
    event = stats_event(int(time.time() * 1000), "30d", "/dashboard")
    event["queryStringParameters"]["page"] = "post"
    html = invoke_hits(event)["body"]
    assert "<h2>Referring sites</h2>" in html
    assert "<tr><td>news.ycombinator.com</td><td class=n>1</td></tr>" in html
