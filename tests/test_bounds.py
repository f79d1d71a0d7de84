"""Every bound the code enforces, tried just inside and just outside, with the documented
answer on each side; and the requests that bring nothing to know a visitor by, on every
counting route. (Hand-made mutants lived where no test sent input: these are those places.)
Bounds tested elsewhere are named where they are: the sliding minute, the reload window's
DNT half, the new-page budget and idle pages (test_page_limits.py), the restore's values
(unit/test_snapshot_format.py), the edge's rule (test_edge.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hitcounter.core.errors import ConfigError, PayloadTooLarge
from hitcounter.core.settings import load_settings
from hitcounter.logic.accesslog import FUTURE_SKEW_MS, History, Limits, summarize
from hitcounter.model.keys import page_slot, slot_cap
from tests.support.events import IMPORTS_BUCKET, Invoke, body_json, header, invoker, load_event, page_event

MINUTE_MS = 60_000


def at(event: dict[str, Any], epoch_ms: int) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = epoch_ms
    return event


# --- requests that bring nothing to know a visitor by -----------------------------------


def _anonymous(event: dict[str, Any]) -> dict[str, Any]:
    """No source address, no User-Agent, no Accept-Language: nothing to tell a visitor by."""
    event["requestContext"]["http"]["sourceIp"] = ""
    event["requestContext"]["http"].pop("userAgent", None)
    for name in ("user-agent", "accept-language", "User-Agent", "Accept-Language"):
        event["headers"].pop(name, None)
    return event


def test_the_seeds_counter_counts_a_request_with_no_visitor_and_adds_no_unique(invoke_hits: Invoke) -> None:
    answers = [body_json(invoke_hits(_anonymous(load_event("hits/get-root-json"))))["hits"] for _ in range(3)]
    assert answers == [1, 2, 3]  # every request, as the seed counted
    stats = load_event("hits/get-stats")
    stats["queryStringParameters"] = {"period": "1h"}
    assert body_json(invoke_hits(stats))["uniques"] == 0


@pytest.mark.parametrize("route", ["", "/badge.svg"])
def test_a_page_request_with_no_visitor_is_a_bot_and_counts_nothing(invoke_hits: Invoke, route: str) -> None:
    # No User-Agent: counted apart as a bot (no_user_agent), never a hit, never a new page.
    assert body_json(invoke_hits(page_event("seen")))["hits"] == 1
    response = invoke_hits(_anonymous(page_event("seen", route)))
    assert response["statusCode"] == 200
    if route:
        assert ">1<" in response["body"]
    else:
        assert body_json(response)["hits"] == 1
    stats = body_json(invoke_hits(page_event("seen", "/stats", {"period": "48h"})))
    assert stats["bots"]["by_reason"] == {"no_user_agent": 1}
    unknown = invoke_hits(_anonymous(page_event("never-seen", route)))
    assert unknown["statusCode"] == 200
    assert invoke_hits(page_event("never-seen", "/stats"))["statusCode"] == 404  # nothing was made


def test_a_browser_with_no_source_address_counts_once_and_is_limited_by_no_one(invoke_hits: Invoke) -> None:
    # API Gateway always sends sourceIp; a hand-made event may not. The agent alone makes
    # the visitor (reloads count once), and there is no client to limit.
    event = page_event("addressless")
    event["requestContext"]["http"]["sourceIp"] = ""
    start = event["requestContext"]["timeEpoch"]
    answers = [body_json(invoke_hits(at(json.loads(json.dumps(event)), start + i)))["hits"] for i in range(3)]
    assert answers == [1, 1, 1]
    assert header(invoke_hits(at(event, start + 10)), "RateLimit-Limit") is None


# --- the reload window ---------------------------------------------------------------------


def test_a_reload_just_inside_the_window_counts_nothing_and_just_past_it_counts(invoke_hits: Invoke) -> None:
    start = page_event("w")["requestContext"]["timeEpoch"]
    first = invoke_hits(at(page_event("w", source_ip="192.0.2.30"), start))
    inside = invoke_hits(at(page_event("w", source_ip="192.0.2.30"), start + 4_999))
    past = invoke_hits(at(page_event("w", source_ip="192.0.2.30"), start + 5_000))
    assert [body_json(r)["hits"] for r in (first, inside, past)] == [1, 1, 2]  # DEDUPE_SECONDS = 5


# --- PAGES_MAX's shares --------------------------------------------------------------------


def test_pages_max_is_at_least_its_64_slots() -> None:
    assert load_settings({"PAGES_MAX": "64"}).pages.pages_max == 64
    with pytest.raises(ConfigError, match="PAGES_MAX"):
        load_settings({"PAGES_MAX": "63"})


@pytest.mark.parametrize(("pages_max", "share"), [(64, 1), (65, 2), (128, 2), (129, 3)])
def test_each_slot_holds_its_share_rounded_up(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str, pages_max: int, share: int
) -> None:
    # A page's slot is a hash of its id: PAGES_MAX is 64 shares of ceil(PAGES_MAX / 64), so the
    # whole holds between PAGES_MAX and PAGES_MAX + 63 (docs/pages.md).
    assert slot_cap(pages_max) == share and slot_cap(10_000) == 157
    function_env(REDIS_URL=redis_url, KEY_PREFIX="b:", PAGES_MAX=str(pages_max))
    invoke = invoker(hits_module)
    same_slot = [p for p in (f"s{i}" for i in range(5_000)) if page_slot(p) == 7][: share + 1]
    codes = [invoke(page_event(p))["statusCode"] for p in same_slot]
    assert codes == [200] * share + [507]  # the share's last page made, the next refused


# --- imports: an object's size, a line's time ---------------------------------------------


def _limits_env(size: int) -> dict[str, str]:
    return {"IMPORT_MAX_OBJECT_BYTES": str(size)}


@pytest.mark.parametrize("room", [0, -1])
def test_an_object_of_exactly_the_largest_size_is_taken_and_one_byte_more_is_not(
    function_env: Callable[..., None], redis_url: str, scratch: Path, s3: Any, room: int
) -> None:
    # The four places that read IMPORT_MAX_OBJECT_BYTES: POST /imports, the import worker,
    # POST /restores and the restore worker; room 0: the object is exactly the bound.
    from hitcounter.logic import imports, snapshots
    from hitcounter.runtime import services

    log = b'192.0.2.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"\n'
    s3.put_object(Bucket=IMPORTS_BUCKET, Key="logs/edge.log", Body=log)
    s3.put_object(Bucket=IMPORTS_BUCKET, Key="exports/edge.jsonl.gz", Body=log)
    function_env(
        "ImportWorkerFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(scratch),
        **_limits_env(len(log) + room),
    )  # fmt: skip
    s = services()
    limits = s.settings.imports
    calls: list[Callable[[], object]] = [  # the restore's first, while the store is empty
        lambda: snapshots.start_restore(s.snapshots, s.objects, lambda _: None, limits, "exports/edge.jsonl.gz"),
        lambda: imports.start(s.objects, s.imports, lambda _: None, limits, "logs/edge.log"),
        lambda: imports.run(s.objects, s.imports, scratch, limits, "logs/edge.log"),
    ]
    for call in calls:
        if room < 0:
            with pytest.raises(PayloadTooLarge):
                call()
        else:
            call()  # taken (what follows is not this test's: the log counts, the export is no export)
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key="exports/edge.jsonl.gz")["ETag"].strip('"')
    ident = snapshots.restore_id(IMPORTS_BUCKET, "exports/edge.jsonl.gz", etag)
    s.snapshots.unlock(ident)
    with pytest.raises(PayloadTooLarge if room < 0 else Exception) as raised:  # the fourth place
        snapshots.run_restore(
            s.snapshots, s.objects, scratch, limits=limits, ident=ident, key="exports/edge.jsonl.gz", etag=etag
        )
    if room == 0:  # past the size check: refused for not being gzip, which is the next check
        assert "gzip" in str(raised.value)


@pytest.mark.parametrize(("ahead_ms", "untimed"), [(FUTURE_SKEW_MS, 0), (FUTURE_SKEW_MS + 1000, 1),
                                                   (MINUTE_MS * 30, 1), (86_400_000, 1)])  # fmt: skip
def test_a_line_up_to_five_minutes_ahead_counts_in_its_bucket_and_past_it_is_untimed(
    tmp_path: Path, ahead_ms: int, untimed: int
) -> None:
    from datetime import UTC, datetime

    now_ms = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
    when = datetime.fromtimestamp((now_ms + ahead_ms) / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    path = tmp_path / "a.log"
    path.write_text(f'192.0.2.1 - - [{when}] "GET / HTTP/1.1" 200 12 "-" "curl/8"\n')
    summary = summarize(path, Limits(history=History(now_ms)))
    assert (summary.counted, summary.untimed) == (1, untimed)
    assert bool(summary.buckets) == (untimed == 0)


# --- a page's stats answer the period asked for ------------------------------------------


@pytest.mark.parametrize(("period", "unit", "buckets"), [("1h", "minute", 60), ("48h", "hour", 48),
                                                         ("30d", "day", 30), ("1y", "day", 365)])  # fmt: skip
def test_a_pages_stats_answer_the_period_asked_for(invoke_hits: Invoke, period: str, unit: str, buckets: int) -> None:
    now = int(time.time() * 1000)
    invoke_hits(at(page_event("periodic"), now))
    body = body_json(invoke_hits(at(page_event("periodic", "/stats", {"period": period}), now)))
    assert (body["period"], body["unit"], len(body["series"])) == (period, unit, buckets)
    assert body["series"][-1]["hits"] == 1 and body["total"] == 1
    assert invoke_hits(page_event("periodic", "/stats", {"period": "2d"}))["statusCode"] == 400


# --- what a request may carry ----------------------------------------------------------------


@pytest.mark.parametrize(("length", "status"), [(255, 200), (256, 400)])
def test_an_idempotency_key_of_up_to_255_characters(invoke_hits: Invoke, length: int, status: int) -> None:
    assert invoke_hits(page_event("keyed", idempotency_key="k" * length))["statusCode"] == status


@pytest.mark.parametrize(("hits", "status"), [(10**15, 201), (10**15 + 1, 422), (0, 201), (-1, 422)])
def test_a_starting_count_from_0_to_10_to_the_15(invoke_hits: Invoke, hits: int, status: int) -> None:
    seed = load_event("hits/put-page-count")
    seed["rawPath"] = seed["requestContext"]["http"]["path"] = f"/pages/seeded-{hits}/count"
    seed["pathParameters"] = {"page": f"seeded-{hits}"}
    seed["body"] = json.dumps({"hits": hits})
    assert invoke_hits(seed)["statusCode"] == status


# The reader takes 32 levels and refuses the 33rd (400); what it took, the seed's logic then
# refuses for its unknown field (422): a body the reader parsed, not one it refused.
@pytest.mark.parametrize(("depth", "status"), [(31, 422), (32, 422), (33, 400)])
def test_a_body_nested_up_to_32_levels(invoke_hits: Invoke, depth: int, status: int) -> None:
    seed = load_event("hits/put-page-count")
    seed["rawPath"] = seed["requestContext"]["http"]["path"] = f"/pages/deep-{depth}/count"
    seed["pathParameters"] = {"page": f"deep-{depth}"}
    nested: Any = 1
    for _ in range(depth - 1):
        nested = [nested]
    seed["body"] = json.dumps({"hits": 5, "note": nested})  # the object itself is one level
    assert invoke_hits(seed)["statusCode"] == status


@pytest.mark.parametrize(("limit", "status"), [("1", 200), ("50", 200), ("0", 400), ("51", 400)])
def test_the_top_pages_take_a_limit_from_1_to_50(invoke_hits: Invoke, limit: str, status: int) -> None:
    top = load_event("hits/get-top-pages")
    top["queryStringParameters"] = {"limit": limit}
    assert invoke_hits(top)["statusCode"] == status
