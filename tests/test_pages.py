"""Per-page counters through the handler, on a real redis-server: counts, badges, history,
top pages, PAGES_MAX, bad ids, one round trip per page hit."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest

from localapi.services import free_port
from tests.support.events import Invoke, body_json, header, invoker, load_event, page_event, stats_event
from tests.support.redis_calls import round_trips
from tests.support.servers import RedisServer

SVG = "{http://www.w3.org/2000/svg}"


def now_ms() -> int:
    return int(time.time() * 1000)


def at(event: dict[str, Any], epoch_ms: int) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = epoch_ms
    return event


def test_a_page_counts_apart_from_the_seeds_counter_and_other_pages(invoke_hits: Invoke) -> None:
    assert [body_json(invoke_hits(page_event("about")))["hits"] for _ in range(3)] == [1, 2, 3]
    assert body_json(invoke_hits(page_event("blog.post-1"))) == {"page": "blog.post-1", "hits": 1}
    assert body_json(invoke_hits(load_event("hits/get-hits"))) == {"hits": 0}  # the seed's count is its own
    text = invoke_hits(page_event("about", accept="text/plain"))
    assert (text["body"], header(text, "Content-Type")) == ("Hello World! 4 times.", "text/plain")
    assert header(text, "Cache-Control") == "no-store"


def test_an_idempotency_key_counts_once_and_replays_its_n(invoke_hits: Invoke) -> None:
    first = invoke_hits(page_event("docs", idempotency_key="k-1"))
    again = invoke_hits(page_event("docs", idempotency_key="k-1"))
    assert body_json(first) == body_json(again) == {"page": "docs", "hits": 1}
    assert header(again, "Idempotent-Replayed") == "true"
    assert body_json(invoke_hits(page_event("docs")))["hits"] == 2


@pytest.mark.parametrize(
    "page", ["<script>", "a" * 65, "..", ".", "a\x00b", "caf\u00e9", "a b", "a/b", "%2e%2e", "x;y", ""]
)
def test_a_bad_page_id_is_no_such_page_and_stores_nothing(
    invoke_hits: Invoke, shared_redis: RedisServer, page: str
) -> None:
    for route in ("", "/badge.svg", "/stats"):
        response = invoke_hits(page_event(page, route))
        assert response["statusCode"] == 404, (route, response)
        # The route refuses the id, or the resolver's own pattern does: 404 either way.
        assert body_json(response)["error"] in (
            {"code": "not_found", "message": "no such page"},
            {"code": "not_found", "message": "no such resource"},
        )
        assert page not in response["body"] or page in ("", ".", "a")
    assert shared_redis.client().keys("*pg:*") == []


def test_concurrent_hits_on_several_pages_are_exact_and_every_answer_distinct(invoke_hits: Invoke) -> None:
    pages = [f"page-{i}" for i in range(4)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: body_json(invoke_hits(page_event(pages[i % 4]))), range(200)))
    for page in pages:
        seen = sorted(a["hits"] for a in answers if a["page"] == page)
        assert seen == list(range(1, 51)), page


def test_the_badge_is_an_svg_with_the_number_and_count_false_only_shows(invoke_hits: Invoke) -> None:
    for _ in range(2):
        invoke_hits(page_event("home"))
    response = invoke_hits(page_event("home", "/badge.svg", {"label": "views"}))
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "image/svg+xml; charset=utf-8"
    assert header(response, "Cache-Control") == "no-cache, no-store, must-revalidate"
    texts = [t.text for t in ET.fromstring(response["body"]).iter(f"{SVG}text") if "aria-hidden" not in t.attrib]
    assert texts == ["views", "3"]  # the badge's own view counted
    shown = invoke_hits(page_event("home", "/badge.svg", {"count": "false"}))
    assert [t.text for t in ET.fromstring(shown["body"]).iter(f"{SVG}text") if "aria-hidden" not in t.attrib] == [
        "hits",
        "3",
    ]
    assert body_json(invoke_hits(page_event("home")))["hits"] == 4


def test_a_label_is_bounded_and_escaped(invoke_hits: Invoke) -> None:
    response = invoke_hits(page_event("home", "/badge.svg", {"label": "<b>&\"'" + "x" * 100}))
    root = ET.fromstring(response["body"])  # still well-formed XML
    label = next(root.iter(f"{SVG}text")).text or ""
    assert label.startswith("<b>&\"'") and len(label) == 32
    assert "<b>" not in response["body"]


@pytest.fixture
def invoke_down(hits_module: ModuleType, function_env: Callable[..., None]) -> Invoke:
    """The hits handler with Redis unreachable."""
    function_env(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", KEY_PREFIX="test:")
    return invoker(hits_module)


def test_a_badge_still_renders_a_dash_while_redis_is_away(invoke_down: Invoke) -> None:
    response = invoke_down(page_event("home", "/badge.svg"))
    assert response["statusCode"] == 200 and header(
        response,
        "Content-Type",
    ).startswith("image/svg+xml")  # type: ignore[union-attr]
    assert [t.text for t in ET.fromstring(response["body"]).iter(f"{SVG}text") if "aria-hidden" not in t.attrib] == [
        "hits",
        "–",
    ]
    assert invoke_down(page_event("home"))["statusCode"] == 503  # JSON says what happened


@pytest.fixture
def invoke_capped(hits_module: ModuleType, function_env: Callable[..., None], redis_url: str) -> Invoke:
    """PAGES_MAX=128: two pages per slot."""
    function_env(REDIS_URL=redis_url, KEY_PREFIX="test:", PAGES_MAX="128")
    return invoker(hits_module)


def test_pages_max_holds_under_a_flood_of_new_ids_and_old_pages_go_on(
    invoke_capped: Invoke, shared_redis: RedisServer
) -> None:
    statuses = [invoke_capped(page_event(f"flood-{i}"))["statusCode"] for i in range(600)]
    created = statuses.count(200)
    assert 100 <= created <= 128 and set(statuses) == {200, 507}
    registered = sum(shared_redis.client().zcard(k) for k in shared_redis.client().keys("test:{pg:*}:reg"))
    assert registered == created
    refused = next(i for i, s in enumerate(statuses) if s == 507)
    body = body_json(invoke_capped(page_event(f"flood-{refused}")))
    assert body["error"]["code"] == "pages_full"
    assert shared_redis.client().keys(f"*page:flood-{refused}:*") == []  # nothing stored for it
    first = statuses.index(200)
    assert body_json(invoke_capped(page_event(f"flood-{first}")))["hits"] == 2  # existing pages count on
    badge = invoke_capped(page_event(f"flood-{refused}", "/badge.svg"))
    assert badge["statusCode"] == 200 and "–" in badge["body"]


def test_a_pages_history_is_its_own_and_exact(invoke_hits: Invoke) -> None:
    at = now_ms()
    for page, n in (("a", 3), ("b", 1)):
        for i in range(n):
            event = page_event(page, user_agent=f"agent-{i}")
            event["requestContext"]["timeEpoch"] = at
            invoke_hits(event)
    event = page_event("a", "/stats", {"period": "48h"})
    event["requestContext"]["timeEpoch"] = at
    stats = body_json(invoke_hits(event))
    assert (stats["page"], stats["total"], stats["hits"], stats["today"]) == ("a", 3, 3, {"hits": 3, "uniques": 3})
    assert stats["series"][-1]["hits"] == 3
    unknown = page_event("never", "/stats")
    assert invoke_hits(unknown)["statusCode"] == 404


def test_top_pages_busiest_first_bounded_with_uniques(invoke_hits: Invoke) -> None:
    for page, n in (("x", 5), ("y", 2), ("z", 7)):
        for i in range(n):
            # Two visitors (one address, two agents), each coming back a minute later.
            event = page_event(page, source_ip="203.0.113.7", user_agent=f"ua-{i % 2}")
            event["requestContext"]["timeEpoch"] += i * 60_000
            invoke_hits(event)
    top = load_event("hits/get-top-pages")
    top["queryStringParameters"] = {"period": "30d", "limit": "2"}
    body = body_json(invoke_hits(top))
    assert body == {
        "period": "30d",
        "pages": [{"page": "z", "hits": 7, "uniques": 2}, {"page": "x", "hits": 5, "uniques": 2}],
        # Every page together; the two visitors read three pages in three slots: counted once a
        # slot, an upper bound (docs/pages.md, "Every page together").
        "all": {"hits": 14, "today": {"hits": 14, "uniques": 6}, "referrers": []},
    }
    top["queryStringParameters"] = {"limit": "51"}
    assert invoke_hits(top)["statusCode"] == 400


def test_one_round_trip_per_counted_page_hit(invoke_hits: Invoke) -> None:
    invoke_hits(page_event("rt"))  # connect and load the script first
    assert round_trips(lambda: [invoke_hits(page_event("rt")) for _ in range(10)]) == 10


def test_the_dashboard_lists_top_pages_and_each_has_its_own_view(invoke_hits: Invoke) -> None:
    for _ in range(2):
        invoke_hits(page_event("blog.post-1"))
    page = invoke_hits(stats_event(now_ms(), "30d", "/dashboard"))["body"]
    assert 'href="?page=blog.post-1&amp;period=30d"' in page
    own = stats_event(now_ms(), "30d", "/dashboard")
    own["queryStringParameters"] = {"page": "blog.post-1"}
    view = invoke_hits(own)
    assert view["statusCode"] == 200 and "Hit counter: blog.post-1" in view["body"]
    own["queryStringParameters"] = {"page": "<x>"}
    assert invoke_hits(own)["statusCode"] == 404


def test_pages_spread_over_the_slots_of_a_cluster(
    cluster: Any, hits_module: ModuleType, function_env: Callable[..., None]
) -> None:
    cluster.flushall()
    function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", KEY_PREFIX="")
    invoke = invoker(hits_module)
    for i in range(30):
        assert body_json(invoke(page_event(f"p{i}")))["hits"] == 1
    top = load_event("hits/get-top-pages")
    top["queryStringParameters"] = {"limit": "50"}
    assert len(body_json(invoke(top))["pages"]) == 30
    nodes = {cluster.client().get_node_from_key(f"{{pg:{s}}}").name for s in range(64)}
    assert len(nodes) >= 2  # the slots are spread over more than one master
    stats = page_event("p3", "/stats")
    assert body_json(invoke(stats))["total"] == 1


def test_reserved_settings_are_read_and_validated() -> None:
    from hitcounter.core.errors import ConfigError
    from hitcounter.core.settings import load_settings

    pages = load_settings({"DEDUPE_SECONDS": "2", "RATE_LIMIT_PER_MINUTE": "60", "PAGES_MAX": "65"}).pages
    assert (pages.dedupe_seconds, pages.rate_limit_per_minute, pages.pages_max) == (2, 60, 65)
    with pytest.raises(ConfigError, match="PAGES_MAX"):
        load_settings({"PAGES_MAX": "0"})


def test_a_hot_page_spreads_over_hits_shards_and_every_read_adds_them_up(
    cluster: Any, hits_module: ModuleType, function_env: Callable[..., None]
) -> None:
    from hitcounter.model.keys import page_slot

    cluster.flushall()
    function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", KEY_PREFIX="", HITS_SHARDS="4")
    invoke = invoker(hits_module)
    answers = [body_json(invoke(page_event("hot", user_agent=f"visitor-{i}")))["hits"] for i in range(40)]
    assert max(answers) == 40 and len(set(answers)) >= 30  # concurrent-free here: nearly all distinct
    counts = [cluster.client().get(f"{{pg:{page_slot('hot', s)}}}:page:hot:count") for s in range(4)]
    assert sum(int(c or 0) for c in counts) == 40 and sum(1 for c in counts if c) >= 2  # spread
    nodes = {cluster.client().get_node_from_key(f"{{pg:{page_slot('hot', s)}}}").name for s in range(4)}
    assert len(nodes) >= 2  # over more than one master
    stats = body_json(invoke(page_event("hot", "/stats", {"period": "48h"})))
    assert (stats["total"], stats["hits"]) == (40, 40) and abs(stats["uniques"] - 40) <= 2
    top = load_event("hits/get-top-pages")
    top["queryStringParameters"] = {"period": "30d"}
    (entry,) = body_json(invoke(top))["pages"]
    assert (entry["page"], entry["hits"]) == ("hot", 40) and abs(entry["uniques"] - 40) <= 2
    keyed = [body_json(invoke(page_event("hot", idempotency_key="k")))["hits"] for _ in range(2)]
    assert keyed[0] == keyed[1] == 41


@pytest.mark.parametrize("signal", [{"dnt": "1"}, {"sec_gpc": "1"}])
def test_a_privacy_signal_counts_the_hit_and_records_no_visitor(
    invoke_hits: Invoke, shared_redis: RedisServer, signal: dict[str, str]
) -> None:
    for i in range(5):
        event = page_event("private", user_agent=f"ua-{i}")
        event["headers"].update({k.replace("_", "-"): v for k, v in signal.items()})
        assert body_json(invoke_hits(event))["hits"] == i + 1
    invoke_hits(page_event("private", user_agent="ua-tracked"))  # one visitor without a signal
    stats = body_json(invoke_hits(page_event("private", "/stats", {"period": "48h"})))
    assert (stats["total"], stats["today"]["uniques"]) == (6, 1)
    # The seed's GET / counts as it always did: every request, with its visitor.
    event = load_event("hits/get-root-json")
    event["headers"]["dnt"] = "1"
    invoke_hits(event)
    assert shared_redis.client().pfcount(*shared_redis.client().keys("test:{hits}:u:*")) == 1


def _seed(page: str, body: object) -> dict[str, Any]:
    event = load_event("hits/put-page-count")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/pages/{page}/count"
    event["pathParameters"] = {"page": page}
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def test_a_page_starts_from_an_old_count_once(invoke_hits: Invoke) -> None:
    created = invoke_hits(_seed("old-blog", {"hits": 12345}))
    assert (created["statusCode"], body_json(created)) == (201, {"page": "old-blog", "hits": 12345})
    assert body_json(invoke_hits(page_event("old-blog")))["hits"] == 12346  # it goes on from there
    again = invoke_hits(_seed("old-blog", {"hits": 1}))
    assert (again["statusCode"], body_json(again)["error"]["code"]) == (409, "page_counts")
    assert body_json(invoke_hits(page_event("old-blog", "/stats")))["total"] == 12346
    invoke_hits(page_event("counted"))
    assert invoke_hits(_seed("counted", {"hits": 9}))["statusCode"] == 409  # a page that counts keeps its count


@pytest.mark.parametrize(
    "body",
    [
        {"hits": -1},
        {"hits": "10"},
        {"hits": 1.5},
        {"hits": True},
        {},
        [1],
        {"hits": 10**16},
        "null",
        {"hits": 1, "x": 2},
    ],
)
def test_a_starting_count_must_be_a_whole_number_and_nothing_is_stored_otherwise(
    invoke_hits: Invoke, shared_redis: RedisServer, body: object
) -> None:
    response = invoke_hits(_seed("fresh", body))
    assert (response["statusCode"], body_json(response)["error"]["code"]) == (422, "invalid_fields")
    assert shared_redis.client().keys("*page:fresh:*") == []


def test_a_starting_count_is_refused_past_pages_max_and_for_a_bad_id(invoke_capped: Invoke) -> None:
    statuses = [invoke_capped(_seed(f"seed-{i}", {"hits": 1}))["statusCode"] for i in range(300)]
    assert set(statuses) == {201, 507} and 100 <= statuses.count(201) <= 128
    assert invoke_capped(_seed("..", {"hits": 1}))["statusCode"] == 404
    assert invoke_capped(_seed("x", "{not json"))["statusCode"] == 400


def test_hits_after_the_days_first_read_are_in_the_periods_top_pages(
    invoke_hits: Invoke, shared_redis: RedisServer
) -> None:
    # The day's first read makes each slot's running union; every counted hit after it adds
    # to that union too (read straight from the store: the route keeps its list 10 s).
    from hitcounter.model import history
    from hitcounter.runtime import services

    now = int(time.time() * 1000)
    for page, n in (("early", 3), ("late", 1)):
        for i in range(n):
            invoke_hits(at(page_event(page), now + i))
    store = services().pages
    period = history.PERIODS["30d"]
    assert store.top(period, now, 10) == [("early", 3), ("late", 1)]  # the unions made now
    for i in range(4):
        invoke_hits(at(page_event("late"), now + 100 + i))
    assert store.top(period, now + 200, 10) == [("late", 5), ("early", 3)]
    assert store.top(history.PERIODS["1y"], now + 200, 10) == [("late", 5), ("early", 3)]


def test_a_badge_shows_the_metric_asked_for(invoke_hits: Invoke) -> None:
    for i in range(3):  # three visitors
        invoke_hits(page_event("metrics", source_ip="198.51.100.5", user_agent=f"agent-{i}"))
    invoke_hits(page_event("metrics", dnt="1"))  # a fourth hit, with no visitor (DNT)

    def shown(query: dict[str, str]) -> str:
        svg = invoke_hits(page_event("metrics", "/badge.svg", {"count": "false", **query}))["body"]
        return str(re.findall(r">([^<>]+)</text>", svg)[-1])

    assert shown({}) == "4" and shown({"metric": "today"}) == "4" and shown({"metric": "uniques"}) == "3"
    counted = invoke_hits(page_event("metrics", "/badge.svg", {"metric": "today", "style": "for-the-badge"}))
    assert re.findall(r">([^<>]+)</text>", counted["body"])[-2:] == ["TODAY", "5"]
    big = invoke_hits(page_event("metrics", "/badge.svg", {"count": "false", "label": "views", "abbreviate": "1"}))
    assert "views" in big["body"]


def test_an_operator_corrects_a_counting_pages_total_and_its_history_stays(
    invoke_hits: Invoke, shared_redis: RedisServer, logs: Callable[[], str]
) -> None:
    for i in range(3):
        invoke_hits(page_event("typo-inflated", user_agent=f"agent-{i}"))
    ttl_before = shared_redis.client().ttl(next(iter(shared_redis.client().keys("*page:typo-inflated:count"))))
    fixed = invoke_hits(_seed("typo-inflated", {"hits": 100, "replace": True}))
    assert (fixed["statusCode"], body_json(fixed)) == (200, {"page": "typo-inflated", "hits": 100})
    logged = [json.loads(line) for line in logs().splitlines() if "was corrected" in line]
    assert [(r["page"], r["old_total"], r["new_total"]) for r in logged] == [("typo-inflated", 3, 100)]
    assert body_json(invoke_hits(page_event("typo-inflated")))["hits"] == 101  # it counts on from there
    stats = body_json(invoke_hits(page_event("typo-inflated", "/stats", {"period": "48h"})))
    assert (stats["total"], stats["hits"]) == (101, 4)  # the total corrected; the history as it was
    ttl_after = shared_redis.client().ttl(next(iter(shared_redis.client().keys("*page:typo-inflated:count"))))
    assert ttl_after >= ttl_before - 5  # the count still expires PAGE_IDLE_DAYS after its last hit
    missing = invoke_hits(_seed("nobody-counts", {"hits": 5, "replace": True}))
    assert missing["statusCode"] == 404 and shared_redis.client().keys("*page:nobody-counts:*") == []
    assert invoke_hits(_seed("typo-inflated", {"hits": 5, "replace": "yes"}))["statusCode"] == 422
    assert invoke_hits(_seed("typo-inflated", {"hits": 5}))["statusCode"] == 409  # still seed-only without it


def test_the_reads_open_in_a_spreadsheet_with_the_json_numbers(invoke_hits: Invoke) -> None:
    import csv
    import io

    now = now_ms()
    for i in range(3):
        invoke_hits(at(page_event("sheet", user_agent=f"agent-{i}"), now))
    invoke_hits(at(page_event("-cmd"), now))  # an id a spreadsheet would read as a formula

    def both(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]], dict[str, Any]]:
        as_json = body_json(invoke_hits(event))
        event["queryStringParameters"] = {**(event["queryStringParameters"] or {}), "format": "csv"}
        answer = invoke_hits(event)
        assert (
            answer["statusCode"] == 200 and header(answer, "Content-Type") == "text/csv; charset=utf-8; header=present"
        )
        assert re.fullmatch(r'attachment; filename="[A-Za-z0-9.-]+\.csv"', header(answer, "Content-Disposition") or "")
        return as_json, list(csv.DictReader(io.StringIO(answer["body"]))), answer

    site_json, site_rows, _ = both(stats_event(now, "30d"))
    assert [int(r["hits"]) for r in site_rows] == [p["hits"] for p in site_json["series"]]
    page_json, page_rows, _ = both(at(page_event("sheet", "/stats", {"period": "48h"}), now))
    assert [(r["start"], int(r["hits"])) for r in page_rows] == [(p["start"], p["hits"]) for p in page_json["series"]]
    assert sum(int(r["hits"]) for r in page_rows) == 3
    top_json, top_rows, raw = both(at(stats_event(now, "30d", "/pages"), now))
    assert [(r["page"].removeprefix("'"), int(r["hits"])) for r in top_rows] == [
        (p["page"], p["hits"]) for p in top_json["pages"]
    ]
    assert "'-cmd" in raw["body"] and not any(r["page"].startswith("-") for r in top_rows)  # never a formula
    bad = stats_event(now, "30d")
    bad["queryStringParameters"] = {"format": "xml"}
    assert invoke_hits(bad)["statusCode"] == 400
