"""Conformance with SAM CLI's own local gateway, in process, no Docker.

Every request of the HTTP contract is turned into an event twice: by the pinned SAM CLI's
own code (``samcli.local.apigw.event_constructor.construct_v2_event_http``, what
``sam local start-api`` sends a container) and by ``make dev``'s ``build_event``. Each event
goes to the real handler on a clean Redis; each answer is mapped back to HTTP by SAM's own
``_parse_v2_payload_format_lambda_output`` and by ``make dev``'s ``build_response``. The two
runs must agree on status, content type, body and cookies, request by request.

Where SAM's local gateway and API Gateway differ on purpose (and so ``make dev``, which
follows API Gateway), the difference is listed in ``KNOWN_DIFFERENCES`` with its reason and
checked to still be a difference: a fixed SAM would make that test fail, not pass silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from samcli.local.apigw.event_constructor import construct_v2_event_http
from samcli.local.apigw.local_apigw_service import LocalApigwService
from werkzeug.test import EnvironBuilder

from localapi.server import build_event, build_response
from localapi.template import Route, Template
from tests.support.contract import CONTRACT, CONTRACT_ENV, KNOWN_DIFFERENCES
from tests.support.events import context
from tests.support.servers import RedisServer

pytestmark = pytest.mark.conformance


def _request(method: str, path: str, headers: dict[str, str], body: str | None) -> Any:
    from flask import Request

    environ = EnvironBuilder(
        method=method, path=path, headers=list(headers.items()), data=body.encode() if body is not None else None
    ).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return Request(environ)


def _route(template: Template, method: str, path: str) -> tuple[Route, dict[str, str]]:
    for route in template.routes:
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
        found = re.fullmatch(pattern, path)
        if route.method == method and found:
            return route, found.groupdict()
    raise AssertionError(f"no route for {method} {path}")


def sam_event(
    route: Route, params: dict[str, str], method: str, path: str, headers: dict[str, str], body: str | None
) -> dict[str, Any]:
    request = _request(method, path, headers, body)
    request.view_args = params or None  # what SAM's Flask routing fills in
    with Flask(__name__).test_request_context():
        event: dict[str, Any] = construct_v2_event_http(
            request, 3000, [], stage_name="$default", route_key=f"{method} {route.path}"
        )
    return event


def our_event(
    route: Route, params: dict[str, str], method: str, path: str, headers: dict[str, str], body: str | None
) -> dict[str, Any]:
    request = _request(method, path, headers, body)
    return build_event(request, route, params, request.get_data())


def shouted_event(*args: Any) -> dict[str, Any]:
    """make dev's event with every header name in upper case: case must not matter."""
    event = our_event(*args)
    event["headers"] = {name.upper(): value for name, value in event["headers"].items()}
    return event


def sam_answer(result: dict[str, Any], method: str, path: str) -> tuple[int, str, str, list[str]]:
    request = _request(method, path, {}, None)
    status, headers, body = LocalApigwService._parse_v2_payload_format_lambda_output(json.dumps(result), [], request)
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return status, str(headers.get("Content-Type")), text, headers.getlist("Set-Cookie")


def our_answer(result: dict[str, Any]) -> tuple[int, str, str, list[str]]:
    response = build_response(result)
    return (
        response.status_code,
        str(response.headers.get("Content-Type")),
        response.get_data(as_text=True),
        response.headers.getlist("Set-Cookie"),
    )


def _normalise(answer: tuple[int, str, str, list[str]]) -> tuple[int, str, str, list[str]]:
    status, ctype, body, cookies = answer
    body = re.sub(r'"redis_ms":[0-9.e-]+', '"redis_ms":0', body)
    cookies = [re.sub(r"__Host-sid=[A-Za-z0-9_-]{43}", "__Host-sid=<id>", c) for c in cookies]
    return status, ctype, body, cookies


def run_contract(
    template: Template,
    modules: dict[str, ModuleType],
    make_event: Callable[..., dict[str, Any]],
    answer: Callable[..., tuple[int, str, str, list[str]]],
) -> list[tuple[int, str, str, list[str]]]:
    answers, sid = [], "none"
    for method, path, template_headers, body in CONTRACT:
        headers = {k: v.replace("{sid}", sid) for k, v in template_headers.items()}
        route, params = _route(template, method, path.split("?", 1)[0])
        event = make_event(route, params, method, path, headers, body)
        result = modules[route.function].lambda_handler(event, context("c"))
        got = answer(result) if answer is our_answer else answer(result, method, path)
        for cookie in got[3]:
            if cookie.startswith("__Host-sid=") and "Max-Age=0" not in cookie:
                sid = cookie.split(";")[0].split("=", 1)[1]
        answers.append(_normalise(got))
    return answers


@pytest.fixture
def contract_env(
    function_env: Callable[..., None], redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> Callable[[], None]:
    from localapi.services import LocalS3

    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)

    def fresh() -> None:
        # One environment for every function in this process (their variables agree, but for
        # the import worker's name, which this contract never needs).
        function_env("ImportsFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(tmp_path), **CONTRACT_ENV)

    return fresh


def test_sam_local_and_make_dev_events_get_the_same_answers(
    template: Template,
    function_modules: dict[str, ModuleType],
    contract_env: Callable[[], None],
    shared_redis: RedisServer,
) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(
            Bucket="hit-counter-dev-imports-123456789012-us-east-1"
        )
        runs = []
        for make_event, answer in ((sam_event, sam_answer), (our_event, our_answer), (shouted_event, our_answer)):
            shared_redis.client().flushall()
            contract_env()
            runs.append(run_contract(template, function_modules, make_event, answer))
    sam, ours, shouted = runs
    for request, a, b, c in zip(CONTRACT, sam, ours, shouted, strict=True):
        assert a == b, f"{request[0]} {request[1]} {request[2]}: sam local {a[:3]} != make dev {b[:3]}"
        assert c == b, f"{request[0]} {request[1]}: upper-case header names changed the answer"
    # The contract's own answers, so agreement on a wrong answer cannot pass.
    statuses = [a[0] for a in ours]
    assert statuses[:4] == [200, 200, 200, 200] and ours[0][2] == "Hello World! 1 times."
    assert json.loads(ours[3][2]) == json.loads(ours[2][2]) == {"hits": 3}
    assert statuses[9:20] == [201, 200, 200, 400, 415, 400, 200, 401, 401, 204, 401]
    assert statuses[20:27] == [400, 422, 422, 404, 415, 404, 404]


def test_the_known_differences_still_hold() -> None:
    route = Route("GET", "/session", "SessionFunction", "GetSession")
    headers = {"Accept": "application/json", "Cookie": "__Host-sid=first; __Host-sid=second"}
    sam = sam_event(route, {}, "GET", "/session", headers, None)
    ours = our_event(route, {}, "GET", "/session", headers, None)
    assert "Accept" in sam["headers"] and "accept" in ours["headers"]  # header-case
    assert sam["cookies"] == ["__Host-sid=first"] and ours["cookies"] == [
        "__Host-sid=first",
        "__Host-sid=second",
    ]  # duplicate-cookies
    assert "X-Forwarded-Proto" in sam["headers"]  # forwarded-headers
    sam_epoch, our_epoch = sam["requestContext"]["timeEpoch"], ours["requestContext"]["timeEpoch"]
    # time-epoch-seconds (SAM's builder takes its default time once, when its module loads;
    # `sam local start-api` passes the request's own second, checked in tests/samlocal).
    assert sam_epoch < 10**11 <= our_epoch and 0 <= our_epoch / 1000 - sam_epoch < 3600
    # unknown-route and cors-preflight-status are the gateway's own answers, not events:
    # tests/samlocal checks them against the real sam local start-api.
    assert set(KNOWN_DIFFERENCES) == {
        "header-case",
        "duplicate-cookies",
        "forwarded-headers",
        "unknown-route",
        "time-epoch-seconds",
        "cors-preflight-status",
    }
