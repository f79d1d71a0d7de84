"""Counting guarantees and failure behaviour: at most once per request, exactly once per
Idempotency-Key, a fast 503 when Redis is away, recovery without a restart."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.events import Invoke, body_json, context, header, load_event
from tests.support.routes import ROUTES
from tests.support.servers import FaultProxy, RedisServer, redis_server, wait_for


def keyed(key: str, name: str = "hits/get-root-json") -> dict[str, Any]:
    event = load_event(name)
    event["headers"]["idempotency-key"] = key
    return event


def test_a_replayed_key_returns_the_same_n_and_counts_nothing(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    invoke_hits(load_event("hits/get-root"))
    first = invoke_hits(keyed("order-7f3a"))
    replay = invoke_hits(keyed("order-7f3a"))
    assert body_json(first) == body_json(replay) == {"hits": 2}
    assert header(first, "Idempotent-Replayed") is None
    assert header(replay, "Idempotent-Replayed") == "true"
    text_replay = invoke_hits(keyed("order-7f3a", "hits/get-root"))
    assert text_replay["body"] == "Hello World! 2 times."
    assert body_json(invoke_hits(load_event("hits/get-hits"))) == {"hits": 2}
    assert body_json(invoke_hits(keyed("order-8b1c"))) == {"hits": 3}


def test_the_record_lives_idempotency_ttl_seconds(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str, shared_redis: RedisServer
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", IDEMPOTENCY_TTL_SECONDS="120")
    hits_module.lambda_handler(keyed("k1"), context("r"))
    (record,) = shared_redis.client().keys("t:{hits}:idem:*")
    assert 110 < shared_redis.client().ttl(record) <= 120
    assert "k1" not in record  # the client's key is hashed, never used as a Redis key


@pytest.mark.parametrize("key", ["", "x" * 256, "abc\x01", "tab\tkey", "del\x7f", "line\nbreak"])
def test_an_unusable_key_is_a_400_and_counts_nothing(invoke_hits: Invoke, shared_redis: RedisServer, key: str) -> None:
    response = invoke_hits(keyed(key))
    assert response["statusCode"] == 400
    assert body_json(response)["error"]["code"] == "bad_request"
    assert shared_redis.client().keys("*") == []


def test_a_255_character_key_is_fine(invoke_hits: Invoke) -> None:
    assert invoke_hits(keyed("k" * 255))["statusCode"] == 200


def test_one_round_trip_per_keyed_hit(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    invoke_hits(keyed("warm-up"))  # connection handshake and the script load
    admin = shared_redis.client()
    admin.config_resetstat()
    for i in range(5):
        invoke_hits(keyed(f"k{i}"))
    stats = admin.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 5  # the script's own GET/INCR/SET run inside it
    assert "cmdstat_script|load" not in stats and "cmdstat_eval" not in stats


# --- lost replies ----------------------------------------------------------------------------


@pytest.fixture
def proxied(hits_module: ModuleType, function_env: Callable[..., None]) -> Iterator[tuple[FaultProxy, RedisServer]]:
    with redis_server() as server:
        proxy = FaultProxy(server.port)
        function_env(REDIS_URL=proxy.url, REDIS_COMMAND_TIMEOUT="0.2", KEY_PREFIX="")
        try:
            yield proxy, server
        finally:
            proxy.close()


def test_without_a_key_a_lost_reply_counts_at_most_once(hits_module: ModuleType, proxied) -> None:
    proxy, server = proxied
    ctx = context("r")
    hits_module.lambda_handler(load_event("hits/get-root"), ctx)
    proxy.swallow_replies()
    assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["statusCode"] == 503
    # The client retries: a new request, counted once more; the lost one was never re-sent.
    assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["body"] == "Hello World! 3 times."
    assert server.client().get("{hits}:count") == "3"


def test_with_a_key_a_retry_after_a_lost_reply_counts_exactly_once(hits_module: ModuleType, proxied) -> None:
    proxy, server = proxied
    ctx = context("r")
    hits_module.lambda_handler(keyed("first"), ctx)
    proxy.swallow_replies()
    # The INCR ran, its reply was lost: the client sees 503 and retries with the same key.
    assert hits_module.lambda_handler(keyed("pay-42"), ctx)["statusCode"] == 503
    retry = hits_module.lambda_handler(keyed("pay-42"), ctx)
    assert (retry["statusCode"], body_json(retry), header(retry, "Idempotent-Replayed")) == (200, {"hits": 2}, "true")
    assert server.client().get("{hits}:count") == "2"


def test_a_lost_reply_halfway_through_the_days_unions_leaves_the_next_read_whole(
    hits_module: ModuleType, proxied, monkeypatch
) -> None:
    """The day's first 30-day `GET /pages` makes 128 unions in a few script calls: the first
    call's reply is lost (it ran; the others never did). The read fails fast; the next one
    makes what is missing, keeps what is there, and lists every page, yesterday's included."""
    from hitcounter.data import history_reads, scripts
    from hitcounter.model import history
    from tests.support.events import page_event, stats_event

    proxy, server = proxied
    now = int(time.time() * 1000)
    for page, at in (("yesterday", now - 86_400_000), ("today", now)):
        for _ in range(3):
            event = page_event(page)
            event["requestContext"]["timeEpoch"] = at
            assert hits_module.lambda_handler(event, context("r"))["statusCode"] == 200
    # Loaded, as on any Redis that served a read before: the lost call runs, not a NOSCRIPT.
    server.client().script_load(scripts.TOP_UNION.strip())
    made = history_reads.union_calls

    def lose_the_first_reply(*args: Any) -> Any:
        calls = made(*args)
        assert len(calls) > 1  # the fault lands between calls, not after the last
        proxy.swallow_replies()
        return calls

    monkeypatch.setattr(history_reads, "union_calls", lose_the_first_reply)
    read = stats_event(now, "30d", "/pages")
    read["routeKey"] = read["requestContext"]["routeKey"] = "GET /pages"
    assert hits_module.lambda_handler(read, context("r"))["statusCode"] == 503
    monkeypatch.setattr(history_reads, "union_calls", made)
    proxy.passthrough()
    wait_for(proxy.drained, timeout=10, what="the lost call to reach Redis")
    admin = server.client()
    wait_for(lambda: admin.keys("*topq*"), timeout=10, what="the lost call's unions")
    unions_before = set(admin.keys("*topq*"))
    assert 0 < len(unions_before) < 64  # the first call's unions only
    answer = hits_module.lambda_handler(read, context("r"))
    assert answer["statusCode"] == 200
    assert {p["page"]: p["hits"] for p in body_json(answer)["pages"]} == {"yesterday": 3, "today": 3}
    unions = set(admin.keys("*topq*"))
    assert unions >= unions_before and len(unions) == 64
    assert all(0 < admin.ttl(key) <= history.UNION_TTL for key in unions)


# --- Redis away and back --------------------------------------------------------------------
# --- Redis away and back --------------------------------------------------------------------

# Every route the hits and session functions serve (tests/support/routes.py): with Redis away,
# each answers its documented status fast, a 503 with Retry-After or (liveness, a badge) 200.
REDIS_ROUTES = [
    (spec.function, spec.event, spec.redis_down)
    for spec in ROUTES.values()
    if spec.function in ("HitsFunction", "SessionFunction") and spec.redis_down is not None
]


def test_every_route_that_needs_redis_fails_fast_and_recovers(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None]
) -> None:
    with redis_server() as server:
        for function in ("HitsFunction", "SessionFunction"):
            function_env(function, REDIS_URL=server.url)
        server.stop()
        for function, name, status in REDIS_ROUTES:
            started = time.monotonic()
            response = function_modules[function].lambda_handler(load_event(name), context("r"))
            elapsed = time.monotonic() - started
            if status == 503:
                assert (response["statusCode"], header(response, "Retry-After")) == (503, "1"), name
            else:
                assert response["statusCode"] == status, name
            assert elapsed < 2.5, name  # connect timeout 0.5 s, nothing retried
        server.restart()
        for function, name in (("HitsFunction", "hits/get-root"), ("SessionFunction", "session/post-session")):
            response = function_modules[function].lambda_handler(load_event(name), context("r"))
            assert response["statusCode"] in (200, 201), name


def test_all_connections_killed_between_invocations(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    invoke_hits(keyed("a"))
    invoke_hits(load_event("hits/get-root"))
    shared_redis.client().client_kill_filter(_type="normal", skipme=True)
    assert body_json(invoke_hits(keyed("b"))) == {"hits": 3}


# --- concurrency over HTTP through make dev's server -----------------------------------------


@pytest.mark.slow
@pytest.mark.faults  # concurrent clients while workers are recycled: the fault tier (make test-faults)
@pytest.mark.parametrize("recycle", [False, True], ids=["warm", "recycle"])
def test_8_clients_x_200_hits_over_http_are_exactly_the_next_1600(
    template: sam_template.Template, redis_url: str, shared_redis: RedisServer, recycle: bool
) -> None:
    shared_redis.client().set("{hits}:count", 41_000)
    api = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url, "KEY_PREFIX": ""}}, recycle=recycle))
    api.start()
    try:

        def client(_: int) -> list[int]:
            counts = []
            for _ in range(200):
                request = urllib.request.Request(f"{api.url}/", headers={"Accept": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    counts.append(json.loads(response.read())["hits"])
            return counts

        with ThreadPoolExecutor(8) as pool:
            counts = [n for batch in pool.map(client, range(8)) for n in batch]
    finally:
        api.stop()
    assert sorted(counts) == list(range(41_001, 42_601))
