"""Every page together (the dashboard's headline, ``GET /pages``' ``all``): the pages' hits,
today's hits and visitors and the period's referring hosts, kept by the hit script in each
slot's own tallies, moved by a seed, a correction and a delete in the same step, and read at
one cost whatever the number of pages. Through the handler, on a real redis-server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.events import Invoke, body_json, invoker, load_event, page_event
from tests.support.redis_calls import round_trips
from tests.support.servers import RedisServer


def _all(invoke: Invoke, server: RedisServer | None = None) -> dict[str, Any]:
    """``GET /pages``' ``all`` (with ``server``: assembled afresh, not the answer kept for
    TOP_CACHE_SECONDS)."""
    if server is not None:
        client = server.client()
        client.delete(*client.keys("t:*topc*") or ["-"])
    event = load_event("hits/get-top-pages")
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    response = invoke(event)
    assert response["statusCode"] == 200, response
    answer: dict[str, Any] = body_json(response)["all"]
    return answer


def _now(event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    return event


def _put(page: str, body: dict[str, Any]) -> dict[str, Any]:
    event = load_event("hits/put-page-count")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/pages/{page}/count"
    event["pathParameters"] = {"page": page}
    event["body"] = json.dumps(body)
    return event


def _delete(page: str) -> dict[str, Any]:
    event = load_event("hits/delete-page")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/pages/{page}"
    event["pathParameters"] = {"page": page}
    return _now(event)


@pytest.fixture(params=["1", "4"], ids=["one shard", "HITS_SHARDS=4"])
def invoke(
    request: pytest.FixtureRequest, hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> Invoke:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", HITS_SHARDS=request.param)
    return invoker(hits_module)


def test_every_page_together_follows_hits_seeds_corrections_and_deletes(
    invoke: Invoke, shared_redis: RedisServer
) -> None:
    for page, hits in (("home", 2), ("about", 3), ("post-1", 4), ("post-2", 5)):
        for _ in range(hits):
            assert invoke(_now(page_event(page)))["statusCode"] == 200
    assert invoke(_now(page_event("post-1", query={"r": "https://lobste.rs/s/x"}, origin="https://blog.example")))
    together = _all(invoke, shared_redis)
    assert together["hits"] == 15 and together["today"]["hits"] == 15
    assert abs(together["today"]["uniques"] - 15) <= 1  # a visitor of its own per hit, one page each
    assert together["referrers"] == [{"host": "lobste.rs", "hits": 1}]
    assert invoke(_put("old-post", {"hits": 1000}))["statusCode"] == 201  # an old counter's number
    assert (
        _all(invoke, shared_redis)["hits"] == 1015 and _all(invoke, shared_redis)["today"]["hits"] == 15
    )  # not a hit of today
    assert invoke(_put("post-2", {"hits": 50, "replace": True}))["statusCode"] == 200  # 5 -> 50
    assert _all(invoke, shared_redis)["hits"] == 1060
    assert invoke(_delete("old-post"))["statusCode"] == 204
    assert _all(invoke, shared_redis)["hits"] == 60


def test_the_read_costs_the_same_at_ten_pages_and_at_two_hundred(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str, shared_redis: RedisServer
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", NEW_PAGES_PER_CLIENT_MINUTE="0", NEW_PAGES_PER_CLIENT_DAY="0")
    invoke = invoker(hits_module)
    client = shared_redis.client()
    sent: list[int] = []
    assembled: list[int] = []

    def read() -> None:
        def fresh() -> int:  # an assembly, as every TOP_CACHE_SECONDS
            client.delete(*client.keys("t:*topc*") or ["-"])
            return round_trips(lambda: _all(invoke))

        fresh()  # the day's first read: the slots' unions made once
        assembled.append(fresh())
        sent.append(round_trips(lambda: _all(invoke)))

    for n in range(10):
        invoke(_now(page_event(f"p{n}", query={"r": f"https://site{n}.example/"})))
    read()
    for n in range(10, 200):
        invoke(_now(page_event(f"p{n}", query={"r": f"https://site{n}.example/"})))
    read()
    assert sent == [1, 1]  # the answer kept for TOP_CACHE_SECONDS: one GET
    # Assembled: the same at 10 and at 200 pages (after the day's first read, which makes the
    # slots' unions once).
    assert assembled[0] == assembled[1], assembled
