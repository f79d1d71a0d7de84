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
from hitcounter.model.keys import page_slot
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import LocalS3, wait_for
from tests.support.events import (
    IMPORTS_BUCKET,
    body_json,
    context,
    invoker,
    load_event,
    page_event,
    path_event,
    stats_event,
)
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
    for day in range(0, 20, 4):  # a page named by its path
        invoke(_at(path_event("/2024/05/hello-world/"), now_ms - day * DAY_MS))
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
        event = _at(path_event("/2024/05/hello-world/", "/stats", {"period": period}), now_ms)
        seen[f"/stats?path {period}"] = body_json(invoke(event))
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
HOME_SLOT = page_slot("home")


def _dense_hll(register: int) -> str:
    registers = (register << (6 * 16383)).to_bytes(12288, "little")
    return base64.b64encode(b"HYLL\0\0\0\0" + b"\0" * 8 + registers).decode()


HLL_63 = _dense_hll(63)
HOSTILE = {
    "not gzip": b"hello, I am not an export",
    "gzip of nothing": gzip.compress(b""),
    "truncated: no closing line": gzip.compress(b"".join(gzip.decompress(_export_bytes([GOOD])).splitlines(True)[:-1])),
    "altered after the checksum": _export_bytes([GOOD], trailer={"end": True, "records": 1, "sha256": "0" * 64}),
    "another format": gzip.compress(b'{"format":"other"}\n{"end":true}\n'),
    "a future version": gzip.compress(b'{"format":"hitcounter-export","version":3}\n'),
    "another HITS_SHARDS": _export_bytes([GOOD], shards=4),
    "a key outside the scheme": _export_bytes([GOOD, {"k": "session:abc", "v": 1, "x": None}]),
    "a key in another slot": _export_bytes([{"k": "{pg:0}:page:home:count", "v": 1, "x": None}]),
    "a negative count": _export_bytes([{"k": "{hits}:count", "v": -5, "x": None}]),
    "a count as text": _export_bytes([{"k": "{hits}:count", "v": "7", "x": None}]),
    "a corrupt HyperLogLog": _export_bytes([{"k": "{hits}:u:20261201", "v": _hll_sparse_bad(), "x": None}]),
    "an extra field": _export_bytes([{**GOOD, "t": "string"}]),
    # Each of these once passed the check and then failed while writing, or later (#28):
    "an expiry PXAT refuses": _export_bytes([GOOD, {"k": "{hits}:d:20261201", "v": 1, "x": 2**64}]),
    "a count the next hit overflows": _export_bytes([{"k": "{hits}:count", "v": 2**63 - 1, "x": None}]),
    "an impossible HyperLogLog register": _export_bytes([GOOD, {"k": "{hits}:u:20261201", "v": HLL_63, "x": None}]),
    "a slot's registry twice": _export_bytes([{"k": f"{{pg:{HOME_SLOT}}}:pages", "v": ["home"], "x": None}] * 2),
    "a registry naming another slot's page": _export_bytes([{"k": "{pg:5}:pages", "v": ["home"], "x": None}]),
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


def _stopped_restore(
    run_worker: Callable[..., dict[str, Any]],
    s3: Any,
    shared_redis: RedisServer,
    *,
    checks_allowed: int,
) -> dict[str, str]:
    """A restore of 2,501 records whose worker runs out of time after ``checks_allowed``
    looks at the clock (one per 1,000 records read): its order."""
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

    def clock() -> int:  # plenty for the first looks (the file's reads look twice each), then nothing
        return 10**6 if next(calls) < checks_allowed else 0

    from hitcounter.logic.accesslog import OutOfTime
    from hitcounter.runtime import services

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
    return order


def test_a_restore_stopped_while_staging_leaves_the_store_as_it_was_and_runs_again(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    client = shared_redis.client()
    order = _stopped_restore(run_worker, s3, shared_redis, checks_allowed=2)
    assert client.keys("{hits}:m:*") == [] and client.get("{hits}:count") is None  # nothing visible
    assert client.keys("*:rst:*") == []  # what was staged is dropped
    assert client.get("{hits}:restore:lock") is None  # and the lock released
    state = json.loads(str(client.get(f"{{hits}}:restore:{order['id']}:state")))
    assert state["state"] == "failed" and state["committing"] is False
    assert run_worker({"restore": order})["restore"]["records"] == 2501
    assert len(client.keys("{hits}:m:*")) == 2500 and client.get("{hits}:count") == "2500"
    assert {client.get(k) for k in client.keys("{hits}:m:*")} == {"1"}


def test_a_restore_stopped_while_merging_is_finished_by_the_same_file_adding_nothing_twice(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    from hitcounter.logic import snapshots
    from hitcounter.runtime import services

    client = shared_redis.client()
    order = _stopped_restore(run_worker, s3, shared_redis, checks_allowed=4)  # checked, staged, then cut
    merged = len(client.keys("{hits}:m:*"))
    assert 0 < merged < 2500
    state = json.loads(str(client.get(f"{{hits}}:restore:{order['id']}:state")))
    assert state["state"] == "failed" and state["committing"] is True
    # The store now counts, yet the same file may finish its own merge (and no other file may start).
    s = services()
    submitted: list[dict[str, Any]] = []
    status, body = snapshots.start_restore(s.snapshots, s.objects, submitted.append, s.settings.imports, order["key"])
    assert (status, body["committing"], submitted) == (202, True, [{"restore": order}])
    assert run_worker(submitted[0])["restore"]["records"] == 2501
    assert len(client.keys("{hits}:m:*")) == 2500 and client.get("{hits}:count") == "2500"
    assert {client.get(k) for k in client.keys("{hits}:m:*")} == {"1"} and client.keys("*:rst:*") == []


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
        assert client.keys("{hits}:m:*") == []  # stopped while staging: nothing is in the store
        assert len(client.keys("{hits}:rst:*")) > 0  # (what was staged could not be dropped: Redis was away)
        proxy.passthrough()
        monkeypatch.setattr(snapshot_store, "_writes", writes)
        assert worker({"restore": order}, context("w", 60_000))["restore"]["records"] == 302
    finally:
        proxy.close()
    assert client.get("{hits}:count") == "900"
    assert [json.loads(item) for item in client.lrange("{hits}:imports:recent", 0, -1)] == recent
    assert len(client.keys("{hits}:m:*")) == 300 and {client.get(k) for k in client.keys("{hits}:m:*")} == {"3"}
    assert client.keys("*:rst:*") == []  # the retry staged over it and merged it all


def _put_export(s3: Any, key: str, records: list[dict[str, Any]]) -> dict[str, str]:
    from hitcounter.logic.snapshots import restore_id

    s3.put_object(Bucket=IMPORTS_BUCKET, Key=key, Body=_export_bytes(records))
    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    return {"id": restore_id(IMPORTS_BUCKET, key, etag), "key": key, "etag": etag}


def test_hits_that_arrive_during_a_restore_are_merged_not_lost(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the POST and the end of the merge, the store counts on: the site's counter, a
    # page the file holds, a page it does not. Each hit is answered and kept.
    from hitcounter.data.snapshot_store import SnapshotStore
    from hitcounter.logic import counting, pages
    from hitcounter.model.visitors import Client
    from hitcounter.runtime import services

    now = int(time.time() * 1000)
    day = time.strftime("%Y%m%d", time.gmtime(now / 1000))
    records: list[dict[str, Any]] = [
        {"k": "{hits}:count", "v": 1000, "x": None},
        {"k": f"{{hits}}:d:{day}", "v": 40, "x": now + DAY_MS},
        {"k": f"{{pg:{HOME_SLOT}}}:page:home:count", "v": 500, "x": now + 300 * DAY_MS},
        {"k": f"{{pg:{HOME_SLOT}}}:reg", "v": {"home": now - DAY_MS}, "x": None},
        {"k": f"{{pg:{HOME_SLOT}}}:top:{day}", "v": {"home": 30}, "x": now + DAY_MS},
    ]
    order = _put_export(s3, "exports/live.jsonl.gz", records)
    run_worker({"noop": True})
    answered: list[int] = []
    stage = SnapshotStore.stage

    def stage_then_hits(self: SnapshotStore, batch: Any, ident: str) -> None:
        stage(self, batch, ident)
        s = services()
        for i in range(3):
            person = Client(now + i, f"198.51.100.{i}", f"browser {i}", "en")
            answered.append(counting.count(s.hits, None, person).total)
            answered.append(pages.count(s.pages, "home", None, person)[0].total)
            answered.append(
                pages.count(s.pages, "other", None, Client(now + i, f"198.51.100.{i}", f"b {i}", "en"))[0].total
            )

    monkeypatch.setattr(SnapshotStore, "stage", stage_then_hits)
    assert run_worker({"restore": order})["restore"]["records"] == len(records)
    assert answered == [1, 1, 1, 2, 2, 2, 3, 3, 3]  # each answered while the restore ran
    client = shared_redis.client()
    assert client.get("{hits}:count") == "1003" and client.get(f"{{hits}}:d:{day}") == "43"
    assert client.get(f"{{pg:{HOME_SLOT}}}:page:home:count") == "503"
    assert client.zscore(f"{{pg:{HOME_SLOT}}}:top:{day}", "home") == 33
    registered: Any = client.zrange(f"{{pg:{HOME_SLOT}}}:reg", 0, -1, withscores=True)
    assert dict(registered)["home"] == now  # the later of the file's time and the live hits' (made at now)
    other = page_slot("other")
    assert client.get(f"{{pg:{other}}}:page:other:count") == "3"
    assert client.ttl(f"{{pg:{HOME_SLOT}}}:page:home:count") > 299 * 86400  # the later expiry kept
    assert client.ttl("{hits}:count") == -1 and client.keys("*:rst:*") == []


def test_one_restore_at_a_time(run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer) -> None:
    from hitcounter.logic import snapshots
    from hitcounter.runtime import services

    first = _put_export(s3, "exports/one.jsonl.gz", [{"k": "{hits}:count", "v": 10, "x": None}])
    second = _put_export(s3, "exports/two.jsonl.gz", [{"k": "{hits}:count", "v": 20, "x": None}])
    run_worker({"noop": True})
    s = services()
    submitted: list[dict[str, Any]] = []
    assert snapshots.start_restore(s.snapshots, s.objects, submitted.append, s.settings.imports, first["key"])[0] == 202
    with pytest.raises(snapshots.RestoreRunning):
        snapshots.start_restore(s.snapshots, s.objects, submitted.append, s.settings.imports, second["key"])
    # The first's own retry is not refused; a worker for the second (an event sent by hand) is.
    assert snapshots.start_restore(s.snapshots, s.objects, submitted.append, s.settings.imports, first["key"])[0] == 202
    assert run_worker({"restore": second})["restore"] == {"error": "restore_running"}
    assert run_worker(submitted[0])["restore"]["records"] == 1
    client = shared_redis.client()
    assert client.get("{hits}:count") == "10" and client.get("{hits}:restore:lock") is None
    # Done, the store counts: the second file is refused for that reason now.
    with pytest.raises(snapshots.StoreNotEmpty):
        snapshots.start_restore(s.snapshots, s.objects, submitted.append, s.settings.imports, second["key"])


def test_a_restore_the_worker_never_finished_reads_failed_not_running(
    run_worker: Callable[..., dict[str, Any]], shared_redis: RedisServer
) -> None:
    from hitcounter.logic import snapshots
    from hitcounter.runtime import services

    run_worker({"noop": True})
    s = services()
    ident = "a" * 32
    s.snapshots.set_state(snapshots.RESTORE, ident, {"state": "running", "updated_at": int(time.time()) - 961})
    assert snapshots.lookup(s.snapshots, snapshots.RESTORE, ident, 960)["state"] == "failed"
    assert snapshots.lookup(s.snapshots, snapshots.RESTORE, ident, 960)["reason"]["code"] == "worker_stopped"
    s.snapshots.set_state(snapshots.RESTORE, ident, {"state": "running", "updated_at": int(time.time()) - 959})
    assert snapshots.lookup(s.snapshots, snapshots.RESTORE, ident, 960)["state"] == "running"


def test_a_version_1_file_restores_its_registry_as_pages_that_expire(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    order = _put_export(
        s3,
        "exports/v1.jsonl.gz",
        [
            {"k": f"{{pg:{HOME_SLOT}}}:pages", "v": ["home"], "x": None},
            {"k": f"{{pg:{HOME_SLOT}}}:page:home:count", "v": 9, "x": None},
        ],
    )
    before = int(time.time() * 1000)
    assert run_worker({"restore": order})["restore"]["records"] == 2
    client = shared_redis.client()
    pairs: Any = client.zrange(f"{{pg:{HOME_SLOT}}}:reg", 0, -1, withscores=True)
    registered = dict(pairs)
    assert list(registered) == ["home"] and registered["home"] >= before  # counted as of the restore
    assert client.exists(f"{{pg:{HOME_SLOT}}}:pages") == 0


def test_a_merged_key_keeps_the_later_expiry_and_no_expiry_beats_any(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live count that never expires stays so, whatever expiry the file gives the same key.
    from hitcounter.data.snapshot_store import SnapshotStore
    from hitcounter.logic import counting
    from hitcounter.model.visitors import Client
    from hitcounter.runtime import services

    now = int(time.time() * 1000)
    order = _put_export(s3, "exports/expiry.jsonl.gz", [{"k": "{hits}:count", "v": 7, "x": now + DAY_MS}])
    run_worker({"noop": True})
    stage = SnapshotStore.stage

    def stage_then_hit(self: SnapshotStore, batch: Any, ident: str) -> None:
        stage(self, batch, ident)
        counting.count(services().hits, None, Client(now))

    monkeypatch.setattr(SnapshotStore, "stage", stage_then_hit)
    assert run_worker({"restore": order})["restore"]["records"] == 1
    client = shared_redis.client()
    assert client.get("{hits}:count") == "8" and client.ttl("{hits}:count") == -1
