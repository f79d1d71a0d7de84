"""Backing services the local API starts for itself: a redis-server it owns.

The tests start theirs through the same code (tests/servers.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll until ``condition()`` holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class RedisServer:
    """One ``redis-server`` process on a free loopback port; no persistence unless ``extra``
    asks for it (later arguments win)."""

    def __init__(self, *extra: str, data_dir: Path | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: run `make setup`")
        self.exe = exe
        self.extra = extra
        self.dir = data_dir or Path(tempfile.mkdtemp(prefix="redis-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        for _ in range(5):  # a free port can be taken between probe and bind; try another
            self.port = self.port or free_port()
            self.proc = subprocess.Popen(
                [
                    self.exe,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                    *self.extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for(self._answers, timeout=5, what=f"redis-server on {self.port}")
                return self
            except AssertionError:
                self.stop()
                self.port = 0
        raise RuntimeError("could not start redis-server")

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("redis-server exited")
        try:
            return bool(self.client().ping())
        except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError, redis.ResponseError):
            return True  # it answered: it wants a password (the caller's client has one)
        except redis.ConnectionError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    @staticmethod
    def probe(port: int) -> None:
        """Raise OSError unless something accepts connections on ``port``."""
        socket.create_connection(("127.0.0.1", port), timeout=1).close()

    def restart(self) -> None:
        """Start again on the same port (after ``stop``)."""
        self.start()


class LocalS3:
    """moto's S3 server on loopback, standing in for S3 in `make dev` and the tests."""

    CREDENTIALS = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = ""

    def start(self) -> LocalS3:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    @property
    def env(self) -> dict[str, str]:
        """What a function needs to use this S3: botocore reads AWS_ENDPOINT_URL_S3 itself."""
        return {**self.CREDENTIALS, "AWS_ENDPOINT_URL_S3": self.url}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )

    def stop(self) -> None:
        self._server.stop()
