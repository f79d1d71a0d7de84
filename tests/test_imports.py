"""Access-log imports on moto's S3 and real Redis: exact counts, once per object, and a
scratch directory that is empty after every outcome."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devtools.accesslogs import generate
from hitcounter.core.errors import Forbidden, NotFound
from hitcounter.data.objects import map_client_error
from localapi.pool import WorkerPool
from localapi.services import LocalS3
from localapi.template import Template
from tests.support.events import EVENTS, Invoke, body_json, context, header
from tests.support.events import IMPORTS_BUCKET as BUCKET
from tests.support.events import get_import as get
from tests.support.events import import_job as job
from tests.support.events import post_import as post
from tests.support.servers import RedisServer, wait_for


def test_a_gzipped_log_counts_exactly_its_get_root_2xx_lines_once(
    invoke_imports: Invoke, run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer, scratch: Path
) -> None:
    log = generate(3000)
    gz = log.gzipped()
    s3.put_object(Bucket=BUCKET, Key="logs/access.log.gz", Body=gz)
    shared_redis.client().set("{hits}:count", 5)
    # When the worker imports it
    work = job(s3, "logs/access.log.gz")
    assert run_worker(work)["imports"] == [{"id": work["import"]["id"], "counted": log.counted}]
    # Then exactly its GET / 2xx lines were added, and the summary says what was read
    shown = invoke_imports(get(work["import"]["id"]))
    assert shown["statusCode"] == 200 and body_json(shown)["state"] == "done"
    summary = body_json(shown)["summary"]
    assert (summary["lines"], summary["counted"], summary["malformed"]) == (log.lines, log.counted, log.malformed)
    assert summary["bytes"] == len(gz) and summary["decompressed_bytes"] == len(log.text)
    assert summary["sha256"] == hashlib.sha256(gz).hexdigest()
    assert summary["top_paths"][0] == {"path": "/", "requests": max(p["requests"] for p in summary["top_paths"])}
    assert len(summary["top_paths"]) <= 10
    assert shared_redis.client().get("{hits}:count") == str(5 + log.counted)
    # And again: nothing counted; POST /imports answers 200 with the stored summary at once
    assert run_worker(work)["imports"][0]["counted"] == 0
    again = invoke_imports(post("logs/access.log.gz"))
    assert (again["statusCode"], body_json(again)) == (200, body_json(shown))
    assert header(again, "Location") == f"/imports/{summary['id']}"
    assert shared_redis.client().get("{hits}:count") == str(5 + log.counted)
    assert list(scratch.iterdir()) == []


def test_gzip_is_told_by_magic_bytes_not_the_name(run_worker: Callable[..., dict[str, Any]], s3: Any) -> None:
    log = generate(500, seed=2)
    s3.put_object(Bucket=BUCKET, Key="logs/plain-but-named.gz", Body=log.text)
    s3.put_object(Bucket=BUCKET, Key="logs/gzip-but-named.log", Body=log.gzipped())
    for key in ("logs/plain-but-named.gz", "logs/gzip-but-named.log"):
        assert run_worker(job(s3, key))["imports"][0]["counted"] == log.counted


def test_a_new_version_of_the_object_is_a_new_import(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    first_log, second_log = generate(100, seed=1), generate(200, seed=3)
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=first_log.text)
    first = run_worker(job(s3, "logs/a.log"))["imports"][0]
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=second_log.text)
    second = run_worker(job(s3, "logs/a.log"))["imports"][0]
    assert second["id"] != first["id"]
    assert shared_redis.client().get("{hits}:count") == str(first_log.counted + second_log.counted)


def test_the_s3_trigger_runs_the_same_import(
    run_worker: Callable[..., dict[str, Any]], s3: Any, shared_redis: RedisServer
) -> None:
    log = generate(400, seed=9)
    s3.put_object(Bucket=BUCKET, Key="logs/access 2026.log", Body=log.text)
    event = json.loads((EVENTS / "import_worker/s3-object-created.json").read_text())
    event["Records"][0]["s3"]["object"]["key"] = "logs/access+2026.log"  # S3 URL-encodes keys
    event["Records"][0]["s3"]["object"]["eTag"] = s3.head_object(Bucket=BUCKET, Key="logs/access 2026.log")[
        "ETag"
    ].strip('"')
    assert run_worker(event)["imports"][0]["counted"] == log.counted
    assert run_worker(event)["imports"][0]["counted"] == 0  # the retry/duplicate counts nothing
    assert shared_redis.client().get("{hits}:count") == str(log.counted)


def test_request_errors_are_clear(invoke_imports: Invoke, s3: Any, scratch: Path) -> None:
    cases = [
        (post("logs/x", body="{not json"), 400),
        (post("logs/x", headers={"content-type": "text/plain"}), 415),
        (post(None), 422),
        (post(""), 422),
        (post(42), 422),
        (post("other/x.log"), 422),
        (post("logs/" + "k" * 252), 422),  # 257 characters
        (post("logs/\u0007bell"), 422),
        (post("logs/missing.log"), 404),
        (get("not-an-id"), 404),
        (get("0" * 32), 404),
    ]
    for event, status in cases:
        response = invoke_imports(event)
        assert response["statusCode"] == status, (event.get("body"), response["body"])
        assert set(body_json(response)["error"]) == {"code", "message"}
        assert list(scratch.iterdir()) == []


def test_a_log_that_cannot_be_imported_fails_with_its_reason_and_leaves_nothing_behind(
    invoke_imports: Invoke, run_worker: Callable[..., dict[str, Any]], s3: Any, scratch: Path, shared_redis: RedisServer
) -> None:
    bodies = {
        "logs/corrupt.gz": (gzip.compress(b"x" * 10_000)[:-20] + b"\x00" * 20, "invalid_fields"),
        "logs/truncated.gz": (gzip.compress(generate(200).text)[:300], "invalid_fields"),
        "logs/binary.bin": (os.urandom(50_000).replace(b"\x00", b"\x01"), "invalid_fields"),  # no NUL at all
    }
    for key, (body, _) in bodies.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    for _ in range(3):  # many warm invocations, every outcome: scratch stays empty
        for key, (_, code) in bodies.items():
            work = job(s3, key)
            assert run_worker(work)["imports"] == [{"error": code}]
            shown = body_json(invoke_imports(get(work["import"]["id"])))
            assert shown["state"] == "failed" and shown["reason"]["code"] == code
            assert list(scratch.iterdir()) == []
    assert shared_redis.client().get("{hits}:count") is None  # nothing counted


def test_access_denied_and_other_s3_errors_are_mapped() -> None:
    def error(code: str, status: int) -> ClientError:
        response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "HeadObject")

    assert isinstance(map_client_error(error("403", 403)), Forbidden)
    assert isinstance(map_client_error(error("AccessDenied", 403)), Forbidden)
    assert isinstance(map_client_error(error("NoSuchKey", 404)), NotFound)
    assert map_client_error(error("InternalError", 500)).status == 503


@pytest.fixture
def tiny_scratch(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem, so "larger than the free scratch space" is the truth."""
    root = tmp_path / "tiny"
    root.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(root)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CI has it)")
    yield root
    subprocess.run(["umount", str(root)], check=False)


def test_an_object_larger_than_free_scratch_is_refused_before_download(
    function_modules: dict[str, ModuleType],
    function_env: Callable[..., None],
    redis_url: str,
    s3: Any,
    tiny_scratch: Path,
) -> None:
    function_env("ImportWorkerFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(tiny_scratch))
    s3.put_object(Bucket=BUCKET, Key="logs/big.log", Body=b"x" * (3 * 1024 * 1024))
    work = job(s3, "logs/big.log")
    result = function_modules["ImportWorkerFunction"].lambda_handler(work, context("r"))
    assert result["imports"] == [{"error": "insufficient_storage"}]
    assert list(tiny_scratch.iterdir()) == []


# --- separate processes: concurrency and memory -------------------------------------------


def _pools(template: Template, redis_url: str, s3: LocalS3, scratch: Path, n: int) -> list[WorkerPool]:
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": "", "SCRATCH_DIR": str(scratch), **s3.env}
    return [WorkerPool(template.functions["ImportWorkerFunction"], env) for _ in range(n)]


def test_concurrent_imports_of_one_object_count_once(
    template: Template, redis_url: str, local_s3: LocalS3, scratch: Path, shared_redis: RedisServer
) -> None:
    log = generate(20_000, seed=4)
    local_s3.client().put_object(Bucket=BUCKET, Key="logs/busy.log.gz", Body=log.gzipped())
    pools = _pools(template, redis_url, local_s3, scratch, 4)
    work = job(local_s3.client(), "logs/busy.log.gz")
    try:
        with ThreadPoolExecutor(4) as executor:
            results = list(executor.map(lambda p: p.invoke(work)["imports"][0], pools))
    finally:
        for pool in pools:
            pool.close()
    assert sorted(r["counted"] for r in results) == [0, 0, 0, log.counted]
    assert len({r["id"] for r in results}) == 1
    assert shared_redis.client().get("{hits}:count") == str(log.counted)
    assert list(scratch.iterdir()) == []


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_a_large_log_is_parsed_in_bounded_memory(
    template: Template, redis_url: str, local_s3: LocalS3, scratch: Path
) -> None:
    small, large = generate(1_000, seed=5), generate(400_000, seed=6)  # ~35 MB of log
    assert len(large.text) > 30 * 1024 * 1024
    client = local_s3.client()
    client.put_object(Bucket=BUCKET, Key="logs/small.log", Body=small.text)
    client.put_object(Bucket=BUCKET, Key="logs/large.log.gz", Body=large.gzipped())
    (pool,) = _pools(template, redis_url, local_s3, scratch, 1)
    try:
        pool.invoke(job(client, "logs/small.log"))  # warm: imports, clients, one small import
        before = _peak_rss_kib(pool.last_pid)
        result = pool.invoke(job(client, "logs/large.log.gz"))
        growth_mib = (_peak_rss_kib(pool.last_pid) - before) / 1024
    finally:
        pool.close()
    assert result["imports"][0]["counted"] == large.counted
    # The log is 35 MB; parsing it as a stream keeps the process's peak within a few MiB.
    assert growth_mib < 16, f"peak RSS grew {growth_mib:.1f} MiB"
    assert list(scratch.iterdir()) == []


# --- the whole flow over HTTP: 202, the worker through the local Lambda API, then done --------


@pytest.mark.parametrize("recycle", [False, True], ids=["warm", "recycle"])
def test_post_answers_202_and_the_worker_finishes_it(
    template: Template, redis_url: str, local_s3: LocalS3, scratch: Path, shared_redis: RedisServer, recycle: bool
) -> None:
    from localapi.server import LocalApi, Server
    from tests.support.http import http_json

    log = generate(2_000, seed=8)
    local_s3.client().put_object(Bucket=BUCKET, Key="logs/flow.log.gz", Body=log.gzipped())
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": "", "SCRATCH_DIR": str(scratch), **local_s3.env}
    api = Server(LocalApi(template, {"Parameters": env}, recycle=recycle)).start()
    try:
        status, headers, body = http_json("POST", f"{api.url}/imports", {"key": "logs/flow.log.gz"})
        assert status == 202 and body["state"] in ("pending", "running")
        location = headers["Location"]
        assert location == f"/imports/{body['id']}"
        done: dict[str, Any] = {}

        def finished() -> bool:
            status, headers, body = http_json("GET", f"{api.url}{location}")
            if status == 503 and "Retry-After" in headers:  # the contract's "try again": a poller does
                return False
            assert status == 200 and "state" in body, (status, body)
            done.clear()
            done.update(body)
            return bool(done["state"] == "done")

        wait_for(finished, timeout=30, what="the import to finish")
        assert done["summary"]["counted"] == log.counted
        assert shared_redis.client().get("{hits}:count") == str(log.counted)
        # The same object again: the stored summary at once, nothing counted.
        again = http_json("POST", f"{api.url}/imports", {"key": "logs/flow.log.gz"})
        assert (again[0], again[2]) == (200, done)
        assert shared_redis.client().get("{hits}:count") == str(log.counted)
        assert list(scratch.iterdir()) == []
    finally:
        api.stop()


def test_a_failed_hand_over_is_not_left_pending(
    invoke_imports: Invoke, s3: Any, function_env: Callable[..., None], redis_url: str, scratch: Path
) -> None:
    """The worker cannot be invoked (Lambda unreachable): 503, and the import is failed, not
    pending, so the client's retry hands it over again instead of waiting for nothing."""
    function_env(
        "ImportsFunction",
        REDIS_URL=redis_url,
        KEY_PREFIX="",
        SCRATCH_DIR=str(scratch),
        AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:9",  # nothing listens: refused at once
    )
    s3.put_object(Bucket=BUCKET, Key="logs/queued.log", Body=generate(50).text)
    for _ in range(2):  # the retry tries again, rather than answering 202 for a job nobody has
        response = invoke_imports(post("logs/queued.log"))
        assert response["statusCode"] == 503 and header(response, "Retry-After") == "1"
    work = job(s3, "logs/queued.log")
    shown = body_json(invoke_imports(get(work["import"]["id"])))
    assert shown["state"] == "failed" and shown["reason"]["code"] == "backend_unavailable"


def test_an_import_finishing_while_it_is_looked_up_is_never_unknown(
    function_env: Callable[..., None], redis_url: str
) -> None:
    """The commit stores the summary and deletes the state in one step; a lookup reading the
    two apart could fall between them and answer 404 for a running import (seen as a rare
    failure of the flow test above). Many commits race a tight lookup loop here."""
    from hitcounter.logic.imports import lookup
    from hitcounter.runtime import services

    function_env("ImportsFunction", REDIS_URL=redis_url, KEY_PREFIX="race:")
    ledger = services().imports
    seen: list[str] = []
    for n in range(150):
        ident = hashlib.md5(f"race-{n}".encode()).hexdigest()
        ledger.set_state(ident, {"state": "running", "key": "logs/x", "etag": "e", "updated_at": int(time.time())})
        with ThreadPoolExecutor(1) as pool:
            commit = pool.submit(ledger.commit, ident, 1, {"id": ident, "counted": 1})
            while True:
                try:
                    state = lookup(ledger, ident)["state"]
                except NotFound:
                    seen.append(ident)
                    break
                if state == "done":
                    break
            commit.result()
    assert seen == []
