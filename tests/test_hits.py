"""The hit counter's HTTP contract, through the handler with the events from events/."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from tests.support.events import ROOT, Invoke, body_json, context, header, load_event
from tests.support.servers import FaultProxy, RedisServer, redis_server, wait_for


def test_counts_from_the_sam_generated_event(invoke_hits: Invoke) -> None:
    # Given the event SAM CLI itself generates for an HTTP API GET /
    out = subprocess.run(
        [
            str(ROOT / ".venv/bin/sam"),
            "local",
            "generate-event",
            "apigateway",
            "http-api-proxy",
            "--method",
            "GET",
            "--path",
            "",
        ],
        check=True,
        capture_output=True,
        text=True,
        env={"SAM_CLI_TELEMETRY": "0", "PATH": "/usr/bin:/bin"},
    ).stdout
    event = json.loads(out)
    # When it is sent twice, Then the seed's text comes back with 1, then 2
    first, second = invoke_hits(event), invoke_hits(json.loads(out))
    assert (first["statusCode"], first["body"]) == (200, "Hello World! 1 times.")
    assert second["body"] == "Hello World! 2 times."
    assert header(first, "Content-Type") == "text/plain"


def test_json_when_the_client_accepts_json(invoke_hits: Invoke) -> None:
    invoke_hits(load_event("hits/get-root"))
    response = invoke_hits(load_event("hits/get-root-json"))
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "application/json"
    assert body_json(response) == {"hits": 2}


@pytest.mark.parametrize(
    ("accept", "is_json"),
    [
        ("*/*", False),
        ("text/plain", False),
        ("application/json", True),
        ("text/html, application/json;q=0.9", False),
        ("text/plain;q=0.1, application/json", True),
        ("application/*", True),
        ("application/json;q=0", False),
    ],
)
def test_accept_negotiation(invoke_hits: Invoke, accept: str, is_json: bool) -> None:
    event = load_event("hits/get-root")
    event["headers"]["accept"] = accept
    response = invoke_hits(event)
    assert (header(response, "Content-Type") == "application/json") is is_json


def test_hits_reads_without_counting(invoke_hits: Invoke) -> None:
    assert body_json(invoke_hits(load_event("hits/get-hits"))) == {"hits": 0}
    invoke_hits(load_event("hits/get-root"))
    for _ in range(3):
        assert body_json(invoke_hits(load_event("hits/get-hits"))) == {"hits": 1}
    assert invoke_hits(load_event("hits/get-root"))["body"] == "Hello World! 2 times."


def test_health_and_ready(invoke_hits: Invoke) -> None:
    health = invoke_hits(load_event("hits/get-health"))
    assert (health["statusCode"], body_json(health)) == (200, {"status": "ok"})
    ready = invoke_hits(load_event("hits/get-health-ready"))
    assert ready["statusCode"] == 200
    body = body_json(ready)
    assert body["status"] == "ok"
    assert isinstance(body["redis_ms"], float) and body["redis_ms"] >= 0


def test_unknown_route_is_a_json_404(invoke_hits: Invoke) -> None:
    event = load_event("hits/get-root", rawPath="/nope", routeKey="$default")
    event["requestContext"]["http"]["path"] = "/nope"
    response = invoke_hits(event)
    assert response["statusCode"] == 404
    assert body_json(response)["error"]["code"] == "not_found"


def test_wrong_method_is_a_405_with_allow(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    event = load_event("hits/get-hits")
    event["requestContext"]["http"]["method"] = "DELETE"
    response = invoke_hits(event)
    assert response["statusCode"] == 405
    assert header(response, "Allow") == "GET"
    assert body_json(response)["error"]["code"] == "method_not_allowed"
    post_root = load_event("hits/get-root")
    post_root["requestContext"]["http"]["method"] = "POST"
    assert invoke_hits(post_root)["statusCode"] == 405
    assert shared_redis.client().keys("*") == []  # nothing was counted


def test_not_an_http_api_event_is_a_400(invoke_hits: Invoke) -> None:
    not_http: list[dict[str, Any]] = [
        {"requestContext": {"requestId": "x"}},
        {"Records": [], "requestContext": {"requestId": "x"}},
        {"rawPath": "/", "requestContext": {"requestId": "x"}},  # v2 shape without requestContext.http
    ]
    for event in not_http:
        response = invoke_hits(event)
        assert response["statusCode"] == 400
        assert body_json(response)["error"]["code"] == "bad_request"


def test_key_prefix_namespaces_the_counter(
    hits_module, function_env: Callable[..., None], invoke_hits: Invoke, redis_url: str
) -> None:
    invoke_hits(load_event("hits/get-root"))
    invoke_hits(load_event("hits/get-root"))
    function_env(REDIS_URL=redis_url, KEY_PREFIX="prod:")
    assert invoke_hits(load_event("hits/get-root"))["body"] == "Hello World! 1 times."
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.get("test:{hits}:count") == "2"
    assert client.get("prod:{hits}:count") == "1"


def test_one_redis_command_per_counted_hit(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    invoke_hits(load_event("hits/get-root"))  # connects (handshake commands are not per hit)
    admin = shared_redis.client()
    admin.config_resetstat()
    for _ in range(10):
        invoke_hits(load_event("hits/get-root"))
    stats = admin.info("commandstats")
    # One EVALSHA per hit is the one round trip; Redis also counts the commands the script
    # runs inside (the count and its three buckets, their TTLs, the visitor, the day's salt).
    # The admin's CONFIG RESETSTAT is the only other command.
    calls = {name: s["calls"] for name, s in stats.items() if not name.startswith("cmdstat_config")}
    assert calls == {
        "cmdstat_evalsha": 10,
        "cmdstat_incr": 40,
        "cmdstat_expire": 40,
        "cmdstat_get": 10,
        "cmdstat_pfadd": 10,
    }
    assert "cmdstat_set" not in calls  # the day's salt was made by the first hit, before the reset


# --- failure paths -------------------------------------------------------------------


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def test_redis_down_is_a_fast_503_with_retry_after(
    hits_module, function_env: Callable[..., None], own_redis: RedisServer, logs: Callable[[], str]
) -> None:
    function_env(REDIS_URL=f"redis://:s3cret-pw@127.0.0.1:{own_redis.port}/0")
    own_redis.stop()
    for name in ("hits/get-root", "hits/get-hits", "hits/get-health-ready"):
        event = load_event(name)
        started = time.monotonic()
        response = hits_module.lambda_handler(event, context("r", 10_000))
        elapsed = time.monotonic() - started
        assert response["statusCode"] == 503
        assert header(response, "Retry-After") == "1"
        assert body_json(response)["error"]["code"] == "backend_unavailable"
        # Bounded by the 0.5 s connect timeout and no retries: far below the 10 s function timeout.
        assert elapsed < 2.5
    # Liveness does not depend on Redis.
    health = hits_module.lambda_handler(load_event("hits/get-health"), context("r"))
    assert health["statusCode"] == 200
    logged = logs()
    assert logged.count('"level":"ERROR"') == 3  # one line per failed request
    assert "s3cret-pw" not in logged
    assert "Traceback" not in logged


def test_redis_back_is_served_without_a_restart(
    hits_module, function_env: Callable[..., None], own_redis: RedisServer
) -> None:
    ctx = context("r", 10_000)
    function_env(REDIS_URL=own_redis.url)
    assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["statusCode"] == 200
    own_redis.stop()
    assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["statusCode"] == 503
    own_redis.restart()
    response = hits_module.lambda_handler(load_event("hits/get-root"), ctx)
    assert (response["statusCode"], response["body"]) == (200, "Hello World! 1 times.")


def test_client_kill_between_invocations_is_survived(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    assert invoke_hits(load_event("hits/get-root"))["body"] == "Hello World! 1 times."
    # Given the server closed every client connection while the environment was idle
    admin = shared_redis.client()
    killed = admin.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    # Then the next invocation reconnects and counts exactly once
    assert invoke_hits(load_event("hits/get-root"))["body"] == "Hello World! 2 times."
    assert admin.get("test:{hits}:count") == "2"


def test_silently_dead_socket_is_replaced_by_the_health_check(
    hits_module, function_env: Callable[..., None], own_redis: RedisServer
) -> None:
    proxy = FaultProxy(own_redis.port)
    try:
        function_env(REDIS_URL=proxy.url, REDIS_HEALTH_CHECK_INTERVAL="0.05", REDIS_COMMAND_TIMEOUT="0.2")
        ctx = context("r", 10_000)
        assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["statusCode"] == 200
        # Given the pooled socket went silent (no FIN, no RST: a frozen, forgotten flow)
        proxy.freeze()
        frozen_at = time.monotonic()
        wait_for(lambda: time.monotonic() - frozen_at > 0.1, what="the health-check interval to pass")
        # When the next request comes, the PING fails, reconnects, and the INCR goes once
        response = hits_module.lambda_handler(load_event("hits/get-root"), ctx)
        assert (response["statusCode"], response["body"]) == (200, "Hello World! 2 times.")
        assert proxy.accepted == 2
        assert own_redis.client().get("{hits}:count") is None  # template prefix is dev:
        assert own_redis.client().get("dev:{hits}:count") == "2"
    finally:
        proxy.close()


def test_a_lost_reply_is_not_resent(hits_module, function_env: Callable[..., None], own_redis: RedisServer) -> None:
    proxy = FaultProxy(own_redis.port)
    try:
        function_env(REDIS_URL=proxy.url, REDIS_COMMAND_TIMEOUT="0.2")
        ctx = context("r", 10_000)
        assert hits_module.lambda_handler(load_event("hits/get-root"), ctx)["body"] == "Hello World! 1 times."
        # Given the INCR reaches Redis but its reply is lost
        proxy.swallow_replies()
        response = hits_module.lambda_handler(load_event("hits/get-root"), ctx)
        # Then the client gets a 503, and the count moved exactly once: no blind re-send
        assert response["statusCode"] == 503
        assert own_redis.client().get("dev:{hits}:count") == "2"
        assert proxy.accepted == 1
    finally:
        proxy.close()
