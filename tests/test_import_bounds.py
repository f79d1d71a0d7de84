"""Imports bounded whatever the log says (issue: poisoned, future-dated and repeated logs):
every instant between 1970 and the import's own time (plus a small skew) or untimed, offsets
within real zones, any error ending the import ``failed``, the ledger bounded in count and
time, and the same bytes under another key counted once. On moto's S3 and real Redis."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hitcounter.logic.accesslog import line_time_ms
from hitcounter.model import history
from tests.support.events import IMPORTS_BUCKET as BUCKET
from tests.support.events import Invoke, body_json
from tests.support.events import import_job as job
from tests.support.events import post_import as post
from tests.support.servers import RedisServer


def _line(stamp: str, ip: str = "192.0.2.1") -> str:
    return f'{ip} - - [{stamp}] "GET / HTTP/1.1" 200 12 "-" "curl/8"'


def _summary(client: Any, work: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(client.get(f"{{hits}}:import:{work['import']['id']}") or "null"))


def _state(client: Any, work: dict[str, Any]) -> dict[str, Any] | None:
    raw = client.get(f"{{hits}}:import:{work['import']['id']}:state")
    return None if raw is None else dict(json.loads(raw))


@pytest.mark.parametrize(
    "stamp",
    [
        "10/Oct/2026:10:00:00 +9959",  # 99 hours: no zone is that far from UTC
        "10/Oct/2026:10:00:00 -1401",
        "10/Oct/2026:10:00:00 +1401",
    ],
)
def test_an_offset_beyond_any_real_zone_is_no_instant(stamp: str) -> None:
    assert line_time_ms(stamp.encode()) is None


def test_the_furthest_real_zones_are_instants() -> None:
    assert line_time_ms(b"10/Oct/2026:10:00:00 +1400") is not None
    assert line_time_ms(b"10/Oct/2026:10:00:00 -1200") is not None


def test_a_line_past_year_9999_in_utc_ends_the_import_done_not_running(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    # Given a log whose one poisoned line is a real instant in its own zone, year 10000 in UTC
    now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    lines = [_line("31/Dec/9999:23:59:59 -0100"), _line("01/Jan/0001:00:00:00 +0100"), _line(now, "192.0.2.2")]
    s3.put_object(Bucket=BUCKET, Key="logs/poisoned.log", Body="\n".join(lines).encode())
    work = job(s3, "logs/poisoned.log")
    # When the worker imports it
    result = run_worker(work)
    # Then it is done: every line counted, the two out-of-range ones untimed, no state left
    assert result["imports"] == [{"id": work["import"]["id"], "counted": 3}]
    client = shared_redis.client()
    summary = _summary(client, work)
    assert (summary["counted"], summary["untimed"]) == (3, 2)
    assert _state(client, work) is None
    assert [k for k in client.keys("{hits}:d:*")] == [f"{{hits}}:d:{datetime.now(UTC):%Y%m%d}"]


def test_future_dated_lines_fill_no_bucket_and_the_commit_is_bounded_by_retention(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    # Given 20,000 lines, each in its own minute from 2030 on, and one line of now
    start = datetime(2030, 1, 1, tzinfo=UTC)
    stamps = (start + timedelta(minutes=i) for i in range(20_000))
    lines = [_line(t.strftime("%d/%b/%Y:%H:%M:%S +0000")) for t in stamps]
    lines.append(_line(datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"), "192.0.2.2"))
    s3.put_object(Bucket=BUCKET, Key="logs/future.log.gz", Body=gzip.compress("\n".join(lines).encode(), mtime=0))
    work = job(s3, "logs/future.log.gz")
    # When it is imported
    run_worker(work)
    # Then every line counts in the total, and only the present one fills buckets
    client = shared_redis.client()
    assert client.get("{hits}:count") == "20001"
    assert _summary(client, work)["untimed"] == 20_000
    buckets = client.keys("{hits}:[mhd]:*")
    assert len(buckets) == 3, buckets
    assert all(client.ttl(k) <= history.DAY_TTL + 86400 for k in buckets)


def test_a_line_a_little_ahead_of_the_importers_clock_still_counts_in_its_bucket(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    ahead = datetime.now(UTC) + timedelta(seconds=60)  # a web server's clock a minute fast
    s3.put_object(Bucket=BUCKET, Key="logs/skew.log", Body=_line(ahead.strftime("%d/%b/%Y:%H:%M:%S +0000")).encode())
    work = job(s3, "logs/skew.log")
    run_worker(work)
    client = shared_redis.client()
    assert _summary(client, work)["untimed"] == 0
    assert client.get(f"{{hits}}:m:{ahead:%Y%m%d%H%M}") == "1"


def test_an_unforeseen_error_ends_the_import_failed_and_a_new_post_starts_it_again(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitcounter.logic import accesslog

    # Given a parser that meets a bug nobody foresaw
    def broken(*_: Any) -> None:
        raise ValueError("year 10000 is out of range")

    monkeypatch.setattr(accesslog, "_record_history", broken)
    s3.put_object(Bucket=BUCKET, Key="logs/bug.log", Body=_line("10/Oct/2026:10:00:00 +0000").encode())
    work = job(s3, "logs/bug.log")
    # When the worker runs it
    result = run_worker(work)
    # Then the import is failed with a reason that names the kind of error only, nothing counted
    assert result["imports"] == [{"error": "import_crashed"}]
    client = shared_redis.client()
    state = _state(client, work)
    assert state is not None and state["state"] == "failed"
    assert state["reason"]["code"] == "import_crashed" and "ValueError" in state["reason"]["message"]
    assert "10000" not in state["reason"]["message"]
    assert client.get("{hits}:count") is None
    # And once the bug is gone, the same import runs to the end
    monkeypatch.undo()
    run_worker(work)
    assert client.get("{hits}:count") == "1" and _state(client, work) is None


def test_summaries_expire_with_the_history_they_added_to(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=_line("10/Oct/2026:10:00:00 +0000").encode())
    work = job(s3, "logs/a.log")
    run_worker(work)
    client = shared_redis.client()
    ttl = client.ttl(f"{{hits}}:import:{work['import']['id']}")
    assert history.DAY_TTL - 60 < ttl <= history.DAY_TTL
    assert all(0 < client.ttl(k) <= history.DAY_TTL for k in client.keys("{hits}:content:*"))


@pytest.fixture
def per_day(function_env: Callable[..., None], redis_url: str, scratch: Path) -> Callable[[int], None]:
    """The worker's environment with another IMPORTS_PER_DAY."""

    def apply(cap: int) -> None:
        function_env(
            "ImportWorkerFunction",
            REDIS_URL=redis_url,
            KEY_PREFIX="",
            SCRATCH_DIR=str(scratch),
            IMPORTS_PER_DAY=str(cap),
        )

    return apply


def test_uploads_past_the_days_cap_leave_nothing_but_the_tally(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, per_day: Callable[[int], None]
) -> None:
    per_day(2)
    client = shared_redis.client()
    results = []
    for i in range(5):  # any bucket writer can upload without limit: the S3 trigger needs no signature
        key = f"logs/flood-{i}.log"
        s3.put_object(Bucket=BUCKET, Key=key, Body=_line("10/Oct/2026:10:00:00 +0000", f"192.0.2.{i}").encode())
        etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
        trigger = {"Records": [{"s3": {"object": {"key": key, "eTag": etag}}}]}
        results += run_worker(trigger)["imports"]
    assert [r.get("error") for r in results] == [None, None, "too_many_imports", "too_many_imports", "too_many_imports"]
    assert client.get("{hits}:count") == "2"
    assert len(client.keys("{hits}:import:*")) == 2  # two summaries, no state for the refused three
    (tally,) = client.keys("{hits}:imports:day:*")
    assert 86400 < client.ttl(tally) <= 90000


def test_a_post_past_the_days_cap_is_failed_with_its_reason(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, per_day: Callable[[int], None]
) -> None:
    per_day(1)
    for name in ("one", "two"):
        s3.put_object(Bucket=BUCKET, Key=f"logs/{name}.log", Body=_line("10/Oct/2026:10:00:00 +0000", name).encode())
    run_worker(job(s3, "logs/one.log"))
    second = job(s3, "logs/two.log")
    assert run_worker(second)["imports"] == [{"error": "too_many_imports"}]
    state = _state(shared_redis.client(), second)
    assert state is not None and (state["state"], state["reason"]["code"]) == ("failed", "too_many_imports")


def test_the_same_log_under_another_key_counts_once(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    # Given one log uploaded twice: rotated under a new name (another key, maybe another ETag)
    now = datetime.now(UTC)
    body = "\n".join(
        _line((now - timedelta(days=d)).strftime("%d/%b/%Y:%H:%M:%S +0000"), f"192.0.2.{d}") for d in range(5)
    )
    s3.put_object(Bucket=BUCKET, Key="logs/access.log", Body=body.encode())
    s3.put_object(Bucket=BUCKET, Key="logs/access.log.1", Body=body.encode())
    first, second = job(s3, "logs/access.log"), job(s3, "logs/access.log.1")
    # When both are imported
    run_worker(first)
    client = shared_redis.client()
    before = {k: client.get(k) for k in client.keys("{hits}:[mhd]:*")}
    uniques = {k: client.pfcount(k) for k in client.keys("{hits}:u:*")}
    result = run_worker(second)
    # Then the second counts nothing, and its summary says whose count it is
    assert result["imports"] == [{"id": second["import"]["id"], "counted": 0}]
    assert client.get("{hits}:count") == "5"
    assert {k: client.get(k) for k in client.keys("{hits}:[mhd]:*")} == before
    assert {k: client.pfcount(k) for k in client.keys("{hits}:u:*")} == uniques
    summary = _summary(client, second)
    assert (summary["counted"], summary["duplicate_of"]) == (0, first["import"]["id"])
    assert client.keys("*import:*:u:*") == []  # its staged visitors are gone too


@pytest.mark.parametrize("char", ["\u0085", "\u009b", "\u202e", "\u200b", "\u2028", "\ue000", "\U000e0001"])
def test_a_key_with_an_invisible_or_reordering_character_is_refused(invoke_imports: Invoke, s3: Any, char: str) -> None:
    response = invoke_imports(post(f"logs/a{char}b.log"))
    assert response["statusCode"] == 422
    assert body_json(response)["error"]["code"] == "invalid_fields"
    assert char not in response["body"]


def test_a_key_in_any_script_is_accepted(invoke_imports: Invoke, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="logs/журнал-日志.log", Body=b"")
    response = invoke_imports(post("logs/журнал-日志.log"))
    assert response["statusCode"] != 422, response["body"]
