"""Hit history (docs/history.md): buckets and unique visitors in the same one step as
the count, bucketed by the request's own time, on real redis-server processes; /stats and
/dashboard; imports backfilling their lines' own days."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcounter.model import history
from tests.support.events import IMPORTS_BUCKET as BUCKET
from tests.support.events import Invoke, body_json, context, hit, stats_event
from tests.support.events import import_job as job
from tests.support.servers import RedisCluster3, RedisServer


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_buckets_split_at_minute_hour_day_and_year_boundaries(invoke_hits: Invoke, redis_url: str) -> None:
    for at in ("2025-12-31T23:59:59.999", "2026-01-01T00:00:00.000", "2026-01-01T00:00:59.999"):
        assert invoke_hits(hit(ms(at)))["statusCode"] == 200
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys: list[str] = client.keys("test:{hits}:[mhd]:*")  # type: ignore[assignment]  # decode_responses
    got = {k.removeprefix("test:{hits}:"): client.get(k) for k in keys}
    assert got == {
        "m:202512312359": "1",
        "h:2025123123": "1",
        "d:20251231": "1",
        "m:202601010000": "2",
        "h:2026010100": "2",
        "d:20260101": "2",
    }
    assert client.get("test:{hits}:count") == "3"


def test_each_bucket_expires_after_its_retention(invoke_hits: Invoke, redis_url: str) -> None:
    now = int(time.time() * 1000)
    invoke_hits(hit(now))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    day = history.day_id(now)
    expected = {
        f"m:{history.minute_id(now)}": history.MINUTE_TTL,
        f"h:{history.hour_id(now)}": history.HOUR_TTL,
        f"d:{day}": history.DAY_TTL,
        f"u:{day}": history.DAY_TTL,
        f"salt:{day}": history.SALT_TTL,
    }
    for name, ttl in expected.items():
        pttl = client.pttl(f"test:{{hits}}:{name}")
        assert ttl * 1000 - 5000 < pttl <= ttl * 1000, name
    assert history.MINUTE_TTL == 48 * 3600 and history.HOUR_TTL == 35 * 86400 and history.DAY_TTL == 400 * 86400


def test_uniques_count_visitors_not_hits_within_the_hyperloglog_error(invoke_hits: Invoke) -> None:
    at = ms("2026-11-24T12:00:00")
    visitors = 3000
    for i in range(visitors):
        invoke_hits(hit(at + i, ip=f"10.{i // 250}.{i % 250}.1"))
    for i in range(0, visitors, 3):  # the same visitors again: no new uniques
        invoke_hits(hit(at + i, ip=f"10.{i // 250}.{i % 250}.1"))
    invoke_hits(hit(at, ip="10.0.0.1", agent="another browser"))  # same IP, another agent: another visitor
    body = body_json(invoke_hits(stats_event(at + 60_000, "30d")))
    assert body["today"]["hits"] == visitors + visitors // 3 + 1
    assert abs(body["today"]["uniques"] - (visitors + 1)) <= 0.03 * visitors  # 0.81% standard error, 3.7 sigma
    assert body["uniques"] == body["today"]["uniques"]


def test_a_replayed_key_adds_nothing_to_the_history(invoke_hits: Invoke, redis_url: str) -> None:
    at = ms("2026-11-24T12:00:00")
    first = invoke_hits(hit(at, key="order-1"))
    again = invoke_hits(hit(at + 1000, ip="192.0.2.99", key="order-1"))  # a retry from elsewhere
    assert body_json(first) == body_json(again)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.get("test:{hits}:d:20261124") == "1"
    assert client.pfcount("test:{hits}:u:20261124") == 1


def test_no_address_or_agent_is_stored_or_logged(invoke_hits: Invoke, redis_url: str, logs: Callable[[], str]) -> None:
    at = int(time.time() * 1000)
    invoke_hits(hit(at, ip="198.51.100.42", agent="SecretAgent/7.1"))
    client = redis.Redis.from_url(redis_url)
    keys: list[bytes] = client.keys("*")  # type: ignore[assignment]
    stored = b"".join(key + (client.dump(key) or b"") for key in keys)  # every key and value, serialized
    for secret in (b"198.51.100.42", b"SecretAgent"):
        assert secret not in stored
    assert "198.51.100.42" not in logs() and "SecretAgent" not in logs()
    # The salt is the day's, random, and lives 48 h.
    salt = client.get(f"test:{{hits}}:salt:{history.day_id(at)}")
    assert salt is not None and len(salt) == 32


def test_history_is_by_the_requests_own_time_not_the_process_clock(invoke_hits: Invoke) -> None:
    invoke_hits(hit(ms("2024-02-29T10:00:00")))
    body = body_json(invoke_hits(stats_event(ms("2024-02-29T23:00:00"), "48h")))
    assert body["unit"] == "hour" and len(body["series"]) == 48
    assert body["series"][-1]["start"] == "2024-02-29T23:00:00Z"
    assert [p for p in body["series"] if p["hits"]] == [{"start": "2024-02-29T10:00:00Z", "hits": 1}]
    year = body_json(invoke_hits(stats_event(ms("2024-03-01T00:00:00"), "1y")))
    assert len(year["series"]) == 365 and year["series"][-2] == {
        "start": "2024-02-29T00:00:00Z",
        "hits": 1,
        "uniques": 1,
    }


def test_the_last_hour_is_by_minute(invoke_hits: Invoke) -> None:
    for at in ("2026-11-24T09:59:59.999", "2026-11-24T10:00:00.000", "2026-11-24T10:00:30.000", "2026-11-24T10:58:00"):
        invoke_hits(hit(ms(at)))
    body = body_json(invoke_hits(stats_event(ms("2026-11-24T10:58:59"), "1h")))
    assert (body["unit"], len(body["series"]), body["series"][0]["start"]) == ("minute", 60, "2026-11-24T09:59:00Z")
    busy = {p["start"]: p["hits"] for p in body["series"] if p["hits"]}
    assert busy == {"2026-11-24T09:59:00Z": 1, "2026-11-24T10:00:00Z": 2, "2026-11-24T10:58:00Z": 1}
    assert body["hits"] == 4 and body["today"] == {"hits": 4, "uniques": 1}


def test_stats_refuses_an_unknown_period(invoke_hits: Invoke) -> None:
    response = invoke_hits(stats_event(ms("2026-11-24T00:00:00"), "forever"))
    assert response["statusCode"] == 400
    assert body_json(response)["error"]["message"] == "period must be one of 1h, 48h, 30d, 1y"


@pytest.mark.parametrize("shards", ["1", "4"])
def test_sharded_and_cluster_stats_add_up(
    shards: str, cluster: RedisCluster3, hits_module: ModuleType, function_env: Callable[..., None]
) -> None:
    cluster.flushall()
    function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", HITS_SHARDS=shards, KEY_PREFIX="hist:")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = hits_module.lambda_handler(event, context("r", 9000))
        return result

    at = ms("2026-11-20T08:30:00")
    for i in range(200):  # 50 visitors, 4 hits each, over two days
        invoke(hit(at + (i % 2) * 86_400_000, ip=f"10.9.{(i // 2) % 50}.1"))
    for i in range(10):  # keyed: each counts once
        invoke(hit(at, ip="10.8.0.1", key=f"k{i}"))
        invoke(hit(at, ip="10.8.0.1", key=f"k{i}"))
    body = body_json(invoke(stats_event(at + 2 * 86_400_000, "30d")))
    assert body["total"] == body["hits"] == 210
    days = {p["start"][:10]: (p["hits"], p["uniques"]) for p in body["series"] if p["hits"]}
    assert days["2026-11-20"][0] == 110 and days["2026-11-21"][0] == 100
    # Unkeyed: each visitor on one shard, so the shards' estimates add up (each within the
    # HyperLogLog's error: small sets are nearly exact).
    assert abs(days["2026-11-21"][1] - 50) <= 2
    # Keyed requests of one visitor may land on several shards: counted once per shard.
    assert 49 <= days["2026-11-20"][1] <= 50 + int(shards) + 2


def test_the_dashboard_shows_the_stats_escaped_small_and_self_contained(
    invoke_hits: Invoke, redis_url: str, function_modules: dict[str, ModuleType]
) -> None:
    now = ms("2026-11-24T12:00:00")
    for day in range(365):  # a full year, every day busy: the largest page
        for _ in range(1 + day % 3):
            invoke_hits(hit(now - day * 86_400_000, ip=f"10.1.{day % 250}.1"))
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    hostile = {
        "id": "x",
        "key": 'logs/<script>alert("x")</script>.log',
        "counted": 3,
        "lines": 5,
        "imported_at": "2026",
    }
    client.lpush("test:{hits}:imports:recent", json.dumps(hostile))
    for period in ("1h", "48h", "30d", "1y"):
        response = invoke_hits(stats_event(now, period, "/dashboard"))
        page = response["body"]
        assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("text/html")
        assert len(page.encode()) < 50_000, (period, len(page.encode()))
        stats = body_json(invoke_hits(stats_event(now, period)))
        assert f'<dd id="total">{stats["total"]}</dd>' in page
        assert f'<dd id="today">{stats["today"]["hits"]}</dd>' in page
        assert page.count("data-hits=") == len(stats["series"])
        assert "<script>" not in page and "&lt;script&gt;" in page
        assert "http://" not in page and "https://" not in page  # nothing fetched: works offline
        assert 'role="img"' in page and "<desc" in page and '<html lang="en">' in page


# --- imports add their lines to the history of their own time --------------------------


def _clf(when: datetime, ip: str, line: str = "GET / HTTP/1.1", status: int = 200, agent: str = "curl/8") -> str:
    return f'{ip} - - [{when.strftime("%d/%b/%Y:%H:%M:%S %z")}] "{line}" {status} 12 "-" "{agent}"'


def test_an_import_backfills_the_buckets_of_its_lines_own_time_once(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, scratch: Path
) -> None:
    now = datetime.now(UTC)
    two_days_ago = (now - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    an_hour_ago = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    long_ago = now - timedelta(days=500)
    in_paris = timezone(timedelta(hours=1))  # a line's own offset is honoured
    lines = [
        _clf(two_days_ago, "192.0.2.1"),
        _clf(two_days_ago + timedelta(minutes=5), "192.0.2.1"),
        _clf((two_days_ago + timedelta(minutes=9)).astimezone(in_paris), "192.0.2.2"),
        _clf(an_hour_ago, "192.0.2.3"),
        _clf(an_hour_ago + timedelta(seconds=30), "192.0.2.3"),
        _clf(long_ago, "192.0.2.4"),  # beyond every retention: counted in the total only
        _clf(two_days_ago, "192.0.2.5", line="POST / HTTP/1.1"),  # not a hit
        _clf(two_days_ago, "192.0.2.5", status=404),  # not a hit
    ]
    s3.put_object(Bucket=BUCKET, Key="logs/history.log.gz", Body=gzip.compress("\n".join(lines).encode()))
    for _ in range(2):  # the second run of the same object adds nothing
        run_worker(job(s3, "logs/history.log.gz"))
    client = shared_redis.client()
    assert client.get("{hits}:count") == "6"
    day, hour = two_days_ago.strftime("%Y%m%d"), two_days_ago.strftime("%Y%m%d%H")
    assert client.get(f"{{hits}}:d:{day}") == "3" and client.get(f"{{hits}}:h:{hour}") == "3"
    assert client.pfcount(f"{{hits}}:u:{day}") == 2
    recent = an_hour_ago.strftime("%Y%m%d%H%M")
    assert client.get(f"{{hits}}:m:{recent}") == "2" and client.get(f"{{hits}}:h:{recent[:10]}") == "2"
    assert client.get(f"{{hits}}:d:{long_ago.strftime('%Y%m%d')}") is None
    assert client.keys("*import:*:u:*") == []  # the staged visitors were merged and removed
    # Each bucket keeps the retention it would have had from live hits (counted from its end).
    day_end = two_days_ago.replace(hour=0) + timedelta(days=1)
    expected_day_ttl = (day_end - now).total_seconds() + history.DAY_TTL
    assert abs(client.ttl(f"{{hits}}:d:{day}") - expected_day_ttl) < 10
    (entry,) = [json.loads(raw) for raw in client.lrange("{hits}:imports:recent", 0, -1)]
    assert (entry["key"], entry["counted"]) == ("logs/history.log.gz", 6)


# --- hostile: the strangest times a log line can carry ------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"31/Feb/2026:10:00:00 +0000",  # no such day: never silently 3 March
        b"29/Feb/2025:10:00:00 +0000",  # not a leap year
        b"10/Foo/2026:10:00:00 +0000",
        b"10/Oct/2026:24:00:00 +0000",
        b"10/Oct/2026:10:60:00 +0000",
        b"10/Oct/2026:10:00:00 +2460",  # an offset's minutes past 59
        b"10/Oct/2026:10:00:00 *0000",
        b"10/Oct/2026:10:00:00 +0000 ",
        b"1/Oct/2026:10:00:00 +0000",
        b"",
        "10/Oct/2026:10:00:00 +٠٠٠٠".encode(),  # Arabic-Indic digits: int() would take them
    ],
)
def test_a_time_that_is_not_a_real_instant_is_untimed(raw: bytes) -> None:
    from hitcounter.logic.accesslog import line_time_ms

    assert line_time_ms(raw) is None


def test_real_instants_with_their_offsets() -> None:
    from hitcounter.logic.accesslog import line_time_ms

    assert line_time_ms(b"29/Feb/2024:23:30:00 -0130") == ms("2024-03-01T01:00:00")
    assert line_time_ms(b"31/Dec/2025:23:59:60 +0000") == ms("2026-01-01T00:00:00")  # a leap second


@given(st.binary(min_size=0, max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_bytes_as_a_time_give_an_instant_or_none_never_an_error(raw: bytes) -> None:
    from hitcounter.logic.accesslog import line_time_ms

    value = line_time_ms(raw)
    assert value is None or isinstance(value, int)


def test_lines_with_unreadable_times_count_but_fill_no_bucket(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    lines = [
        '192.0.2.1 - - [31/Feb/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1',
        '192.0.2.1 - - [not a time at all, but in brackets] "GET / HTTP/1.1" 200 1',
        _clf(datetime.now(UTC), "192.0.2.2"),
    ]
    s3.put_object(Bucket=BUCKET, Key="logs/odd-times.log", Body="\n".join(lines).encode())
    run_worker(job(s3, "logs/odd-times.log"))
    client = shared_redis.client()
    assert client.get("{hits}:count") == "3"
    day_buckets = {k: client.get(k) for k in client.keys("{hits}:d:*")}
    assert list(day_buckets.values()) == ["1"]
    (entry,) = [json.loads(raw) for raw in client.lrange("{hits}:imports:recent", 0, -1)]
    summary = json.loads(client.get(f"{{hits}}:import:{entry['id']}") or "{}")
    assert (summary["counted"], summary["untimed"]) == (3, 2)
