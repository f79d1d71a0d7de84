"""Reading an event: the one JSON body reader, content negotiation, keys, time and visitor."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from hitcounter.core.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from hitcounter.web import bodies, request


def event(body: str | None = None, headers: dict[str, str] | None = None, **more: Any) -> APIGatewayProxyEventV2:
    raw: dict[str, Any] = {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": {
            "http": {"method": "PUT", "path": "/", "sourceIp": "203.0.113.7"},
            "timeEpoch": 1_700_000_000_000,
        },
        "body": body,
        "isBase64Encoded": False,
        **more,
    }
    return APIGatewayProxyEventV2(raw)


def test_a_json_object_is_read() -> None:
    assert bodies.json_body(event('{"a": [1, "é"]}'), 1024) == {"a": [1, "é"]}


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        ("{}", {"content-type": "text/plain"}, UnsupportedMediaType),
        ("x" * 3000, {}, PayloadTooLarge),
        ('{"a": NaN}', {}, BadRequest),
        ('{"a": Infinity}', {}, BadRequest),
        ("[" * 40 + "]" * 40, {}, BadRequest),
        ("{nope", {}, BadRequest),
        ('{"a": 1e999}', {}, Unprocessable),
        ('{"a": "\\ud800"}', {}, Unprocessable),
    ],
)
def test_what_the_body_reader_refuses(body: str, headers: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        bodies.json_body(event(body, headers), 1024)


def test_a_base64_body_that_is_not_base64_is_malformed() -> None:
    with pytest.raises(BadRequest):
        bodies.json_body(event("!!!", isBase64Encoded=True), 1024)
    good = base64.b64encode(json.dumps({"k": 1}).encode()).decode()
    assert bodies.json_body(event(good, isBase64Encoded=True), 1024) == {"k": 1}


def test_header_names_are_matched_in_any_case() -> None:
    headers = request.headers(event(headers={"Accept": "application/json", "Idempotency-Key": "k1"}))
    assert request.wants_json(headers) and request.idempotency_key(headers) == "k1"


@pytest.mark.parametrize(
    ("accept", "json_wanted"),
    [
        ("", False),
        ("*/*", False),
        ("application/json", True),
        ("text/plain, application/json;q=0.5", False),
        ("text/plain;q=0.1, application/json", True),
        ("application/*", True),
        ("application/json;q=0", False),
        ("application/json;q=nope", False),
    ],
)
def test_accept_negotiation(accept: str, json_wanted: bool) -> None:
    assert request.wants_json({"accept": accept}) is json_wanted


@pytest.mark.parametrize("key", ["", "k" * 256, "bad\x00key", "tab\tkey"])
def test_an_unusable_idempotency_key_is_a_400(key: str) -> None:
    with pytest.raises(BadRequest):
        request.idempotency_key({"idempotency-key": key})


def test_the_requests_own_time_in_milliseconds_or_sam_locals_seconds() -> None:
    assert request.request_time_ms(event()) == 1_700_000_000_000
    seconds = event(requestContext={"http": {"method": "GET"}, "timeEpoch": 1_700_000_000})
    assert request.request_time_ms(seconds) == 1_700_000_000_000


def test_the_client_is_plain_values_and_the_visit_a_digest_not_the_address() -> None:
    from hitcounter.model.visitors import site_visit

    client = request.client(event(headers={"user-agent": "curl/8", "DNT": "1"}))
    assert (client.at_ms, client.user_agent, client.accept_language, client.private) == (
        1_700_000_000_000, "curl/8", None, True,
    )  # fmt: skip
    visit = site_visit(client)
    assert visit.at_ms == 1_700_000_000_000 and len(visit.visitor) == 64 and "203.0.113.7" not in visit.visitor


def test_an_unknown_period_is_a_400_and_none_is_30_days() -> None:
    assert request.period(event()).name == "30d"
    with pytest.raises(BadRequest):
        request.period(event(queryStringParameters={"period": "forever"}))


def test_session_data_is_a_small_object() -> None:
    assert bodies.session_data(event('{"theme": "dark"}')) == {"theme": "dark"}
    with pytest.raises(Unprocessable):
        bodies.session_data(event("[1]"))
    with pytest.raises(PayloadTooLarge):
        bodies.session_data(event(json.dumps({"d": "x" * 5000})))


def test_an_import_key_comes_from_the_body_and_is_validated() -> None:
    assert bodies.import_key(event('{"key": "logs/a.log"}'), "logs/") == "logs/a.log"
    with pytest.raises(Unprocessable):
        bodies.import_key(event('{"key": "other/a.log"}'), "logs/")
