"""Access-log imports on moto's S3 and real Redis: exact counts, once per object, and a
scratch directory that is empty after every outcome."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from hitcounter.errors import Forbidden, NotFound
from hitcounter.objects import map_client_error
from localapi.pool import WorkerPool
from localapi.services import LocalS3
from localapi.template import Template
from localapi.worker import LambdaContext
from tests.accesslogs import generate
from tests.conftest import EVENTS, Invoke, body_json, load_event
from tests.servers import RedisServer

BUCKET = "hit-counter-dev-imports-123456789012-us-east-1"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    root = tmp_path / "scratch"
    root.mkdir()
    return root


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def invoke_imports(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None], redis_url: str, scratch: Path, s3: Any
) -> Invoke:
    function_env("ImportsFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(scratch))
    module = function_modules["ImportsFunction"]

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, LambdaContext("r", 0))
        return result

    return invoke


def post(key: Any, **changes: Any) -> dict[str, Any]:
    event = load_event("imports/post-import")
    event["body"] = json.dumps({"key": key})
    event.update(changes)
    return event


def get(import_id: str) -> dict[str, Any]:
    event = load_event("imports/get-import")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/imports/{import_id}"
    event["pathParameters"] = {"id": import_id}
    return event


def test_a_gzipped_log_counts_exactly_its_get_root_2xx_lines_once(
    invoke_imports: Invoke, s3: Any, shared_redis: RedisServer, scratch: Path
) -> None:
    log = generate(3000)
    gz = log.gzipped()
    s3.put_object(Bucket=BUCKET, Key="logs/access.log.gz", Body=gz)
    shared_redis.client().set("{hits}:count", 5)
    # When it is imported
    response = invoke_imports(post("logs/access.log.gz"))
    # Then exactly its GET / 2xx lines were added, and the summary says what was read
    assert response["statusCode"] == 201, response["body"]
    summary = body_json(response)
    assert (summary["lines"], summary["counted"], summary["malformed"]) == (log.lines, log.counted, log.malformed)
    assert summary["bytes"] == len(gz)
    assert summary["sha256"] == hashlib.sha256(gz).hexdigest()
    assert summary["top_paths"][0] == {"path": "/", "requests": max(p["requests"] for p in summary["top_paths"])}
    assert len(summary["top_paths"]) <= 10
    assert shared_redis.client().get("{hits}:count") == str(5 + log.counted)
    # And again: the stored summary, nothing counted
    again = invoke_imports(post("logs/access.log.gz"))
    assert (again["statusCode"], body_json(again)) == (200, summary)
    assert shared_redis.client().get("{hits}:count") == str(5 + log.counted)
    # And it can be read back by id
    stored = invoke_imports(get(summary["id"]))
    assert (stored["statusCode"], body_json(stored)) == (200, summary)
    assert list(scratch.iterdir()) == []


def test_gzip_is_told_by_magic_bytes_not_the_name(invoke_imports: Invoke, s3: Any) -> None:
    log = generate(500, seed=2)
    s3.put_object(Bucket=BUCKET, Key="logs/plain-but-named.gz", Body=log.text)
    s3.put_object(Bucket=BUCKET, Key="logs/gzip-but-named.log", Body=log.gzipped())
    for key in ("logs/plain-but-named.gz", "logs/gzip-but-named.log"):
        assert body_json(invoke_imports(post(key)))["counted"] == log.counted


def test_a_new_version_of_the_object_is_a_new_import(
    invoke_imports: Invoke, s3: Any, shared_redis: RedisServer
) -> None:
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=generate(100, seed=1).text)
    first = body_json(invoke_imports(post("logs/a.log")))
    second_log = generate(200, seed=3)
    s3.put_object(Bucket=BUCKET, Key="logs/a.log", Body=second_log.text)
    second = body_json(invoke_imports(post("logs/a.log")))
    assert second["id"] != first["id"] and second["etag"] != first["etag"]
    assert shared_redis.client().get("{hits}:count") == str(first["counted"] + second["counted"])


def test_the_s3_trigger_runs_the_same_import(invoke_imports: Invoke, s3: Any, shared_redis: RedisServer) -> None:
    log = generate(400, seed=9)
    s3.put_object(Bucket=BUCKET, Key="logs/access 2026.log", Body=log.text)
    event = json.loads((EVENTS / "imports/s3-object-created.json").read_text())
    event["Records"][0]["s3"]["object"]["key"] = "logs/access+2026.log"  # S3 URL-encodes keys
    result = invoke_imports(event)
    assert result["imports"][0]["counted"] == log.counted
    assert invoke_imports(event)["imports"][0]["counted"] is False  # the retry/duplicate counts nothing
    assert shared_redis.client().get("{hits}:count") == str(log.counted)


def test_errors_are_clear_and_leave_nothing_behind(invoke_imports: Invoke, s3: Any, scratch: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="logs/corrupt.gz", Body=gzip.compress(b"x" * 10_000)[:-20] + b"\x00" * 20)
    s3.put_object(Bucket=BUCKET, Key="logs/truncated.gz", Body=gzip.compress(generate(200).text)[:300])
    s3.put_object(Bucket=BUCKET, Key="logs/binary.bin", Body=os.urandom(50_000))
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
        (post("logs/corrupt.gz"), 422),
        (post("logs/truncated.gz"), 422),
        (post("logs/binary.bin"), 422),
        (get("not-an-id"), 404),
        (get("0" * 32), 404),
    ]
    for _ in range(3):  # many warm invocations, every outcome: scratch stays empty
        for event, status in cases:
            response = invoke_imports(event)
            assert response["statusCode"] == status, (event.get("body"), response["body"])
            assert set(body_json(response)["error"]) == {"code", "message"}
            assert list(scratch.iterdir()) == []


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
    function_env("ImportsFunction", REDIS_URL=redis_url, SCRATCH_DIR=str(tiny_scratch))
    s3.put_object(Bucket=BUCKET, Key="logs/big.log", Body=b"x" * (3 * 1024 * 1024))
    response = function_modules["ImportsFunction"].lambda_handler(post("logs/big.log"), LambdaContext("r", 0))
    assert response["statusCode"] == 507
    assert "scratch" in body_json(response)["error"]["message"]
    assert list(tiny_scratch.iterdir()) == []


# --- separate processes: concurrency and memory -------------------------------------------


@pytest.fixture
def local_s3() -> Iterator[LocalS3]:
    s3 = LocalS3().start()
    s3.client().create_bucket(Bucket=BUCKET)
    yield s3
    s3.stop()


def _pools(template: Template, redis_url: str, s3: LocalS3, scratch: Path, n: int) -> list[WorkerPool]:
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": "", "SCRATCH_DIR": str(scratch), **s3.env}
    return [WorkerPool(template.functions["ImportsFunction"], env) for _ in range(n)]


def test_concurrent_imports_of_one_object_count_once(
    template: Template, redis_url: str, local_s3: LocalS3, scratch: Path, shared_redis: RedisServer
) -> None:
    log = generate(20_000, seed=4)
    local_s3.client().put_object(Bucket=BUCKET, Key="logs/busy.log.gz", Body=log.gzipped())
    pools = _pools(template, redis_url, local_s3, scratch, 4)
    try:
        with ThreadPoolExecutor(4) as executor:
            responses = list(executor.map(lambda p: p.invoke(post("logs/busy.log.gz")), pools))
    finally:
        for pool in pools:
            pool.close()
    statuses = sorted(r["statusCode"] for r in responses)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201}
    assert len({body_json(r)["id"] for r in responses}) == 1
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
        pool.invoke(post("logs/small.log"))  # warm: imports, clients, one small import
        before = _peak_rss_kib(pool.last_pid)
        response = pool.invoke(post("logs/large.log.gz"))
        growth_mib = (_peak_rss_kib(pool.last_pid) - before) / 1024
    finally:
        pool.close()
    assert body_json(response)["counted"] == large.counted
    # The log is 35 MB; parsing it as a stream keeps the process's peak within a few MiB.
    assert growth_mib < 16, f"peak RSS grew {growth_mib:.1f} MiB"
    assert list(scratch.iterdir()) == []
