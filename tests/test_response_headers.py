"""What the answers tell caches and browsers: nothing that counts is ever cached, the history
briefly, the dashboard loads and runs nothing but its own stylesheet, the session cookie is
host-only, and the OpenAPI document says which routes need SigV4."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.contract import SIGNED_ROUTES
from tests.support.events import Invoke, context, header, load_event


@pytest.mark.parametrize(
    ("event", "cache"),
    [
        ("hits/get-root", "no-store"),
        ("hits/get-root-json", "no-store"),
        ("hits/get-hits", "no-store"),
        ("hits/get-health", "no-store"),
        ("hits/get-health-ready", "no-store"),
        ("hits/get-stats", "public, max-age=30"),
        ("hits/get-dashboard", "public, max-age=30"),
    ],
)
def test_counting_and_live_routes_are_never_cached_and_the_history_briefly(
    invoke_hits: Invoke, event: str, cache: str
) -> None:
    response = invoke_hits(load_event(event))
    assert response["statusCode"] == 200
    assert header(response, "Cache-Control") == cache
    assert header(response, "X-Content-Type-Options") == "nosniff"


def test_an_error_is_not_cached_either(invoke_hits: Invoke) -> None:
    event = load_event("hits/get-stats")
    event["queryStringParameters"] = {"period": "forever"}
    event["rawQueryString"] = "period=forever"
    response = invoke_hits(event)
    assert response["statusCode"] == 400 and header(response, "Cache-Control") == "no-cache"


@pytest.mark.parametrize("event", ["session/post-session", "session/get-session", "session/delete-session"])
def test_session_routes_are_never_cached(invoke_session: Invoke, event: str) -> None:
    response = invoke_session(load_event(event))
    assert header(response, "Cache-Control") in ("no-store", "no-cache")  # 200 / any other status
    if response["statusCode"] == 200:
        assert header(response, "Cache-Control") == "no-store"


def test_the_session_cookie_is_host_only() -> None:
    from hitcounter.web.cookies import session_cookie

    cookie = str(session_cookie("A" * 43, 60))
    parts = [p.strip() for p in cookie.split(";")]
    # A browser keeps a __Host- cookie only when Secure, Path=/ and without Domain.
    assert parts[0].startswith("__Host-sid=") and "Secure" in parts and "Path=/" in parts
    assert not any(p.lower().startswith("domain") for p in parts)


def test_the_dashboard_allows_only_its_own_stylesheet(invoke_hits: Invoke) -> None:
    response = invoke_hits(load_event("hits/get-dashboard"))
    policy = header(response, "Content-Security-Policy") or ""
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    (style,) = re.findall(r"<style>(.*?)</style>", response["body"], re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert directives["style-src"] == f"'sha256-{digest}'"
    assert "<script" not in response["body"] and header(response, "X-Content-Type-Options") == "nosniff"


def test_the_openapi_document_marks_the_iam_routes_as_sigv4(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None]
) -> None:
    import json

    function_env("DocsFunction")
    response: dict[str, Any] = function_modules["DocsFunction"].lambda_handler(
        load_event("docs/get-openapi"), context("r")
    )
    document = json.loads(response["body"])
    secured = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"sigv4": []}]
    }
    assert secured == SIGNED_ROUTES
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
