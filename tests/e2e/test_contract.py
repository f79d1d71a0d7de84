"""The HTTP contract (README, "Routes") against the deployed API. Tests marked ``writes`` count
hits or make sessions; the prod job runs the others only (``-m 'e2e and not writes'``)."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from tests.e2e.conftest import Call
from tests.support.http import person

pytestmark = pytest.mark.e2e


@pytest.mark.writes
def test_each_hit_is_counted_once_and_a_retry_with_its_key_is_not(call: Call) -> None:
    first = call("GET", "/", {"Accept": "application/json"})
    second = call("GET", "/", {"Accept": "application/json"})
    assert first[0] == second[0] == 200
    assert json.loads(second[2])["hits"] > json.loads(first[2])["hits"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    status, _, body = call("GET", "/", key)
    assert status == 200 and re.fullmatch(r"Hello World! \d+ times\.", body)
    replay = call("GET", "/", key)
    assert (replay[0], replay[2]) == (200, body) and replay[1].get("Idempotent-Replayed") == "true"


def test_reads_and_health_answer_without_counting(call: Call) -> None:
    before = json.loads(call("GET", "/hits")[2])["hits"]
    assert call("GET", "/health")[0] == 200
    status, _, body = call("GET", "/health/ready")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert json.loads(call("GET", "/openapi.json")[2])["openapi"].startswith("3.")
    assert json.loads(call("GET", "/hits")[2])["hits"] >= before


def test_the_history_and_its_page_answer(call: Call) -> None:
    status, _, body = call("GET", "/stats?period=48h")
    stats = json.loads(body)
    assert status == 200 and stats["unit"] == "hour" and len(stats["series"]) == 48
    assert call("GET", "/stats?period=forever")[0] == 400
    status, headers, page = call("GET", "/dashboard")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and len(page.encode()) < 50_000


def test_unknown_routes_are_not_found(call: Call) -> None:
    assert call("GET", "/no-such-route")[0] == 404


def test_the_import_routes_refuse_unsigned_calls_and_serve_signed_ones(call: Call) -> None:
    assert call("POST", "/imports", body={"key": "logs/x.log"})[0] == 403
    assert call("GET", f"/imports/{'0' * 32}")[0] == 403
    status, _, body = call("GET", f"/imports/{'0' * 32}", sign=True)
    assert status == 404, body


@pytest.mark.writes
def test_an_export_is_written_and_a_restore_refuses_a_store_that_counts(call: Call) -> None:
    assert call("POST", "/exports")[0] == 403  # unsigned
    status, headers, body = call("POST", "/exports", sign=True)
    assert status == 202, body
    location = {name.lower(): value for name, value in headers.items()}["location"]
    deadline = time.monotonic() + 330  # the worker's 300 s timeout, and then some
    state = json.loads(call("GET", location, sign=True)[2])
    while state["state"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(2)  # polling a job a user would poll; the condition is its state
        state = json.loads(call("GET", location, sign=True)[2])
    assert state["state"] == "done" and state["key"].startswith("exports/"), state
    # The deployed store counts: a restore is refused, nothing written.
    status, _, body = call("POST", "/restores", body={"key": state["key"]}, sign=True)
    assert (status, json.loads(body)["error"]["code"]) == (409, "store_not_empty")


@pytest.mark.writes
def test_a_session_lives_in_redis_across_requests(call: Call) -> None:
    status, headers, _ = call("POST", "/session")
    assert status == 201
    sid = headers["Set-Cookie"].split(";")[0]
    visit = call("GET", "/session", {"Cookie": sid})
    assert visit[0] == 200 and json.loads(visit[2])["visits"] >= 1
    assert call("DELETE", "/session", {"Cookie": sid})[0] == 204
    assert call("GET", "/session", {"Cookie": sid})[0] == 401


@pytest.mark.writes
def test_a_page_counts_on_its_own_and_draws_its_badge(call: Call) -> None:
    page = f"e2e-{uuid.uuid4().hex[:12]}"
    first = call("GET", f"/pages/{page}", {**person(1), "Accept": "application/json"})
    second = call("GET", f"/pages/{page}", {**person(2), "Accept": "application/json"})
    assert (json.loads(first[2]), json.loads(second[2])) == ({"page": page, "hits": 1}, {"page": page, "hits": 2})
    limit = {name.lower(): value for name, value in first[1].items()}
    assert limit["ratelimit-limit"] == "60" and limit["ratelimit-remaining"] == "59"
    status, headers, svg = call("GET", f"/pages/{page}/badge.svg?count=false")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml") and ">2<" in svg
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert json.loads(call("GET", f"/pages/{page}/stats")[2])["total"] == 2


@pytest.mark.writes
def test_crawlers_and_reloads_add_nothing(call: Call) -> None:
    page = f"e2e-bots-{uuid.uuid4().hex[:12]}"
    assert json.loads(call("GET", f"/pages/{page}", person(1))[2])["hits"] == 1
    crawler = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    assert json.loads(call("GET", f"/pages/{page}", crawler)[2])["hits"] == 1
    stats = json.loads(call("GET", f"/pages/{page}/stats")[2])
    assert stats["total"] == 1 and stats["bots"]["by_reason"] == {"crawler": 1}


def test_pages_are_readable_from_other_origins_and_bad_ids_are_not_found(call: Call) -> None:
    origin = {"Origin": "https://blog.example.org"}
    status, headers, _ = call("OPTIONS", "/pages/home", origin | {"Access-Control-Request-Method": "GET"})
    assert status == 204 and headers.get("Access-Control-Allow-Origin") == "*"
    status, _, body = call("GET", "/pages")
    assert status == 200 and isinstance(json.loads(body)["pages"], list)
    assert call("GET", "/pages/%3Cscript%3E")[0] == 404
    assert call("GET", "/pages/" + "a" * 65)[0] == 404


@pytest.mark.writes
def test_a_page_starts_from_an_old_count_when_an_operator_says_so(call: Call) -> None:
    page = f"e2e-seed-{uuid.uuid4().hex[:12]}"
    assert call("PUT", f"/pages/{page}/count", body={"hits": 500})[0] == 403  # unsigned
    assert call("PUT", f"/pages/{page}/count", body={"hits": 500}, sign=True)[0] == 201
    assert call("PUT", f"/pages/{page}/count", body={"hits": 9}, sign=True)[0] == 409
    assert json.loads(call("GET", f"/pages/{page}", {**person(1), "Accept": "application/json"})[2])["hits"] == 501


@pytest.mark.writes
def test_a_path_page_counts_once_per_spelling_and_reads_by_its_path(call: Call) -> None:
    from urllib.parse import quote

    path = f"/e2e/{uuid.uuid4().hex[:12]}/"
    spellings = [path, path.replace("/e2e/", "/e2e/./"), path.replace("/e2e/", "//e2e//")]
    answers = [
        json.loads(call("GET", f"/count?path={quote(s, safe='')}", {**person(i), "Accept": "application/json"})[2])
        for i, s in enumerate(spellings, start=20)
    ]
    assert answers == [{"page": path, "hits": n} for n in (1, 2, 3)]
    status, _, body = call("GET", f"/stats?path={quote(path, safe='')}&period=48h")
    assert status == 200 and json.loads(body)["page"] == path and json.loads(body)["total"] == 3
    assert call("GET", "/count?path=no-slash")[0] == 404


@pytest.mark.writes
def test_a_referring_site_is_kept_as_its_host_and_every_page_together_counts_it(call: Call) -> None:
    from urllib.parse import quote

    path = f"/e2e/{uuid.uuid4().hex[:12]}/"
    came_from = quote("https://news.ycombinator.com/item?id=1", safe="")
    headers = {**person(40), "Accept": "application/json", "Origin": "https://blog.example.org"}
    assert call("GET", f"/count?path={quote(path, safe='')}&r={came_from}", headers)[0] == 200
    status, _, body = call("GET", f"/stats?path={quote(path, safe='')}&period=48h")
    assert status == 200 and json.loads(body)["referrers"] == [{"host": "news.ycombinator.com", "hits": 1}]
    together = json.loads(call("GET", "/pages")[2])["all"]
    assert together["hits"] >= 1 and together["today"]["hits"] >= 1


def test_count_js_and_a_styled_badge_are_served(call: Call) -> None:
    status, headers, body = call("GET", "/count.js")
    assert status == 200 and headers.get("Content-Type", "").startswith("text/javascript")
    assert len(body.encode()) < 2048 and "hitcounter:ignore" in body
    status, headers, svg = call("GET", "/pages/e2e-readme/badge.svg?count=false&style=for-the-badge&color=success")
    assert status == 200 and "textLength" in svg and 'fill="#4c1"' in svg


@pytest.mark.writes
def test_an_operator_lists_corrects_and_deletes_a_page(call: Call) -> None:
    page = f"e2e-owner-{uuid.uuid4().hex[:12]}"
    assert json.loads(call("GET", f"/pages/{page}", {**person(30), "Accept": "application/json"})[2])["hits"] == 1
    assert call("GET", "/admin/pages")[0] == 403  # unsigned
    status, _, body = call("GET", "/admin/pages?limit=200", sign=True)
    assert status == 200 and "next" in json.loads(body)
    assert call("PUT", f"/pages/{page}/count", body={"hits": 40, "replace": True}, sign=True)[0] == 200
    assert json.loads(call("GET", f"/pages/{page}", {**person(31), "Accept": "application/json"})[2])["hits"] == 41
    assert call("DELETE", f"/pages/{page}")[0] == 403  # unsigned
    assert call("DELETE", f"/pages/{page}", sign=True)[0] == 204
    assert call("GET", f"/pages/{page}/stats")[0] == 404
    assert call("DELETE", f"/pages/{page}", sign=True)[0] == 404
