"""Pages named by their URL path (``GET /count?path=…``, ``/badge.svg?path=…``,
``/stats?path=…``) through the handler, on a real redis-server: one page per normal form,
exact under concurrency, bad paths refused without echo or key, one round trip per hit, and
listed, drawn and viewed by their path."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hitcounter.model.paths import page_of
from tests.support.events import Invoke, body_json, header, path_event, stats_event
from tests.support.redis_calls import round_trips
from tests.support.servers import RedisServer

POST = "/2024/05/hello-world/"


def test_a_path_counts_and_is_answered_by_its_normal_form(invoke_hits: Invoke) -> None:
    spellings = [
        POST,
        "/2024/05/./hello-world/",
        "//2024//05/hello-world/",
        "/2024/05/x/../hello-world/",
        "/2024/05/hello-world/?utm_source=x#top",
        "/2024/05/hello%2Dworld/",
        "/2024/%30%35/hello-world/",
    ]
    answers = [body_json(invoke_hits(path_event(s))) for s in spellings]
    assert answers == [{"page": POST, "hits": n} for n in range(1, len(spellings) + 1)]
    response = invoke_hits(path_event("/caf\u00e9/"))
    assert body_json(response) == {"page": "/caf%C3%A9/", "hits": 1}
    assert body_json(invoke_hits(path_event("/caf%c3%a9/")))["hits"] == 2  # the browser's spelling: one page
    assert header(response, "Cache-Control") == "no-store"


@pytest.mark.parametrize(
    "path", ["no-slash", "", "/%FF", "/a%00b", "/a\nb", "/\u202eevil", "/" + "a" * 300, "/%E2%80%8B", "/\ud800"]
)
def test_a_path_that_cannot_name_a_page_is_refused_without_echo_or_key(
    invoke_hits: Invoke, shared_redis: RedisServer, path: str
) -> None:
    for route in ("/count", "/badge.svg", "/stats"):
        response = invoke_hits(path_event(path, route))
        assert response["statusCode"] == 404, (route, response)
        assert body_json(response)["error"] == {"code": "not_found", "message": "no such page"}
        assert path.strip("/") not in response["body"] or len(path) < 2
    assert shared_redis.client().keys("*pg:*") == []


def test_count_without_a_path_says_what_is_missing(invoke_hits: Invoke) -> None:
    event = path_event(POST)
    event["queryStringParameters"] = None
    response = invoke_hits(event)
    assert response["statusCode"] == 400 and "path is required" in body_json(response)["error"]["message"]


def test_concurrent_hits_of_one_path_in_two_spellings_are_exact(invoke_hits: Invoke) -> None:
    spellings = [POST, "/2024//05/hello-world/"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: body_json(invoke_hits(path_event(spellings[i % 2])))["hits"], range(100)))
    assert sorted(answers) == list(range(1, 101))


def test_one_round_trip_per_counted_path_hit(invoke_hits: Invoke) -> None:
    invoke_hits(path_event("/rt/"))  # connect, load the script, create the page
    assert round_trips(lambda: [invoke_hits(path_event("/rt/")) for _ in range(10)]) == 10


def test_keys_hold_a_digest_and_the_path_is_kept_once_beside_its_count(
    invoke_hits: Invoke, shared_redis: RedisServer
) -> None:
    invoke_hits(path_event("/secret-ish/path/"))
    keys: list[str] = shared_redis.client().keys("*")  # type: ignore[assignment]  # decode_responses
    assert keys and not any("secret-ish" in key for key in keys)
    stored = [key for key in keys if key.endswith(f":page:{page_of('/secret-ish/path/')}:path")]
    assert len(stored) == 1 and shared_redis.client().get(stored[0]) == "/secret-ish/path/"
    count_ttl = shared_redis.client().ttl(stored[0].replace(":path", ":count"))
    assert abs(shared_redis.client().ttl(stored[0]) - count_ttl) <= 1  # it lives as long as the count


def test_the_badge_stats_top_pages_and_dashboard_know_a_path_page(invoke_hits: Invoke) -> None:
    now = int(time.time() * 1000)
    for _ in range(3):
        invoke_hits(path_event(POST))
    badge = invoke_hits(path_event(POST, "/badge.svg", {"count": "false"}))
    assert badge["statusCode"] == 200 and ">3<" in badge["body"]
    counted = invoke_hits(path_event(POST, "/badge.svg"))
    assert ">4<" in counted["body"] and "no-store" in (header(counted, "Cache-Control") or "")
    stats = body_json(invoke_hits(path_event(POST, "/stats", {"period": "48h"})))
    assert (stats["page"], stats["total"], stats["today"]["hits"]) == (POST, 4, 4)
    assert invoke_hits(path_event("/never/", "/stats"))["statusCode"] == 404
    top = body_json(invoke_hits(stats_event(now, "30d", "/pages")))
    assert top["pages"][0]["page"] == POST and top["pages"][0]["hits"] == 4
    page = invoke_hits(stats_event(now, "30d", "/dashboard"))["body"]
    assert 'href="?page=%2F2024%2F05%2Fhello-world%2F&amp;period=30d"' in page
    own = stats_event(now, "30d", "/dashboard")
    own["queryStringParameters"] = {"page": POST}
    view = invoke_hits(own)
    assert view["statusCode"] == 200 and f"Hit counter: {POST}" in view["body"]


def test_a_path_pages_rules_are_a_pages(invoke_hits: Invoke) -> None:
    # A reload (same client and agent within DEDUPE_SECONDS) counts once; a key replays.
    first = body_json(invoke_hits(path_event("/r/", source_ip="198.51.100.9")))
    again = body_json(invoke_hits(path_event("/r/", source_ip="198.51.100.9")))
    assert first == again == {"page": "/r/", "hits": 1}
    keyed = [invoke_hits(path_event("/k/", idempotency_key="view-1")) for _ in range(2)]
    assert [body_json(r)["hits"] for r in keyed] == [1, 1] and header(keyed[1], "Idempotent-Replayed") == "true"
    bot = invoke_hits(path_event("/r/", user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"))
    assert body_json(bot) == {"page": "/r/", "hits": 1}
