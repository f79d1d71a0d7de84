"""Export and restore, on real redis-server processes and moto's S3: through make dev's
gateway (signed calls, the worker invoked asynchronously) an export restored into an empty
store answers exactly as the original did, uniques included; and a corrupt or hostile file
is refused whole, writing nothing."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from devtools.accesslogs import generate
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import LocalS3, wait_for
from tests.support.events import IMPORTS_BUCKET, body_json, context, invoker, load_event, page_event, stats_event
from tests.support.http import http_json
from tests.support.servers import RedisServer, redis_server

PREFIX = "hc:"
DAY_MS = 86_400_000
PAGES = [f"post-{i}" for i in range(12)]


def _at(event: dict[str, Any], at_ms: int) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = at_ms
    return event


def _root(at_ms: int, ip: str) -> dict[str, Any]:
    event = _at(load_event("hits/get-root-json"), at_ms)
    event["requestContext"]["http"]["sourceIp"] = ip
    return event


def _populate(invoke: Callable[[dict[str, Any]], dict[str, Any]], now_ms: int) -> None:
    """A year of the site's history, twelve pages over 40 days, one page with a dense
    HyperLogLog today, bots, a seeded page."""
    for day in range(0, 380, 9):
        for i in range(3):
            invoke(_root(now_ms - day * DAY_MS - i * 60_000, f"198.51.100.{i}"))
    for n, page in enumerate(PAGES):
        for day in range(0, 40, 3 + n % 4):
            invoke(_at(page_event(page), now_ms - day * DAY_MS))
    for i in range(2500):  # enough visitors to turn a HyperLogLog dense
        invoke(_at(page_event("busy"), now_ms - (i % 50) * 1000))
    invoke(_at(page_event(PAGES[0], user_agent="Googlebot/2.1"), now_ms))
    seed = load_event("hits/put-page-count")
    seed["rawPath"] = seed["requestContext"]["http"]["path"] = "/pages/old-blog/count"
    seed["pathParameters"] = {"page": "old-blog"}
    seed["body"] = json.dumps({"hits": 12345})
    assert invoke(seed)["statusCode"] == 201


def _answers(invoke: Callable[[dict[str, Any]], dict[str, Any]], now_ms: int) -> dict[str, Any]:
    """Every read a user would compare, at one request time."""
    seen: dict[str, Any] = {"hits": body_json(invoke(_at(load_event("hits/get-hits"), now_ms)))}
    for period in ("1h", "48h", "30d", "1y"):
        seen[f"/stats {period}"] = body_json(invoke(stats_event(now_ms, period)))
        top = _at(stats_event(now_ms, period, "/pages"), now_ms)
        top["routeKey"] = top["requestContext"]["routeKey"] = "GET /pages"
        top["queryStringParameters"] = {"period": period, "limit": "50"}
        seen[f"/pages {period}"] = body_json(invoke(top))
        for page in [*PAGES, "busy", "old-blog"]:
            event = _at(page_event(page, "/stats", {"period": period}), now_ms)
            seen[f"/pages/{page}/stats {period}"] = body_json(invoke(event))
    return seen


def _server(template: sam_template.Template, redis_url: str, s3: LocalS3) -> Server:
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": PREFIX, **s3.env}
    return Server(LocalApi(template, {"Parameters": env})).start()


def _finished(url: str) -> dict[str, Any]:
    """Follow a job's Location until it is done or failed."""
    seen: dict[str, Any] = {}

    def over() -> bool:
        status, _, body = http_json("GET", url)
        assert status == 200, body
        seen.update(body)
        return body["state"] in ("done", "failed")

    wait_for(over, timeout=120, what=url)
    return seen


def test_export_then_restore_into_an_empty_store_answers_the_same(
    template: sam_template.Template,
    local_s3: LocalS3,
    shared_redis: RedisServer,
    redis_url: str,
    hits_module: ModuleType,
    function_env: Callable[..., None],
) -> None:
    now_ms = int(time.time() * 1000)
    function_env(REDIS_URL=redis_url, KEY_PREFIX=PREFIX)
    _populate(invoker(hits_module), now_ms)
    log = generate(400)
    local_s3.client().put_object(Bucket=IMPORTS_BUCKET, Key="logs/old.log.gz", Body=log.gzipped())
    source = _server(template, redis_url, local_s3)
    try:
        status, headers, body = http_json("POST", f"{source.url}/imports", {"key": "logs/old.log.gz"})
        assert status == 202 and _finished(f"{source.url}{headers['Location']}")["state"] == "done"
        before = _answers(invoker(hits_module), now_ms)
        status, headers, body = http_json("POST", f"{source.url}/exports")
        assert status == 202 and body["state"] == "pending" and headers["Location"] == f"/exports/{body['id']}"
        export = _finished(f"{source.url}{headers['Location']}")
        assert export["state"] == "done", export
        assert export["key"].startswith("exports/") and export["key"].endswith(f"{body['id']}.jsonl.gz")
        # The source store is not empty: nothing may be restored into it.
        status, _, refused = http_json("POST", f"{source.url}/restores", {"key": export["key"]})
        assert (status, refused["error"]["code"]) == (409, "store_not_empty")
    finally:
        source.stop()
    obj = local_s3.client().get_object(Bucket=IMPORTS_BUCKET, Key=export["key"])["Body"].read()
    lines = gzip.decompress(obj).splitlines()
    assert json.loads(lines[0])["format"] == "hitcounter-export" and json.loads(lines[-1])["records"] == len(lines) - 2
    assert hashlib.sha256(b"".join(line + b"\n" for line in lines[:-1])).hexdigest() == export["sha256"]

    with redis_server() as empty:
        target = _server(template, empty.url, local_s3)
        try:
            status, headers, body = http_json("POST", f"{target.url}/restores", {"key": export["key"]})
            assert status == 202, body
            restore = _finished(f"{target.url}{headers['Location']}")
            assert restore["state"] == "done" and restore["records"] == export["records"], restore
            # The same object again: done already, nothing written.
            assert http_json("POST", f"{target.url}/restores", {"key": export["key"]})[0] == 200
        finally:
            target.stop()
        function_env(REDIS_URL=empty.url, KEY_PREFIX=PREFIX)
        after = _answers(invoker(hits_module), now_ms)
        dense = empty.client().keys(f"{PREFIX}*:page:busy:u:*")
        assert any(empty.client().object("encoding", k) == "raw" for k in dense)
    assert after == before
    assert before["/pages/busy/stats 30d"]["uniques"] > 2000  # the dense one restored exactly
    assert before["/pages/post-0/stats 30d"]["bots"]["total"] == 1
    assert before["hits"]["hits"] == 3 * len(range(0, 380, 9)) + log.counted  # the site's hits and the import's


# --- hostile files -------------------------------------------------------------------------


def _export_bytes(records: list[dict[str, Any]], shards: int = 1, trailer: dict[str, Any] | None = None) -> bytes:
    head = json.dumps({"format": "hitcounter-export", "version": 1, "created_at": "2026-12-01T00:00:00Z",
                       "hits_shards": shards, "page_slots": 64}).encode() + b"\n"  # fmt: skip
    body = head + b"".join(json.dumps(r).encode() + b"\n" for r in records)
    end = trailer or {"end": True, "records": len(records), "sha256": hashlib.sha256(body).hexdigest()}
    return gzip.compress(body + json.dumps(end).encode() + b"\n")


def _hll_sparse_bad() -> str:
    # "HYLL", sparse, then one XZERO covering 16,383 registers: one short of 16,384.
    raw = b"HYLL\x01\0\0\0" + b"\0" * 7 + b"\x80" + bytes([0x40 | 0x3F, 0xFE])
    return base64.b64encode(raw).decode()


GOOD = {"k": "{hits}:count", "v": 7, "x": None}
HOSTILE = {
    "not gzip": b"hello, I am not an export",
    "gzip of nothing": gzip.compress(b""),
    "truncated: no closing line": gzip.compress(b"".join(gzip.decompress(_export_bytes([GOOD])).splitlines(True)[:-1])),
    "altered after the checksum": _export_bytes([GOOD], trailer={"end": True, "records": 1, "sha256": "0" * 64}),
    "another format": gzip.compress(b'{"format":"other"}\n{"end":true}\n'),
    "a future version": gzip.compress(b'{"format":"hitcounter-export","version":2}\n'),
    "another HITS_SHARDS": _export_bytes([GOOD], shards=4),
    "a key outside the scheme": _export_bytes([GOOD, {"k": "session:abc", "v": 1, "x": None}]),
    "a key in another slot": _export_bytes([{"k": "{pg:0}:page:home:count", "v": 1, "x": None}]),
    "a negative count": _export_bytes([{"k": "{hits}:count", "v": -5, "x": None}]),
    "a count as text": _export_bytes([{"k": "{hits}:count", "v": "7", "x": None}]),
    "a corrupt HyperLogLog": _export_bytes([{"k": "{hits}:u:20261201", "v": _hll_sparse_bad(), "x": None}]),
    "an extra field": _export_bytes([{**GOOD, "t": "string"}]),
    "NaN": gzip.compress(
        b'{"format":"hitcounter-export","version":1,"hits_shards":1,"page_slots":64}\n'
        b'{"k":"{hits}:count","v":NaN,"x":null}\n'
    ),
    "a line of 100 KB": _export_bytes([{"k": "{hits}:import:" + "0" * 32, "v": {"key": "y" * 100_000}, "x": None}]),
    "a bot reason of its own": _export_bytes([{"k": "{pg:1}:page:a:b:20261201", "v": {"evil": 1}, "x": None}]),
    "a summary with text for a count": _export_bytes(
        [{"k": "{hits}:import:" + "0" * 32, "v": {"id": "0" * 32, "key": "logs/x", "counted": "lots"}, "x": None}]
    ),
    "recent imports with a field of their own": _export_bytes(
        [{"k": "{hits}:imports:recent", "v": [{"id": "0" * 32, "key": "k", "counted": 1, "html": "<b>"}], "x": None}]
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_corrupt_or_hostile_file_is_refused_whole_writing_nothing(
    case: str, run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    from hitcounter.logic.snapshots import restore_id

    key = "exports/hostile.jsonl.gz"
    s3.put_object(Bucket=IMPORTS_BUCKET, Key=key, Body=HOSTILE[case])
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    ident = restore_id(IMPORTS_BUCKET, key, etag)
    result = run_worker({"restore": {"id": ident, "key": key, "etag": etag}})
    assert result == {"restore": {"error": "invalid_fields"}} or result["restore"]["error"] in ("too_large",), result
    client = shared_redis.client()
    assert client.keys("*") == [f"{{hits}}:restore:{ident}:state"]  # only its state, saying why
    state = json.loads(str(client.get(f"{{hits}}:restore:{ident}:state")))
    assert state["state"] == "failed" and state["reason"]["message"]


def test_export_and_restore_on_a_cluster(
    cluster: Any,
    s3: Any,
    scratch: Any,
    function_modules: dict[str, ModuleType],
    function_env: Callable[..., None],
) -> None:
    # Keys spread over three masters: the export scans every primary, the restore writes
    # each key to its own slot's master.
    from hitcounter.logic.snapshots import restore_id

    cluster.flushall()
    now_ms = int(time.time() * 1000)
    env = {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster", "KEY_PREFIX": PREFIX, "SCRATCH_DIR": str(scratch)}
    function_env(**env)
    hits = invoker(function_modules["HitsFunction"])
    for day in range(0, 30, 2):
        hits(_root(now_ms - day * DAY_MS, f"198.51.100.{day}"))
        for page in PAGES:
            hits(_at(page_event(page), now_ms - day * DAY_MS))
    before = _answers(hits, now_ms)
    assert all(node.client().keys(f"{PREFIX}*") for node in cluster.alive())  # every master holds some

    function_env("ImportWorkerFunction", **env)
    worker = function_modules["ImportWorkerFunction"].lambda_handler
    ident = "e" * 32
    done = worker({"export": {"id": ident}}, context("w", 60_000))["export"]
    key = json.loads(cluster.client().get(f"{PREFIX}{{hits}}:export:{ident}:state"))["key"]
    cluster.flushall()
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    order = {"id": restore_id(IMPORTS_BUCKET, key, etag), "key": key, "etag": etag}
    assert worker({"restore": order}, context("w", 60_000))["restore"]["records"] == done["records"]
    function_env(**env)
    assert _answers(invoker(function_modules["HitsFunction"]), now_ms) == before


def test_a_restore_stopped_half_way_runs_again_into_what_it_wrote(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    from hitcounter.logic import snapshots

    # 2,500 minute buckets and the count: the check reads them all, then the writing is cut
    # short by the clock (as a worker near its timeout would be).
    expires = int(time.time() * 1000) + DAY_MS
    records = [{"k": "{hits}:count", "v": 2500, "x": None}] + [
        {"k": f"{{hits}}:m:202612{1 + i // 1440:02d}{i % 1440 // 60:02d}{i % 60:02d}", "v": 1, "x": expires}
        for i in range(2500)
    ]
    key = "exports/long.jsonl.gz"
    s3.put_object(Bucket=IMPORTS_BUCKET, Key=key, Body=_export_bytes(records))
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    order = {"id": snapshots.restore_id(IMPORTS_BUCKET, key, etag), "key": key, "etag": etag}
    calls = iter(range(10**6))

    def clock() -> int:  # plenty for the check's two looks, then nothing left
        return 10**6 if next(calls) < 2 else 0

    from hitcounter.logic.accesslog import OutOfTime
    from hitcounter.runtime import services

    client = shared_redis.client()
    run_worker({"noop": True})  # the worker's environment; then its restore, with that clock
    s = services()
    with pytest.raises(OutOfTime):
        snapshots.run_restore(
            s.snapshots,
            s.objects,
            s.settings.scratch_dir,
            limits=s.settings.imports,
            ident=order["id"],
            key=key,
            etag=etag,
            remaining_ms=clock,
        )
    written = len(client.keys("{hits}:m:*"))
    assert 0 < written < 2500  # stopped half-way
    state = json.loads(str(client.get(f"{{hits}}:restore:{order['id']}:state")))
    assert state["state"] == "failed" and state["writing"] is True
    # The store is not empty, yet the same restore may run again, and finishes.
    assert run_worker({"restore": order})["restore"]["records"] == 2501
    assert len(client.keys("{hits}:m:*")) == 2500 and client.get("{hits}:count") == "2500"


def test_a_reply_lost_mid_restore_then_a_retry_writes_each_key_exactly_once(
    s3: Any,
    scratch: Any,
    shared_redis: RedisServer,
    redis_url: str,
    function_modules: dict[str, ModuleType],
    function_env: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worst moment: Redis has run a write but its answer never arrives (the worker's
    # command times out). The event is retried (Lambda does it twice): the second run writes
    # over the first, and nothing is doubled, the list that a re-sent RPUSH would grow above all.
    from hitcounter.data import snapshot_store
    from hitcounter.logic import snapshots
    from tests.support.servers import FaultProxy

    expires = int(time.time() * 1000) + DAY_MS
    recent = [{"id": f"{i:032x}", "key": f"logs/{i}", "counted": i} for i in range(1, 4)]
    records: list[dict[str, Any]] = [
        {"k": "{hits}:count", "v": 900, "x": None},
        {"k": "{hits}:imports:recent", "v": recent, "x": None},
        *({"k": f"{{hits}}:m:2026120{1 + i // 1440}{i % 1440 // 60:02d}{i % 60:02d}", "v": 3, "x": expires}
          for i in range(300)),
    ]  # fmt: skip
    key = "exports/faulty.jsonl.gz"
    s3.put_object(Bucket=IMPORTS_BUCKET, Key=key, Body=_export_bytes(records))
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    order = {"id": snapshots.restore_id(IMPORTS_BUCKET, key, etag), "key": key, "etag": etag}
    proxy = FaultProxy(shared_redis.port)
    function_env("ImportWorkerFunction", REDIS_URL=proxy.url, KEY_PREFIX="", SCRATCH_DIR=str(scratch))
    worker = function_modules["ImportWorkerFunction"].lambda_handler
    writes = snapshot_store._writes
    seen = [0]

    def failing(record: Any) -> Any:
        seen[0] += 1
        if seen[0] == 150:  # half-way through: the next write runs, its answer is lost
            proxy.swallow_replies()
        return writes(record)

    monkeypatch.setattr(snapshot_store, "_writes", failing)
    try:
        with pytest.raises(Exception, match="unavailable"):
            worker({"restore": order}, context("w", 60_000))
        wait_for(proxy.drained, what="the proxy to pass every request on")
        client = shared_redis.client()
        assert 0 < len(client.keys("{hits}:m:*")) < 300  # stopped half-way
        proxy.passthrough()
        monkeypatch.setattr(snapshot_store, "_writes", writes)
        assert worker({"restore": order}, context("w", 60_000))["restore"]["records"] == 302
    finally:
        proxy.close()
    assert client.get("{hits}:count") == "900"
    assert [json.loads(item) for item in client.lrange("{hits}:imports:recent", 0, -1)] == recent
    assert len(client.keys("{hits}:m:*")) == 300 and {client.get(k) for k in client.keys("{hits}:m:*")} == {"3"}
