"""EdgeProtection (CloudFront and a WAF rate rule per client address in front of the HTTP
API), as make dev emulates it: a client flooding badges leaves everyone else's badges
rendering; read-only badges come from the edge's cache; the functions tell clients apart by
the viewer's address CloudFront forwards, and only when the request carries the edge's
secret."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hitcounter.web import request
from localapi import template as sam_template
from localapi.edge import EDGE_ADDRESS, Edge
from localapi.server import LocalApi, Server
from tests.support.events import page_event
from tests.support.http import http_from, person

SECRET = "e" * 48


@pytest.fixture
def edge_api(redis_url: str) -> Iterator[Server]:
    """make dev with EDGE_PROTECTION=true: the template's throttles behind the edge, the
    edge's rules at the template's defaults."""
    from tests.support.events import ROOT

    template = sam_template.load(ROOT / "template.yaml", {"EdgeProtection": "true"})
    edge = Edge.from_params(template.params, SECRET)
    assert (edge.rate_limit, edge.proxy_rate_limit) == (100, 1200)
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}}, throttle=True, edge=edge)).start()
    yield server
    server.stop()


def _is_badge(status: int, headers: dict[str, str]) -> bool:
    return status == 200 and headers.get("Content-Type", "").startswith("image/svg+xml")


def _flood_and_read(server: Server) -> tuple[list[bool], list[int]]:
    """One client (127.0.0.7) sends 600 badges as fast as eight connections allow: read-only
    ones with a new label each (past any cache) and counting ones; meanwhile other readers
    (fifty addresses, a few loads each) load their badge, 200 times at least. What the
    readers got (an SVG or not), and the flood's statuses."""
    flood_results: list[int] = []
    done = threading.Event()

    def flood(i: int) -> None:
        query = f"count=false&label=x{i}" if i % 2 else "count=true"
        status, _, _ = http_from("127.0.0.7", "GET", f"{server.url}/pages/home/badge.svg?{query}", person(i))
        flood_results.append(status)

    def flooding() -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(flood, range(600)))
        done.set()

    flooder = threading.Thread(target=flooding)
    flooder.start()
    mine: list[bool] = []
    while not done.is_set() or len(mine) < 200:
        reader = 20 + len(mine) % 50
        url = f"{server.url}/pages/home/badge.svg"
        status, headers, _ = http_from(f"127.0.0.{reader}", "GET", url, person(10_000 + reader))
        mine.append(_is_badge(status, headers))
    flooder.join()
    return mine, flood_results


def test_one_client_flooding_badges_leaves_everyone_elses_rendering(edge_api: Server) -> None:
    mine, flood_results = _flood_and_read(edge_api)
    # At least 99 % of the other readers' badges are SVGs, and the flood was cut at the edge.
    assert sum(mine) / len(mine) >= 0.99, (sum(mine), len(mine))
    assert flood_results.count(429) >= 600 - 100
    assert flood_results.count(200) <= 100


def test_without_the_edge_the_same_flood_breaks_everyone_elses_badges(
    template: sam_template.Template, redis_url: str
) -> None:
    # What the edge is for (docs/deploy.md says it): the stage's badge route is one bucket
    # (20/s, a burst of 40) for every client, and API Gateway's 429 is a broken image.
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}}, throttle=True)).start()
    try:
        mine, _ = _flood_and_read(server)
    finally:
        server.stop()
    assert sum(mine) / len(mine) < 0.9, (sum(mine), len(mine))


def test_a_read_only_badge_is_served_from_the_edge_for_a_few_seconds(edge_api: Server) -> None:
    url = f"{edge_api.url}/pages/cached/badge.svg?count=false&label=views"
    first = http_from("127.0.0.9", "GET", url, person(1))
    again = http_from("127.0.0.10", "GET", f"{url}&bust=1", person(2))  # not in the cache key
    assert _is_badge(first[0], first[1]) and "X-Cache" not in first[1]
    assert again[1].get("X-Cache") == "Hit from cloudfront" and again[2] == first[2]
    assert first[1]["Cache-Control"] == "public, max-age=0, s-maxage=5"  # browsers revalidate
    # A badge that counts is never kept.
    counting = [
        http_from("127.0.0.9", "GET", f"{edge_api.url}/pages/cached/badge.svg", person(3 + i)) for i in range(2)
    ]
    assert all("X-Cache" not in headers for _, headers, _ in counting)
    assert counting[0][1]["Cache-Control"] == "no-cache, no-store, must-revalidate"


def test_behind_the_edge_each_viewer_is_its_own_client(edge_api: Server) -> None:
    # Every request reaches the API from CloudFront's address; the new-page budget (10 a
    # minute per client) still tells two viewers apart, by CloudFront-Viewer-Address.
    first = [http_from("127.0.0.11", "GET", f"{edge_api.url}/pages/a-{i}", person(i))[0] for i in range(12)]
    assert first == [200] * 10 + [429] * 2
    assert http_from("127.0.0.12", "GET", f"{edge_api.url}/pages/b-0", person(99))[0] == 200


def _event(source: str, headers: dict[str, str]) -> Any:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    event = page_event("x", source_ip=source)
    event["headers"].update(headers)
    return APIGatewayProxyEventV2(event)


@pytest.mark.parametrize(
    ("headers", "secret", "seen"),
    [
        ({"cloudfront-viewer-address": "203.0.113.9:51000", "x-origin-verify": SECRET}, SECRET, "203.0.113.9"),
        ({"cloudfront-viewer-address": "2001:db8::7:443", "x-origin-verify": SECRET}, SECRET, "2001:db8::7"),
        ({"cloudfront-viewer-address": "[2001:db8::7]:443", "x-origin-verify": SECRET}, SECRET, "2001:db8::7"),
        # Without the secret, or a wrong one, the header is anyone's to send: ignored.
        ({"cloudfront-viewer-address": "203.0.113.9:51000"}, SECRET, EDGE_ADDRESS),
        ({"cloudfront-viewer-address": "203.0.113.9:51000", "x-origin-verify": "f" * 48}, SECRET, EDGE_ADDRESS),
        ({"cloudfront-viewer-address": "203.0.113.9:51000", "x-origin-verify": SECRET}, "", EDGE_ADDRESS),
        # A malformed address is not taken.
        ({"cloudfront-viewer-address": "203.0.113.9", "x-origin-verify": SECRET}, SECRET, EDGE_ADDRESS),
        ({"cloudfront-viewer-address": "<script>:80", "x-origin-verify": SECRET}, SECRET, EDGE_ADDRESS),
    ],
)
def test_the_viewers_address_is_read_only_from_the_edge(headers: dict[str, str], secret: str, seen: str) -> None:
    assert request.source_ip(_event(EDGE_ADDRESS, headers), secret) == seen


def test_the_waf_rule_counts_sixty_seconds_per_address_and_the_image_proxy_apart() -> None:
    edge = Edge(rate_limit=3, secret=SECRET, proxy_rate_limit=5)
    assert [edge.admit("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert edge.admit("b", now=3)  # another address
    assert [edge.admit("a", "github-camo (1a2b)", now=4 + t) for t in range(6)] == [True] * 5 + [False]
    assert not edge.admit("a", now=59.9)  # still within 60 s of its first
    assert edge.admit("a", now=60.1)  # the first left the window
