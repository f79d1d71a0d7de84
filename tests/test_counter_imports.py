"""Another counter's past, imported (docs/imports.md): a GoatCounter JSON export and a Plausible
CSV export, built from their documented formats (``tests/support/counter_exports.py``), through
POST /imports and the worker on moto's S3 and a real Redis: into the path pages' totals, day
and hour buckets and referring hosts, once per object and once per content, never as unique
visitors; hostile variants end failed with a reason and write nothing."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.counter_exports import GoatCounterExport, PlausibleExport, hour_ago
from tests.support.events import IMPORTS_BUCKET as BUCKET
from tests.support.events import Invoke, body_json, invoker, load_event, stats_event
from tests.support.events import get_import as get
from tests.support.events import import_job as job
from tests.support.events import post_import as post
from tests.support.servers import RedisServer

GOAT, PLAUSIBLE = "goatcounter-json", "plausible-csv"


@pytest.fixture
def read_hits(hits_module: ModuleType, function_env: Callable[..., None], redis_url: str) -> Invoke:
    """The hits function on the worker's store (no key prefix), for the reads."""
    function_env(REDIS_URL=redis_url, KEY_PREFIX="")
    return invoker(hits_module)


def _put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _work(s3: Any, key: str, fmt: str) -> dict[str, Any]:
    order = job(s3, key)
    order["import"]["format"] = fmt
    return order


def _stats(read: Invoke, path: str, period: str = "30d") -> dict[str, Any]:
    event = stats_event(int(time.time() * 1000), period)
    event["queryStringParameters"] = {"period": period, "path": path}
    response = read(event)
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = body_json(response)
    return body


def _all(read: Invoke) -> dict[str, Any]:
    event = load_event("hits/get-top-pages")
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    answer: dict[str, Any] = body_json(read(event))
    return answer


def test_a_goatcounter_export_becomes_path_pages_with_their_hours_days_and_referrers(
    run_worker: Callable[..., dict[str, Any]], invoke_imports: Invoke, read_hits: Invoke, s3: Any, scratch: Path
) -> None:
    _put(s3, "imports/goatcounter.zip", GoatCounterExport().zipped())
    order = _work(s3, "imports/goatcounter.zip", GOAT)
    assert run_worker(order)["imports"] == [{"id": order["import"]["id"], "counted": 21}]
    summary = body_json(invoke_imports(get(order["import"]["id"])))["summary"]
    assert summary["format"] == GOAT and summary["rows"] == 6
    assert (summary["counted"], summary["written"], summary["pages"]) == (21, 21, 2)
    assert summary["skipped"] == {"events": 10}  # the event's path, and its 9 hits
    home = _stats(read_hits, "/")
    assert home["total"] == 14 and home["hits"] == 7  # 30d: the 40-day-old row is in the total only
    assert home["referrers"] == [{"host": "example.com", "hits": 3}]
    assert home["uniques"] == 0  # imported hits are never visitors
    by_day = {point["start"][:10]: point["hits"] for point in home["series"] if point["hits"]}
    expected: dict[str, int] = {}
    for hours, n in ((30, 3), (3, 4)):
        day = hour_ago(hours).strftime("%Y-%m-%d")
        expected[day] = expected.get(day, 0) + n
    assert by_day == expected
    post_stats = _stats(read_hits, "/2024/05/hello-world/", "48h")
    by_hour = {point["start"][:13]: point["hits"] for point in post_stats["series"] if point["hits"]}
    assert by_hour == {hour_ago(3).strftime("%Y-%m-%dT%H"): 2, hour_ago(2).strftime("%Y-%m-%dT%H"): 5}
    assert _stats(read_hits, "/2024/05/hello-world/")["referrers"] == [{"host": "news.ycombinator.com", "hits": 5}]
    together = _all(read_hits)["all"]
    assert together["hits"] == 21 and together["today"]["uniques"] == 0
    assert {"host": "news.ycombinator.com", "hits": 5} in together["referrers"]
    assert list(scratch.iterdir()) == []


def test_a_plausible_export_becomes_path_pages_and_the_sites_referrers(
    run_worker: Callable[..., dict[str, Any]], read_hits: Invoke, s3: Any
) -> None:
    _put(s3, "imports/plausible_io_20261207.zip", PlausibleExport().zipped())
    order = _work(s3, "imports/plausible_io_20261207.zip", PLAUSIBLE)
    assert run_worker(order)["imports"][0]["counted"] == 28
    assert _stats(read_hits, "/")["total"] == 17 and _stats(read_hits, "/about/")["total"] == 3
    blog = _stats(read_hits, "/blog/post/")
    assert blog["total"] == 8 and sum(point["hits"] for point in blog["series"]) == 8
    together = _all(read_hits)
    assert together["all"]["hits"] == 28
    assert together["all"]["referrers"] == [{"host": "news.ycombinator.com", "hits": 6}]
    assert together["pages"][0] == {"page": "/", "hits": 17, "uniques": 0}


def test_each_export_counts_once_under_any_key_and_on_a_retry(
    run_worker: Callable[..., dict[str, Any]], read_hits: Invoke, s3: Any, shared_redis: RedisServer
) -> None:
    data = GoatCounterExport().zipped()
    _put(s3, "imports/a.zip", data)
    _put(s3, "imports/copy-of-a.zip", data)
    first = _work(s3, "imports/a.zip", GOAT)
    assert run_worker(first)["imports"][0]["counted"] == 21
    assert run_worker(first)["imports"][0]["counted"] == 0  # the same object again
    assert run_worker(_work(s3, "imports/copy-of-a.zip", GOAT))["imports"][0]["counted"] == 0  # the same bytes
    assert _stats(read_hits, "/")["total"] == 14
    # A failure after some slots were written (the summary never stored): the retry completes
    # the rest and counts nothing twice.
    other = GoatCounterExport(rows=[(2, 211, 1, 1), (2, 215, 1, 1)])
    _put(s3, "imports/b.zip", other.zipped())
    second = _work(s3, "imports/b.zip", GOAT)
    client = shared_redis.client()
    assert run_worker(second)["imports"][0]["counted"] == 2
    # As if the worker had stopped after writing the pages, before its summary: the retry must
    # find the slots' chunks done.
    for key in [*client.keys("{hits}:import:*"), *client.keys("{hits}:content:*")]:
        client.delete(key)
    assert run_worker(second)["imports"][0]["counted"] == 2
    summary = json.loads(next(v for k in client.keys("{hits}:import:*") if (v := client.get(k)) and "format" in v))
    assert (summary["written"], summary["pages_refused"]) == (2, 0)  # the whole, though the retry wrote none
    assert _stats(read_hits, "/")["total"] == 15 and _stats(read_hits, "/2024/05/hello-world/")["total"] == 8


def _zipped(files: dict[str, bytes]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for file, data in files.items():
            archive.writestr(file, data)
    return out.getvalue()


def _without(name: str) -> bytes:
    files = GoatCounterExport().files()
    del files[name]
    return _zipped(files)


def _tiny_rows(n: int) -> bytes:
    files = GoatCounterExport(rows=[]).files()
    line = json.dumps({"hour": hour_ago(2).strftime("%Y-%m-%dT%H:%M:%SZ"), "path_id": 211, "ref_id": 1, "count": 1})
    files["hit_stats.jsonl"] = (line + "\n").encode() * n
    return _zipped(files)


_HOSTILE: dict[str, Callable[[], bytes]] = {
    "wrong version": lambda: GoatCounterExport(version="2.0").zipped(),
    "not a zip": lambda: b"PK\x03\x04 not really a zip at all",
    "no hit_stats": lambda: _without("hit_stats.jsonl"),
    "huge line": lambda: GoatCounterExport(
        extra={"paths.jsonl": b'{"id": 1, "path": "/' + b"a" * 3_000_000 + b'"}\n'}
    ).zipped(),
    # 300 MB of blank lines, about 300 kB zipped
    "bomb": lambda: GoatCounterExport(extra={"hit_stats.jsonl": (b" " * 4000 + b"\n") * 75_000}).zipped(),
    "too many files": lambda: GoatCounterExport(extra={f"pad-{i}.jsonl": b"" for i in range(100)}).zipped(),
    "a count that is not one": lambda: GoatCounterExport(rows=[(3, 211, 1, -5)]).zipped(),
}


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker's bounds made small (as the template's settings can): a bomb stops at them."""
    monkeypatch.setenv("IMPORT_MAX_DECOMPRESSED_BYTES", str(50_000_000))
    yield


@pytest.mark.parametrize(
    ("variant", "code"),
    [
        ("wrong version", "wrong_format"),
        ("not a zip", "invalid_fields"),
        ("no hit_stats", "wrong_format"),
        ("huge line", "wrong_format"),
        ("bomb", "too_large"),
        ("too many files", "wrong_format"),
        ("a count that is not one", "wrong_format"),
    ],
)
def test_a_hostile_export_fails_with_a_reason_and_writes_nothing(
    run_worker: Callable[..., dict[str, Any]],
    invoke_imports: Invoke,
    s3: Any,
    shared_redis: RedisServer,
    scratch: Path,
    small_bounds: None,
    variant: str,
    code: str,
) -> None:
    key = f"imports/{quote(variant, safe='')}.zip"
    _put(s3, key, _HOSTILE[variant]())
    order = _work(s3, key, GOAT)
    assert run_worker(order)["imports"] == [{"error": code}]
    shown = body_json(invoke_imports(get(order["import"]["id"])))
    assert shown["state"] == "failed" and shown["reason"]["code"] == code, shown
    assert [k for k in shared_redis.client().keys("*") if "pg:" in str(k)] == []  # no page, no slot key
    assert list(scratch.iterdir()) == []


def test_half_a_million_tiny_rows_count_within_bounds(
    run_worker: Callable[..., dict[str, Any]], read_hits: Invoke, s3: Any
) -> None:
    _put(s3, "imports/tiny-rows.zip", _tiny_rows(500_000))
    order = _work(s3, "imports/tiny-rows.zip", GOAT)
    started = time.monotonic()
    assert run_worker(order, budget_ms=120_000)["imports"][0]["counted"] == 500_000
    print(f"500,000 rows in {time.monotonic() - started:.1f} s")
    assert _stats(read_hits, "/")["total"] == 500_000


def test_an_export_that_would_outlast_the_invocation_fails_and_writes_nothing(
    run_worker: Callable[..., dict[str, Any]], invoke_imports: Invoke, s3: Any, shared_redis: RedisServer
) -> None:
    _put(s3, "imports/slow.zip", _tiny_rows(500_000))
    order = _work(s3, "imports/slow.zip", GOAT)
    # Less time left than the margin the worker keeps for its writes (IMPORT_TIME_MARGIN_MS).
    assert run_worker(order, budget_ms=4_000)["imports"] == [{"error": "out_of_time"}]
    assert body_json(invoke_imports(get(order["import"]["id"])))["state"] == "failed"
    assert [k for k in shared_redis.client().keys("*") if "pg:" in str(k)] == []


def test_post_imports_takes_a_format_and_a_key_under_imports(invoke_imports: Invoke, s3: Any) -> None:
    _put(s3, "imports/g.zip", GoatCounterExport().zipped())
    wrong = post("imports/g.zip")  # no format: an access log, which lives under logs/
    assert invoke_imports(wrong)["statusCode"] == 422
    unknown = post("imports/g.zip")
    unknown["body"] = json.dumps({"key": "imports/g.zip", "format": "matomo"})
    response = invoke_imports(unknown)
    assert response["statusCode"] == 422 and "goatcounter-json" in body_json(response)["error"]["message"]
    under_logs = post("logs/g.zip")
    under_logs["body"] = json.dumps({"key": "logs/g.zip", "format": GOAT})
    assert invoke_imports(under_logs)["statusCode"] == 422


def test_an_export_imports_on_a_cluster_one_slot_a_script(
    cluster: Any,
    function_modules: dict[str, ModuleType],
    function_env: Callable[..., None],
    hits_module: ModuleType,
    scratch: Path,
    s3: Any,
) -> None:
    """Each chunk's keys (the page's, its slot's tallies and indexes, the marker) share the
    page's slot: a cluster takes each script whole."""
    from tests.support.events import context

    cluster.flushall()
    env = {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster", "KEY_PREFIX": "", "SCRATCH_DIR": str(scratch)}
    function_env("ImportWorkerFunction", **env)
    _put(s3, "imports/cluster.zip", GoatCounterExport().zipped())
    order = _work(s3, "imports/cluster.zip", GOAT)
    done = function_modules["ImportWorkerFunction"].lambda_handler(order, context("w", 60_000))
    assert done["imports"][0]["counted"] == 21
    function_env(**env)
    read = invoker(hits_module)
    assert _stats(read, "/")["total"] == 14
    assert _stats(read, "/2024/05/hello-world/")["referrers"] == [{"host": "news.ycombinator.com", "hits": 5}]
    assert _all(read)["all"]["hits"] == 21
