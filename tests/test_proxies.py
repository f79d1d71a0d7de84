"""Image proxies count each reader (docs/pages.md): GitHub's camo, Gmail's and Yahoo Mail's
proxies fetch a badge for one person each time, from a few shared addresses with one agent.
Their fetches count without the reload rule, the per-client limit or a visitor, up to
IMAGE_PROXY_HITS_PER_PAGE_MINUTE a page a minute; past it they are tallied as bots. Through
the handler, on a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.events import body_json, invoker, page_event, path_event
from tests.support.servers import RedisServer

CAMO = "github-camo (876de43e)"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
YAHOO = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
CAMO_ADDRESS = "140.82.115.1"


def _at(event: dict[str, Any], epoch_ms: int) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = epoch_ms
    return event


def _minute_start() -> int:
    now = int(time.time() * 1000)
    return now - now % 60_000


@pytest.fixture
def invoke(hits_module: ModuleType, function_env: Callable[..., None], redis_url: str) -> Callable[..., Any]:
    def start(**env: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", **env)
        return invoker(hits_module)

    return start


def _badge(page: str, agent: str, at: int, address: str = CAMO_ADDRESS) -> dict[str, Any]:
    event = page_event(page, "/badge.svg", source_ip=address, user_agent=agent)
    event["headers"].pop("accept-language", None)  # camo sends none
    return _at(event, at)


@pytest.mark.parametrize("agent", [CAMO, GMAIL, YAHOO])
def test_two_readers_fetches_within_a_second_both_count(invoke: Callable[..., Any], agent: str) -> None:
    hit = invoke()
    start = _minute_start()
    shown = [hit(_badge("readme", agent, start + i * 300))["body"] for i in range(2)]
    assert ">1<" in shown[0] and ">2<" in shown[1]


def test_the_per_client_limit_does_not_hold_a_proxy_back(invoke: Callable[..., Any]) -> None:
    hit = invoke(RATE_LIMIT_PER_MINUTE="2")
    start = _minute_start()
    for i in range(5):
        hit(_badge("readme", CAMO, start + i))
    stats = body_json(hit(_at(page_event("readme", "/stats", {"period": "48h"}), start + 10)))
    assert stats["total"] == 5 and stats["uniques"] == 0  # five readers, none of them known


def test_a_flood_with_a_proxys_agent_stops_at_the_cap_and_is_tallied_apart(
    invoke: Callable[..., Any], shared_redis: RedisServer
) -> None:
    hit = invoke(IMAGE_PROXY_HITS_PER_PAGE_MINUTE="5")
    start = _minute_start()
    for i in range(12):
        hit(_badge("readme", CAMO, start + i * 10))
    # A path page too, and by an address faking the agent: the cap is the page's.
    for i in range(8):
        event = path_event("/docs/", "/badge.svg", source_ip="203.0.113.99", user_agent=CAMO)
        hit(_at(event, start + i * 10))
    stats = body_json(hit(_at(page_event("readme", "/stats", {"period": "30d"}), start + 1000)))
    assert stats["total"] == 5
    assert stats["bots"] == {"total": 7, "by_reason": {"proxy_cap": 7}}
    path_stats = body_json(hit(_at(path_event("/docs/", "/stats", {"period": "30d"}), start + 1000)))
    assert path_stats["total"] == 5 and path_stats["bots"]["by_reason"] == {"proxy_cap": 3}
    # The next minute counts again.
    assert ">6<" in hit(_badge("readme", CAMO, start + 60_000))["body"]


def test_with_the_cap_off_a_proxy_is_any_client(invoke: Callable[..., Any]) -> None:
    hit = invoke(IMAGE_PROXY_HITS_PER_PAGE_MINUTE="0", RATE_LIMIT_PER_MINUTE="3")
    start = _minute_start()
    for i in range(6):
        hit(_badge("readme", CAMO, start + i))
    stats = body_json(hit(_at(page_event("readme", "/stats", {"period": "48h"}), start + 10)))
    assert stats["total"] == 3  # the per-client limit, as for anyone
