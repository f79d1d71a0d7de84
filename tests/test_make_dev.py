"""`make dev` (python -m localapi) as a person uses it: a taken port, every way of stopping it
(busy workers included), and what it prints."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import redis

from localapi.__main__ import SAMPLE_KEY
from tests.support.events import ROOT
from tests.support.http import answers as _answers
from tests.support.http import http, http_json
from tests.support.logs import LINE, members
from tests.support.servers import RedisServer, free_port, wait_for

BUCKET = "hit-counter-dev-imports-123456789012-us-east-1"


class Dev:
    def __init__(self, proc: subprocess.Popen[str], port: int, s3_port: int) -> None:
        self.proc, self.port, self.s3_port = proc, port, s3_port
        self.url = f"http://127.0.0.1:{port}"

    def stop(self, sig: int = signal.SIGINT) -> tuple[float, str]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return time.monotonic() - started, err

    def redis_port(self, err: str) -> int:
        line = next(line for line in err.splitlines() if line.startswith("Started redis-server"))
        return int(line.split(":")[1].split()[0])


def launch(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[str], int, int]:
    """make dev on a copy of the project (its .dev/ data is its own), scratch in tmp_path."""
    project = tmp_path.parent / f"{tmp_path.name}-project"
    if not project.exists():
        project.mkdir()
        for name in ("template.yaml", "env.json"):
            shutil.copy(ROOT / name, project / name)
        for name in ("functions", "layers"):
            shutil.copytree(ROOT / name, project / name)
    port, s3_port = free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AWS_ENDPOINT_URL_S3")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "localapi", "--template", str(project / "template.yaml")],
        cwd=ROOT,
        env=base | {"PORT": str(port), "S3_PORT": str(s3_port), "SCRATCH_DIR": str(tmp_path)} | env,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, port, s3_port


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    proc, port, s3_port = launch(tmp_path)
    running = Dev(proc, port, s3_port)
    try:
        wait_for(lambda: _answers(running.url), timeout=30, what="make dev")
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("variable", ["PORT", "S3_PORT"])
def test_a_taken_port_fails_fast_naming_the_variable_and_starts_nothing(tmp_path: Path, variable: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        started = time.monotonic()
        proc, _, _ = launch(tmp_path, **{variable: str(taken.getsockname()[1])})
        _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert proc.returncode == 2
    assert f"set {variable} to a free one" in err
    assert "Started redis-server" not in err and "Traceback" not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"])
def test_every_way_of_stopping_stops_everything_it_started(dev: Dev, sig: int) -> None:
    assert http("GET", f"{dev.url}/")[0] == 200
    took, err = dev.stop(sig)
    assert took < 5 and dev.proc.returncode == 0
    with pytest.raises(OSError):
        RedisServer.probe(dev.redis_port(err))
    with pytest.raises(OSError):
        RedisServer.probe(dev.s3_port)


def test_ctrl_c_during_an_import_stops_the_busy_worker_and_empties_scratch(dev: Dev, tmp_path: Path) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{dev.s3_port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    block = LINE * (10 * 1024**2 // len(LINE))
    s3.put_object(Bucket=BUCKET, Key="logs/slow.gz", Body=members(block, 200))  # minutes of parsing
    status, _, _ = http_json("POST", f"{dev.url}/imports", {"key": "logs/slow.gz"})
    assert status == 202
    wait_for(lambda: any(tmp_path.glob("hitcounter-scratch-*/object")), timeout=30, what="the worker to download")
    took, err = dev.stop(signal.SIGINT)
    assert took < 5, f"stopping took {took:.1f} s"
    assert list(tmp_path.iterdir()) == []  # the killed worker's download is swept
    assert "Traceback" not in err


def test_one_readable_line_per_request_and_no_metrics_noise(dev: Dev) -> None:
    assert http("GET", f"{dev.url}/?x=%1b[31m")[0] == 200
    assert http("GET", f"{dev.url}/nowhere")[0] == 404
    status, _, body = http_json("POST", f"{dev.url}/imports", {"key": SAMPLE_KEY})
    assert status == 202  # the sample log is in the local bucket from the start

    def done() -> bool:
        # make dev throttles GET /imports/{id} as the stage does (10/s): a 429 is "not yet".
        status, _, state = http_json("GET", f"{dev.url}/imports/{body['id']}")
        return status == 200 and state["state"] == "done"

    wait_for(done, timeout=60, what="the sample import")
    _, err = dev.stop()
    lines = err.splitlines()
    assert any(line.startswith("GET /?x=%1b[31m 200 ") and line.endswith(" HitsFunction") for line in lines)
    assert any(line.startswith("GET /nowhere 404 ") and line.endswith(" -") for line in lines)
    assert not any('"_aws"' in line for line in lines)  # EMF metrics hidden unless --metrics
    assert not any("\x1b[31m" in line for line in lines)


def test_make_dev_serves_on_its_own_redis(dev: Dev) -> None:
    assert http("GET", f"{dev.url}/")[2] == "Hello World! 1 times."
    assert http("GET", f"{dev.url}/")[2] == "Hello World! 2 times."
    _, err = dev.stop()
    assert f"Mounting HitsFunction at {dev.url}/hits [GET]" in err
    assert "GET / 200" in err and "Traceback" not in err


def test_the_shells_environment_wins_over_env_json_and_the_template(tmp_path: Path, redis_url: str) -> None:
    # env.json says KEY_PREFIX=local:; the shell says otherwise, and names its own Redis.
    proc, port, _ = launch(tmp_path, REDIS_URL=redis_url, KEY_PREFIX="from-shell:")
    running = Dev(proc, port, 0)
    try:
        wait_for(lambda: _answers(running.url), timeout=30, what="make dev")
        assert http("GET", f"{running.url}/")[2] == "Hello World! 1 times."
        assert redis.Redis.from_url(redis_url).get("from-shell:{hits}:count") == b"1"
    finally:
        running.stop()
