"""Visitor sessions: the /session contract, the cookie, the sliding TTL, and that any
process can serve the next request of a session."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localapi.pool import WorkerPool
from localapi.template import Template
from tests.support.events import Invoke, body_json, load_event
from tests.support.servers import RedisServer, wait_for


def cookie_of(response: dict[str, Any]) -> tuple[str, set[str]]:
    """The sid value and the attributes of the response's one Set-Cookie."""
    (cookie,) = response["cookies"]
    first, *attributes = (part.strip() for part in cookie.split(";"))
    name, _, value = first.partition("=")
    assert name == "__Host-sid"
    return value, set(attributes)


def start(invoke: Invoke) -> str:
    response = invoke(load_event("session/post-session"))
    assert response["statusCode"] == 201
    return cookie_of(response)[0]


def with_sid(name: str, sid: str, **changes: Any) -> dict[str, Any]:
    event = load_event(name, **changes)
    event["cookies"] = ["theme=dark", f"__Host-sid={sid}"]
    return event


def test_start_sets_a_secure_cookie_with_a_strong_id(invoke_session: Invoke, shared_redis: RedisServer) -> None:
    response = invoke_session(load_event("session/post-session"))
    assert response["statusCode"] == 201
    assert body_json(response) == {"expires_in": 1800}
    sid, attributes = cookie_of(response)
    assert attributes == {"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=1800"}
    # At least 128 bits, URL-safe: 43 base64url characters are 256 bits.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
    assert shared_redis.client().hgetall(f"test:session:{sid}") == {"visits": "0", "data": "{}"}
    assert start(invoke_session) != sid


def test_visits_count_and_data_round_trips(invoke_session: Invoke) -> None:
    sid = start(invoke_session)
    first = invoke_session(with_sid("session/get-session", sid))
    assert (first["statusCode"], body_json(first)) == (200, {"visits": 1, "data": {}, "expires_in": 1800})
    assert body_json(invoke_session(with_sid("session/get-session", sid)))["visits"] == 2
    put = invoke_session(with_sid("session/put-session", sid))
    assert put["statusCode"] == 200
    assert body_json(put) == {"visits": 2, "data": {"theme": "dark", "lang": "pt-BR"}, "expires_in": 1800}
    after = body_json(invoke_session(with_sid("session/get-session", sid)))
    assert after == {"visits": 3, "data": {"theme": "dark", "lang": "pt-BR"}, "expires_in": 1800}


def test_delete_ends_the_session_and_clears_the_cookie(invoke_session: Invoke, shared_redis: RedisServer) -> None:
    sid = start(invoke_session)
    response = invoke_session(with_sid("session/delete-session", sid))
    assert (response["statusCode"], response.get("body", "")) == (204, "")
    value, attributes = cookie_of(response)
    assert value == "" and "Max-Age=0" in attributes
    assert shared_redis.client().exists(f"test:session:{sid}") == 0
    assert invoke_session(with_sid("session/get-session", sid))["statusCode"] == 401
    assert invoke_session(with_sid("session/delete-session", sid))["statusCode"] == 401


@pytest.mark.parametrize(
    "cookies",
    [
        None,
        [],
        ["theme=dark"],
        ["__Host-sid="],
        ["__Host-sid=short"],
        ["__Host-sid=" + "!" * 43],
        ["__Host-sid=" + "a" * 44],
        ["__Host-sid=" + "a" * 42 + "%"],
        ["__Host-sid=" + "A" * 43],
    ],  # the last is well-formed but unknown
)
def test_no_or_bad_session_is_a_401_and_a_bad_id_never_reaches_redis(
    invoke_session: Invoke, shared_redis: RedisServer, cookies: list[str] | None
) -> None:
    admin = shared_redis.client()
    admin.config_resetstat()
    for name in ("session/get-session", "session/put-session", "session/delete-session"):
        event = load_event(name)
        event.pop("cookies", None)
        if cookies is not None:
            event["cookies"] = cookies
        response = invoke_session(event)
        assert response["statusCode"] == 401, name
        assert body_json(response)["error"]["code"] == "unauthorized"
    touched = {k for k in admin.info("commandstats") if not k.startswith(("cmdstat_config", "cmdstat_info"))}
    well_formed = cookies == ["__Host-sid=" + "A" * 43]
    assert bool(touched) is well_formed


def test_put_body_errors(invoke_session: Invoke) -> None:
    sid = start(invoke_session)

    def put(body: str, content_type: str | None = "application/json", b64: bool = False) -> dict[str, Any]:
        event = with_sid("session/put-session", sid, body=body, isBase64Encoded=b64)
        event["headers"].pop("content-type", None)
        if content_type:
            event["headers"]["content-type"] = content_type
        return invoke_session(event)

    cases = [
        (put("{not json"), 400),
        (put('{"a": 1}', "text/plain"), 415),
        (put('{"a": 1}', None), 415),
        (put("[1, 2]"), 422),
        (put('"text"'), 422),
        (put(json.dumps({"big": "x" * 5000})), 413),
        (put("x" * 200_000), 413),
        (put("%%%", b64=True), 400),
        (put(base64.b64encode(b"\xff\xfe").decode(), b64=True), 400),
    ]
    for response, status in cases:
        assert response["statusCode"] == status, body_json(response)
        assert set(body_json(response)["error"]) == {"code", "message"}
    # Nothing was lost: the data is untouched and the session still works.
    ok = put('{"a": 1}', "application/json; charset=utf-8")
    assert (ok["statusCode"], body_json(ok)["data"]) == (200, {"a": 1})
    exact = put(json.dumps({"k": "x" * (4096 - 10)}, separators=(",", ":")))
    assert exact["statusCode"] == 200  # exactly 4 KiB serialised is allowed


def test_each_visit_slides_the_ttl(invoke_session: Invoke, shared_redis: RedisServer) -> None:
    sid = start(invoke_session)
    admin = shared_redis.client()
    key = f"test:session:{sid}"
    admin.pexpire(key, 5_000)  # as if most of the TTL had run out
    invoke_session(with_sid("session/get-session", sid))
    assert admin.pttl(key) > 1_790_000
    admin.pexpire(key, 5_000)
    invoke_session(with_sid("session/put-session", sid))
    assert admin.pttl(key) > 1_790_000


def test_an_expired_session_is_a_401(invoke_session: Invoke, shared_redis: RedisServer) -> None:
    sid = start(invoke_session)
    admin = shared_redis.client()
    admin.pexpire(f"test:session:{sid}", 1)
    wait_for(lambda: admin.exists(f"test:session:{sid}") == 0, what="the session to expire")
    assert invoke_session(with_sid("session/get-session", sid))["statusCode"] == 401


def test_ttl_comes_from_the_environment(function_modules, function_env, redis_url: str) -> None:
    from tests.support.events import invoker as _invoker

    function_env("SessionFunction", REDIS_URL=redis_url, SESSION_TTL_SECONDS="60")
    response = _invoker(function_modules["SessionFunction"])(load_event("session/post-session"))
    assert body_json(response) == {"expires_in": 60}
    assert "Max-Age=60" in cookie_of(response)[1]


def test_one_visitors_data_never_reaches_another(invoke_session: Invoke) -> None:
    alice, bob = start(invoke_session), start(invoke_session)
    invoke_session(with_sid("session/put-session", alice, body='{"name":"alice"}'))
    invoke_session(with_sid("session/put-session", bob, body='{"name":"bob"}'))
    assert body_json(invoke_session(with_sid("session/get-session", alice)))["data"] == {"name": "alice"}
    assert body_json(invoke_session(with_sid("session/get-session", bob)))["data"] == {"name": "bob"}


def test_one_round_trip_per_visit(invoke_session: Invoke, shared_redis: RedisServer) -> None:
    sid = start(invoke_session)
    invoke_session(with_sid("session/get-session", sid))  # loads the script once (NOSCRIPT)
    admin = shared_redis.client()
    admin.config_resetstat()
    for _ in range(5):
        invoke_session(with_sid("session/get-session", sid))
    calls = {k: v["calls"] for k, v in admin.info("commandstats").items() if not k.startswith("cmdstat_config")}
    # EVALSHA is the one round trip; the commands inside the script are counted too.
    assert calls["cmdstat_evalsha"] == 5
    assert set(calls) == {"cmdstat_evalsha", "cmdstat_expire", "cmdstat_hincrby", "cmdstat_hget"}


def test_responses_carry_no_session_id_in_logs(invoke_session: Invoke, logs) -> None:
    sid = start(invoke_session)
    invoke_session(with_sid("session/get-session", sid))
    invoke_session(with_sid("session/put-session", sid, body="{broken"))
    assert sid not in logs()


# --- any process serves any session --------------------------------------------------------


@pytest.fixture
def two_environments(template: Template, redis_url: str):
    fn = template.functions["SessionFunction"]
    pools = [WorkerPool(fn, {"REDIS_URL": redis_url}), WorkerPool(fn, {"REDIS_URL": redis_url})]
    yield pools
    for pool in pools:
        pool.close()


def test_two_separate_processes_serve_the_same_session(two_environments: list[WorkerPool]) -> None:
    a, b = two_environments
    sid = cookie_of(a.invoke(load_event("session/post-session")))[0]
    assert body_json(b.invoke(with_sid("session/get-session", sid)))["visits"] == 1
    assert body_json(a.invoke(with_sid("session/get-session", sid)))["visits"] == 2
    b.invoke(with_sid("session/put-session", sid))
    assert body_json(a.invoke(with_sid("session/get-session", sid)))["data"] == {"theme": "dark", "lang": "pt-BR"}
    assert a.last_pid != b.last_pid


def test_fifty_concurrent_visits_count_fifty(two_environments: list[WorkerPool]) -> None:
    a, b = two_environments
    sid = cookie_of(a.invoke(load_event("session/post-session")))[0]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda i: (a, b)[i % 2].invoke(with_sid("session/get-session", sid)), range(50)))
    visits = sorted(body_json(r)["visits"] for r in results)
    assert visits == list(range(1, 51))
    assert body_json(a.invoke(with_sid("session/get-session", sid)))["visits"] == 51
