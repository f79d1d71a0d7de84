"""Only my sites count, and never me (docs/operating.md): ``ALLOWED_ORIGINS`` and
``EXCLUDE_CIDRS`` through ``make dev``'s local API, on a real redis-server: a refused hit
counts nothing, its badge still renders, and the page's bots show it under its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.http import http, http_from, person


@pytest.fixture
def owned_api(template: sam_template.Template, redis_url: str) -> Iterator[Server]:
    env = {"REDIS_URL": redis_url, "ALLOWED_ORIGINS": "blog.example,*.docs.example", "EXCLUDE_CIDRS": "127.0.0.9/32"}
    server = Server(LocalApi(template, {"Parameters": env})).start()
    yield server
    server.stop()


def _hit(api: Server, page: str, n: int, source: str = "127.0.0.1", **headers: str) -> dict[str, object]:
    status, _, body = http_from(
        source, "GET", f"{api.url}/pages/{page}", {**person(n), "Accept": "application/json", **headers}
    )
    assert status == 200, body
    return dict(json.loads(body))


def test_only_the_owners_sites_count_and_never_the_owner(owned_api: Server) -> None:
    assert _hit(owned_api, "post", 1, Origin="https://blog.example")["hits"] == 1
    assert _hit(owned_api, "post", 2, Referer="https://a.docs.example/guide/")["hits"] == 2
    assert _hit(owned_api, "post", 3)["hits"] == 3  # neither header: a direct call counts
    assert _hit(owned_api, "post", 4, Origin="https://copycat.example")["hits"] == 3
    assert _hit(owned_api, "post", 5, Referer="https://copycat.example/x")["hits"] == 3
    assert _hit(owned_api, "post", 6, source="127.0.0.9", Origin="https://blog.example")["hits"] == 3  # the owner
    status, _, svg = http_from(
        "127.0.0.1",
        "GET",
        f"{owned_api.url}/pages/post/badge.svg",
        {**person(7), "Referer": "https://copycat.example/"},
    )
    assert status == 200 and ">3<" in svg  # the badge still renders, counting nothing
    stats = json.loads(http("GET", f"{owned_api.url}/pages/post/stats")[2])
    assert stats["total"] == 3
    assert stats["bots"] == {"total": 4, "by_reason": {"excluded": 1, "foreign_origin": 3}}


def test_a_foreign_site_creates_no_page(owned_api: Server) -> None:
    _hit(owned_api, "stolen", 1, Origin="https://copycat.example")
    assert http("GET", f"{owned_api.url}/pages/stolen/stats")[0] == 404
