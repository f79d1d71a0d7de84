"""Imports of hostile logs end within their bounds: a 1 GiB line, thousands of huge distinct
paths, a gzip bomb of 6.4 GB, a time budget, and a worker killed mid-import. Each ends cleanly,
counts nothing it should not, keeps memory and the stored summary small, and leaves the
scratch directory empty."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hitcounter.data import scratch as scratch_space
from localapi.pool import WorkerPool
from localapi.services import LocalS3
from localapi.template import Template
from tests.support.events import ROOT, context, import_job
from tests.support.servers import RedisServer

pytestmark = pytest.mark.hostile

from tests.support.events import IMPORTS_BUCKET as BUCKET  # noqa: E402
from tests.support.logs import LINE, members  # noqa: E402


@pytest.fixture
def s3(local_s3: LocalS3) -> LocalS3:
    return local_s3


def job(s3: LocalS3, key: str) -> dict[str, Any]:
    return import_job(s3.client(), key)


@pytest.fixture
def worker(template: Template, redis_url: str, s3: LocalS3, scratch: Path) -> Iterator[Callable[..., WorkerPool]]:
    made: list[WorkerPool] = []

    def make(**env: str) -> WorkerPool:
        base = {"REDIS_URL": redis_url, "KEY_PREFIX": "", "SCRATCH_DIR": str(scratch), **s3.env}
        pool = WorkerPool(template.functions["ImportWorkerFunction"], base | env)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def growth_mib(pool: WorkerPool, s3: LocalS3, key: str) -> tuple[float, dict[str, Any]]:
    """Peak-RSS growth of a warm worker importing ``key``, and the worker's result."""
    s3.client().put_object(Bucket=BUCKET, Key="logs/warm-up.log", Body=LINE * 10)
    pool.invoke(job(s3, "logs/warm-up.log"))
    before = peak_kib(pool.last_pid)
    result = pool.invoke(job(s3, key))
    return (peak_kib(pool.last_pid) - before) / 1024, result


def summary_of(redis: RedisServer, ident: str) -> tuple[dict[str, Any], int]:
    raw = redis.client().get(f"{{hits}}:import:{ident}")
    assert raw is not None
    return json.loads(raw), len(raw)


def test_a_1_gib_line_is_one_malformed_line_in_bounded_memory(
    worker: Callable[..., WorkerPool], s3: LocalS3, scratch: Path, shared_redis: RedisServer
) -> None:
    s3.client().put_object(Bucket=BUCKET, Key="logs/one-line.gz", Body=members(b"A" * (16 * 1024**2), 64))
    grew, result = growth_mib(worker(), s3, "logs/one-line.gz")
    assert result["imports"][0]["counted"] == 0
    summary, _ = summary_of(shared_redis, result["imports"][0]["id"])
    assert (summary["lines"], summary["malformed"], summary["long_lines"]) == (1, 1, 1)
    assert summary["decompressed_bytes"] == 1024**3
    assert grew < 64, f"peak RSS grew {grew:.1f} MiB"
    assert list(scratch.iterdir()) == []


def test_many_huge_distinct_paths_keep_memory_and_the_summary_small(
    worker: Callable[..., WorkerPool], s3: LocalS3, scratch: Path, shared_redis: RedisServer
) -> None:
    lines = b"".join(
        b'198.51.100.7 - - [23/Nov/2026:10:00:00 +0000] "GET /%d/%s HTTP/1.1" 200 1\n' % (i, b"p" * 8000)
        for i in range(10_000)
    )  # 10,000 distinct 8 KB paths: 80 MB
    long = b'198.51.100.7 - - [x] "GET /%s HTTP/1.1" 200 1\n' % (b"q" * 700_000)
    s3.client().put_object(Bucket=BUCKET, Key="logs/paths.gz", Body=gzip.compress(lines + long * 10, mtime=0))
    grew, result = growth_mib(worker(), s3, "logs/paths.gz")
    summary, stored = summary_of(shared_redis, result["imports"][0]["id"])
    assert summary["lines"] == 10_010 and summary["long_lines"] == 10
    assert all(len(p["path"]) <= 256 for p in summary["top_paths"]) and len(summary["top_paths"]) <= 10
    assert stored < 8 * 1024, f"the stored summary is {stored} bytes"
    assert grew < 64, f"peak RSS grew {grew:.1f} MiB"
    assert list(scratch.iterdir()) == []


def test_a_gzip_bomb_stops_at_its_byte_bound_or_its_time_budget_counting_nothing(
    worker: Callable[..., WorkerPool],
    function_modules: dict[str, ModuleType],
    function_env: Callable[..., None],
    redis_url: str,
    s3: LocalS3,
    scratch: Path,
    shared_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = LINE * (10 * 1024**2 // len(LINE))  # ~10 MB of counted lines
    bomb = members(block, 640)  # ~6.4 GB of log lines
    s3.client().put_object(Bucket=BUCKET, Key="logs/bomb.gz", Body=bomb)
    print(f"bomb: {len(bomb) / 1e6:.1f} MB compressed, {len(block) * 640 / 1e9:.2f} GB of lines")
    # Bound by bytes: a worker process with a 64 MiB ceiling on decompressed bytes.
    result = worker(IMPORT_MAX_DECOMPRESSED_BYTES=str(64 * 1024**2)).invoke(job(s3, "logs/bomb.gz"))
    assert result["imports"] == [{"error": "too_large"}]
    # Bound by time: 3 s left in the invocation, stop while 2 s remain.
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    function_env(
        "ImportWorkerFunction",
        **s3.env,
        REDIS_URL=redis_url,
        KEY_PREFIX="",
        SCRATCH_DIR=str(scratch),
        IMPORT_TIME_MARGIN_MS="2000",
    )
    work = job(s3, "logs/bomb.gz")
    started = time.monotonic()
    three_seconds_left = context("w", 3000)
    assert function_modules["ImportWorkerFunction"].lambda_handler(work, three_seconds_left)["imports"] == [
        {"error": "out_of_time"}
    ]
    assert time.monotonic() - started < 3  # stopped before the "function timeout"
    state = json.loads(shared_redis.client().get(f"{{hits}}:import:{work['import']['id']}:state") or "{}")
    assert state["state"] == "failed" and state["reason"]["code"] == "out_of_time"
    assert shared_redis.client().get("{hits}:count") is None  # nothing counted
    assert list(scratch.iterdir()) == []


def test_what_a_killed_invocation_left_is_swept_and_a_live_ones_is_not(scratch: Path) -> None:
    # A worker killed inside its scratch directory: `finally` never runs (as after a Lambda
    # timeout or an out-of-memory kill).
    killed = (
        "import os, sys\nfrom pathlib import Path\nfrom hitcounter.data import scratch\n"
        "with scratch.invocation_dir(Path(sys.argv[1])) as left:\n"
        "    (left / 'object').write_bytes(b'x' * 1024)\n"
        "    os._exit(9)\n"
    )
    layer = str(ROOT / "layers/shared/python")
    done = subprocess.run([sys.executable, "-c", killed, str(scratch)], env={"PYTHONPATH": layer}, check=False)
    assert done.returncode == 9
    assert len(list(scratch.iterdir())) == 1
    # Another invocation is alive, in its own directory, at the same time.
    with scratch_space.invocation_dir(scratch) as mine:
        # The next invocation sweeps before it starts: the dead one's directory goes, ours stays.
        with scratch_space.invocation_dir(scratch) as theirs:
            assert sorted(scratch.iterdir()) == sorted([mine, theirs])
        assert list(scratch.iterdir()) == [mine]
    assert list(scratch.iterdir()) == []
    # Only this project's prefix is touched.
    (scratch / "someone-elses").mkdir()
    assert scratch_space.sweep(scratch) == 0 and (scratch / "someone-elses").is_dir()
