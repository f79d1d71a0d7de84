"""make dev's API Gateway rules, without serving: the template's throttles, the head quota,
the token bucket, and SigV4's clock and payload rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from localapi import sigv4
from localapi.server import MAX_HEAD, _Bucket, head_size
from localapi.template import Template, Throttle, load
from tests.support.contract import SIGNED_ROUTES
from tests.support.events import ROOT


@pytest.fixture(scope="module")
def template() -> Template:
    return load(ROOT / "template.yaml")


def test_the_templates_route_throttles_are_read(template: Template) -> None:
    assert template.default_throttle == Throttle(10.0, 20)
    assert template.throttles["GET /"] == Throttle(100.0, 200)
    assert {(r.method, r.path) for r in template.routes if r.iam} == SIGNED_ROUTES


def test_a_bucket_admits_its_burst_then_refuses() -> None:
    bucket = _Bucket(Throttle(rate=0.001, burst=5))
    assert [bucket.take() for _ in range(7)] == [True] * 5 + [False] * 2


def test_the_head_size_counts_the_request_line_and_every_header() -> None:
    small = Request(EnvironBuilder(path="/hits", headers=[("X-Pad", "a" * 100)]).get_environ())
    large = Request(EnvironBuilder(path="/hits", headers=[("X-Pad", "a" * MAX_HEAD)]).get_environ())
    assert head_size(small) < 300 < MAX_HEAD < head_size(large)


def _signed(body: bytes, when: datetime, extra: dict[str, str] | None = None) -> dict[str, str]:
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        headers = sigv4.sign(
            "POST", "http://local/imports", {"content-type": "application/json", **(extra or {})}, body, "k", "s"
        )
    # What the server sees: every header the client sent, with the Host its URL implies.
    return {name.lower(): value for name, value in headers.items()} | {"host": "local"}


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("skew", "ok"), [(0, True), (299, True), (-299, True), (301, False), (-301, False), (86400, False)]
)
def test_a_signature_is_good_for_five_minutes_either_way(skew: int, ok: bool) -> None:
    body = b'{"key": "logs/a"}'
    headers = _signed(body, NOW + timedelta(seconds=skew))
    assert sigv4.verify("POST", "http://local/imports", headers, body, {"k": "s"}, now=NOW) is ok


def test_the_payload_hash_is_the_servers_own() -> None:
    body = b'{"key": "logs/a"}'
    unsigned = _signed(body, NOW, {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert not sigv4.verify("POST", "http://local/imports", unsigned, body, {"k": "s"}, now=NOW)
    hashed = _signed(body, NOW, {"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    assert sigv4.verify("POST", "http://local/imports", hashed, body, {"k": "s"}, now=NOW)
    assert not sigv4.verify("POST", "http://local/imports", hashed, b'{"key": "logs/b"}', {"k": "s"}, now=NOW)


def test_a_wrong_secret_or_key_is_refused() -> None:
    body = b"{}"
    headers = _signed(body, NOW)
    assert not sigv4.verify("POST", "http://local/imports", headers, body, {"k": "other"}, now=NOW)
    assert not sigv4.verify("POST", "http://local/imports", headers, body, {"someone": "s"}, now=NOW)
