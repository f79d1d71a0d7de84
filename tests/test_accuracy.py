"""Counts people can trust, through the handler on real redis-server processes: reloads count
once, one client counts at most its limit, bots are tallied apart and never create a page,
and no raw address or unsalted digest is ever stored."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import redis

from tests.support.events import Invoke, body_json, header, invoker, page_event
from tests.support.servers import RedisServer

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1"


def at(event: dict[str, Any], offset_ms: int) -> dict[str, Any]:
    """The event ``offset_ms`` after the template's request time."""
    event["requestContext"]["timeEpoch"] += offset_ms
    return event


def stats(invoke: Invoke, page: str) -> dict[str, Any]:
    body: dict[str, Any] = body_json(invoke(page_event(page, "/stats", {"period": "48h"})))
    return body


def test_thirty_reloads_by_one_visitor_count_once_per_dedupe_window(invoke_hits: Invoke) -> None:
    # One visitor reloading every 300 ms for 9 s: counted at 0 s and at the first reload
    # 5 s (DEDUPE_SECONDS, the template's) after it; every reload answers the current N.
    answers = [
        body_json(invoke_hits(at(page_event("post", source_ip="198.51.100.1"), i * 300)))["hits"] for i in range(30)
    ]
    assert answers == [1] * 17 + [2] * 13
    assert stats(invoke_hits, "post")["uniques"] == 1
    # Another visitor (another agent from the same address) counts at once.
    other = page_event("post", source_ip="198.51.100.1", user_agent=BROWSER)
    assert body_json(invoke_hits(at(other, 500)))["hits"] == 3


def test_dedupe_off_counts_every_reload(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", DEDUPE_SECONDS="0")
    invoke = invoker(hits_module)
    answers = [body_json(invoke(page_event("post", source_ip="198.51.100.1")))["hits"] for _ in range(5)]
    assert answers == [1, 2, 3, 4, 5]


def test_one_client_with_a_new_agent_each_time_counts_at_most_the_limit(invoke_hits: Invoke) -> None:
    statuses, counted = [], []
    for i in range(150):
        response = invoke_hits(at(page_event("home", source_ip="192.0.2.9", user_agent=f"{BROWSER} r{i}"), i))
        statuses.append(response["statusCode"])
        if response["statusCode"] == 200:
            counted.append(body_json(response)["hits"])
            assert header(response, "RateLimit-Limit") == "60"
            assert header(response, "RateLimit-Remaining") == str(60 - len(counted))
        else:
            assert response["statusCode"] == 429
            assert body_json(response)["error"]["code"] == "rate_limited"
            reset = header(response, "Retry-After")
            assert reset is not None and 1 <= int(reset) <= 60
            assert header(response, "RateLimit-Remaining") == "0"
            assert header(response, "RateLimit-Reset") == reset
    assert statuses.count(200) == 60 and statuses.count(429) == 90
    assert counted == list(range(1, 61))
    # The badge still renders the number, and counts nothing.
    badge = invoke_hits(page_event("home", "/badge.svg", source_ip="192.0.2.9", user_agent=f"{BROWSER} badge"))
    assert badge["statusCode"] == 200 and ">60<" in badge["body"]
    # Another client counts; the same client counts again in the next minute.
    assert body_json(invoke_hits(page_event("home", source_ip="192.0.2.10")))["hits"] == 61
    later = invoke_hits(at(page_event("home", source_ip="192.0.2.9", user_agent="next minute"), 60_000))
    assert later["statusCode"] == 200 and body_json(later)["hits"] == 62


def test_do_not_track_does_not_lift_the_limit(invoke_hits: Invoke) -> None:
    codes = [
        invoke_hits(page_event("p", source_ip="192.0.2.20", dnt="1", user_agent=f"{BROWSER} {i}"))["statusCode"]
        for i in range(61)
    ]
    assert codes.count(200) == 60 and codes[-1] == 429
    assert stats(invoke_hits, "p")["uniques"] == 0


@pytest.mark.parametrize(
    ("agent", "language", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "en", "crawler"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "en", "crawler"),
        ("python-requests/2.32.3", "", "crawler"),
        ("curl/8.5.0", "", "crawler"),
        ("", "en", "no_user_agent"),
        (BROWSER, "", "no_accept_language"),
    ],
)
def test_bots_add_no_hit_and_no_visitor_and_show_apart(
    invoke_hits: Invoke, agent: str, language: str, reason: str
) -> None:
    assert body_json(invoke_hits(page_event("doc")))["hits"] == 1
    for _ in range(3):
        event = page_event("doc", user_agent=agent, accept_language=language)
        assert body_json(invoke_hits(event))["hits"] == 1  # the current N, nothing counted
        badge = page_event("doc", "/badge.svg", user_agent=agent, accept_language=language)
        assert ">1<" in invoke_hits(badge)["body"]
    body = stats(invoke_hits, "doc")
    assert (body["total"], body["uniques"]) == (1, 1)
    assert body["bots"] == {"total": 6, "by_reason": {reason: 6}}


def test_an_image_proxy_fetching_for_people_counts(invoke_hits: Invoke) -> None:
    # GitHub's camo fetches a README's badge for each reader: no Accept-Language, not a browser.
    event = page_event("readme", "/badge.svg", user_agent="github-camo (876de43e)", accept_language="")
    assert ">1<" in invoke_hits(event)["body"]
    assert stats(invoke_hits, "readme")["bots"] == {"total": 0, "by_reason": {}}


def test_bots_never_create_a_page(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    for i in range(50):
        response = invoke_hits(page_event(f"probe-{i}", user_agent="Googlebot/2.1"))
        assert body_json(response)["hits"] == 0
    assert shared_redis.client().keys("test:*") == []
    assert invoke_hits(page_event("probe-1", "/stats"))["statusCode"] == 404


def test_no_raw_address_or_unsalted_digest_is_stored(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    address = "192.0.2.77"
    for i in range(3):
        invoke_hits(at(page_event("secret", source_ip=address, user_agent=f"{BROWSER} {i}"), i * 10_000))
    client: Any = redis.Redis.from_url(shared_redis.url)  # bytes: a HyperLogLog is binary
    unsalted = hashlib.sha256(f"ip\n{address}".encode()).hexdigest().encode()
    stored = b""
    for key in client.keys("*"):
        kind = client.type(key)
        stored += key + b"\n"
        if kind == b"string":
            stored += client.get(key) or b""
        elif kind == b"hash":
            stored += b"".join(k + v for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            stored += b"".join(m for m, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"set":
            stored += b"".join(client.smembers(key))
    assert address.encode() not in stored and unsalted not in stored
    assert b":rl:" in stored  # the limit's window was written (salted)


def test_what_the_rules_store_expires(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    invoke_hits(page_event("ttl"))
    invoke_hits(page_event("ttl", user_agent="Googlebot/2.1"))
    client = shared_redis.client()
    ttls = {str(key): int(client.ttl(key)) for key in client.scan_iter()}
    window = [ttl for key, ttl in ttls.items() if ":rl:" in key]
    recent = [ttl for key, ttl in ttls.items() if key.endswith(":recent")]
    assert window and 0 < window[0] <= 60
    assert recent and 0 < recent[0] <= 5
    # The page's count and registry entry live PAGE_IDLE_DAYS past its last counted hit;
    # the registry itself lives as long as its slot has pages, and the slot's pages' hits (one
    # counter a slot, 64 in all) for good.
    assert all(ttl > 0 for key, ttl in ttls.items() if not key.endswith((":reg", ":hits")))
    counts = [ttl for key, ttl in ttls.items() if key.endswith(":count")]
    assert counts and 364 * 86400 < counts[0] <= 365 * 86400


def test_the_rules_hold_on_a_cluster_in_one_round_trip(
    cluster: Any, hits_module: ModuleType, function_env: Callable[..., None]
) -> None:
    cluster.flushall()
    function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", KEY_PREFIX="")
    invoke = invoker(hits_module)
    nodes = [node.client() for node in cluster.alive()]
    for node in nodes:
        node.config_resetstat()
    answers = [body_json(invoke(at(page_event("c", source_ip="198.51.100.5"), i * 1000)))["hits"] for i in range(7)]
    assert answers == [1, 1, 1, 1, 1, 2, 2]
    stats_of = [n.info("commandstats").get("cmdstat_evalsha", {}) for n in nodes]
    # One script per request, counted or not (a first EVALSHA refused NOSCRIPT ran nothing),
    # and two more for the page's creation: the client's new-page budget, on its own slot,
    # then the hit again.
    ran = [int(s.get("calls", 0)) - int(s.get("rejected_calls", 0)) - int(s.get("failed_calls", 0)) for s in stats_of]
    assert sum(ran) == 7 + 2
    bot = invoke(page_event("c", user_agent="bingbot/2.0"))
    assert body_json(bot)["hits"] == 2
    body = body_json(invoke(page_event("c", "/stats", {"period": "48h"})))
    assert body["bots"]["by_reason"] == {"crawler": 1}


def test_rotating_ipv6_addresses_within_one_64_is_one_client(invoke_hits: Invoke) -> None:
    # One subscriber's /64 holds 2^64 addresses: a new one per request is still one client.
    codes = [
        invoke_hits(page_event("v6", source_ip=f"2001:db8:aa:bb::{i:x}", user_agent=f"{BROWSER} {i}"))["statusCode"]
        for i in range(70)
    ]
    assert codes.count(200) == 60 and codes[60:] == [429] * 10
    # The next /64 is another client.
    assert invoke_hits(page_event("v6", source_ip="2001:db8:aa:bc::1"))["statusCode"] == 200
