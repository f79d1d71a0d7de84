"""Property-based: whatever a client sends in the body, the headers (in any case), the
cookies, the Idempotency-Key or the path, no handler answers a 5xx but the documented 503,
nor an answer larger than a few KiB. hypothesis explores; the handlers run in this process
on real Redis (and moto's S3 for imports)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from localapi.services import LocalS3
from tests.support.events import context, load_event

pytestmark = pytest.mark.hostile

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
MAX_ANSWER = 16 * 1024

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
hostile_text = st.sampled_from(
    [
        "[" * 5000 + "]" * 5000,
        '{"x": NaN}',
        '{"y": 1e999}',
        '{"s": "\\ud800"}',
        '{"key": "logs/\\udfff"}',
        '{"key": "logs/' + "é" * 300 + '"}',
        '{"key": null}',
        "",
        "null",
        "\x00\x01",
    ]
)
bodies = st.one_of(
    json_values.map(json.dumps),
    hostile_text,
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)
content_types = st.sampled_from(
    ["application/json", "Application/JSON; charset=utf-8", "text/plain", "", "application/x-www-form-urlencoded"]
)
header_names = st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE"])
cookies = st.lists(
    st.text(max_size=60) | st.just("__Host-sid=" + "A" * 43) | st.just("__Host-sid=; __Host-sid=x"), max_size=4
)
keys = st.text(max_size=300) | st.just("€" * 255) | st.just("€" * 256)


def check(response: dict[str, Any]) -> None:
    status = response["statusCode"]
    body = response.get("body") or ""
    assert status < 500 or status == 503, (status, body[:300])
    if status == 503:
        assert {k.lower(): v for k, v in (response.get("headers") or {}).items()}.get("retry-after")
    assert len(body) < MAX_ANSWER
    assert "Traceback" not in body
    if status >= 400:
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"}


@pytest.fixture
def handlers(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None], redis_url: str, monkeypatch, tmp_path
) -> Iterator[Callable[[str, dict[str, Any]], dict[str, Any]]]:
    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(
            Bucket="hit-counter-dev-imports-123456789012-us-east-1"
        )
        # One environment for the three functions: their variables agree but for the worker's.
        function_env("ImportsFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(tmp_path))

        def call(function: str, event: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = function_modules[function].lambda_handler(event, context("p"))
            return result

        yield call


def with_body(name: str, body: str, ctype: str, header: str, encode: bool) -> dict[str, Any]:
    event = load_event(name)
    event["headers"] = {header: ctype} if ctype else {}
    if encode:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    return event


@PROPERTY
@given(body=bodies, ctype=content_types, header=header_names, encode=st.booleans(), jar=cookies)
def test_session_bodies_and_cookies(handlers, body: str, ctype: str, header: str, encode: bool, jar: list[str]) -> None:
    event = with_body("session/put-session", body, ctype, header, encode)
    event["cookies"] = jar
    check(handlers("SessionFunction", event))
    for name in ("session/get-session", "session/delete-session"):
        other = load_event(name)
        other["cookies"] = jar
        check(handlers("SessionFunction", other))


@PROPERTY
@given(body=bodies, ctype=content_types, header=header_names, encode=st.booleans(), ident=st.text(max_size=80))
def test_import_bodies_and_ids(handlers, body: str, ctype: str, header: str, encode: bool, ident: str) -> None:
    check(handlers("ImportsFunction", with_body("imports/post-import", body, ctype, header, encode)))
    event = load_event("imports/get-import")
    event["pathParameters"] = {"id": ident}
    check(handlers("ImportsFunction", event))


@PROPERTY
@given(key=keys, accept=st.text(max_size=80), name=st.sampled_from(["idempotency-key", "Idempotency-Key"]))
def test_hit_headers(handlers, key: str, accept: str, name: str) -> None:
    event = load_event("hits/get-root")
    event["headers"] = {name: key, "Accept": accept}
    check(handlers("HitsFunction", event))
