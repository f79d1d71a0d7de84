"""One fixture layer: real Redis servers, the template, events, and the handler invoked the
way Lambda invokes it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hitcounter import runtime
from localapi import template as sam_template
from localapi.modules import load_app
from localapi.services import LocalS3
from tests.support.events import IMPORTS_BUCKET, ROOT, Invoke, context, invoker
from tests.support.servers import RedisCluster3, RedisServer, TLSRedisServer, redis_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests at the top of tests/ are the contract tier: the handlers, the local server,
    production Redis, the template (``-m contract`` runs them alone)."""
    for item in items:
        if Path(str(item.fspath)).parent == ROOT / "tests":
            item.add_marker(pytest.mark.contract)


@pytest.fixture(scope="session")
def template() -> sam_template.Template:
    return sam_template.load(ROOT / "template.yaml")


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def cluster() -> Iterator[RedisCluster3]:
    """A three-master cluster on loopback, started once (about 8 s) for the tests that use it."""
    made = RedisCluster3().start()
    yield made
    made.stop()


@pytest.fixture(scope="session")
def tls_redis() -> Iterator[TLSRedisServer]:
    """redis-server over TLS, its certificate from a throwaway trustme CA."""
    server = TLSRedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def acl_redis() -> Iterator[RedisServer]:
    """redis-server whose default user is off: only the ACL user ``counter`` gets in."""
    with redis_server() as server:
        admin = server.client()
        admin.acl_setuser(
            "counter",
            enabled=True,
            passwords=["+c0unter-pw"],
            keys=["*"],
            channels=["*"],
            commands=["+@all", "-@dangerous"],
        )
        admin.acl_setuser(
            "admin", enabled=True, passwords=["+admin-pw"], keys=["*"], channels=["*"], commands=["+@all"]
        )
        admin.acl_setuser("default", enabled=False)
        yield server


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """An empty scratch root (SCRATCH_DIR) a test can check is empty again afterwards."""
    root = tmp_path / "scratch"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def local_s3() -> Iterator[LocalS3]:
    """moto's S3 server on loopback with the imports bucket, for functions in worker processes."""
    made = LocalS3().start()
    made.client().create_bucket(Bucket=IMPORTS_BUCKET)
    yield made
    made.stop()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 in this process, with the imports bucket (its client)."""
    import boto3
    from moto import mock_aws

    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=IMPORTS_BUCKET)
        yield client


@pytest.fixture
def run_worker(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None], redis_url: str, scratch: Path, s3: Any
) -> Callable[..., dict[str, Any]]:
    """The import worker in this process: ``run_worker(event, budget_ms)``."""
    function_env("ImportWorkerFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(scratch))
    module = function_modules["ImportWorkerFunction"]

    def run(event: dict[str, Any], budget_ms: int = 60_000) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, context("w", budget_ms))
        return result

    return run


@pytest.fixture
def redis_url(shared_redis: RedisServer) -> str:
    """A clean database on the session's server (flushed before each test)."""
    shared_redis.client().flushall()
    return shared_redis.url


@pytest.fixture
def function_env(template: sam_template.Template, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set a function's environment from template.yaml, with overrides, in this process."""

    def apply(function: str = "HitsFunction", **overrides: str) -> None:
        for key, value in {**template.functions[function].environment, **overrides}.items():
            monkeypatch.setenv(key, value)
        runtime.reset()

    yield apply
    runtime.reset()


def _load_function(code_dir: Path) -> ModuleType:
    """Import a function's app.py under a unique name: each function is its own /var/task."""
    return load_app(code_dir, f"fn_{code_dir.name}_app")


@pytest.fixture(scope="session")
def function_modules(template: sam_template.Template) -> dict[str, ModuleType]:
    """Each function's app module, loaded once: one warm environment per function."""
    return {name: _load_function(fn.code_dir) for name, fn in template.functions.items()}


@pytest.fixture(scope="session")
def hits_module(function_modules: dict[str, ModuleType]) -> ModuleType:
    return function_modules["HitsFunction"]


@pytest.fixture
def invoke_hits(hits_module: ModuleType, function_env: Callable[..., None], redis_url: str) -> Invoke:
    """Invoke the hits handler in this process (a warm environment) against a clean Redis."""
    function_env(REDIS_URL=redis_url, KEY_PREFIX="test:")
    return invoker(hits_module)


@pytest.fixture
def invoke_session(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None], redis_url: str
) -> Invoke:
    """Invoke the session handler in this process against a clean Redis."""
    function_env("SessionFunction", REDIS_URL=redis_url, KEY_PREFIX="test:")
    return invoker(function_modules["SessionFunction"])


@pytest.fixture
def logs() -> Iterator[Callable[[], str]]:
    """Everything the shared Powertools Logger writes during the test (it keeps the stdout
    it was created with, so pytest's capture fixtures do not see it)."""
    import io

    from hitcounter.core.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer.getvalue
    handler.setStream(previous)


@pytest.fixture
def invoke_imports(
    function_modules: dict[str, ModuleType], function_env: Callable[..., None], redis_url: str, scratch: Path, s3: Any
) -> Invoke:
    """The HTTP side (POST /imports, GET /imports/{id}) in this process. A POST that would
    hand work to the worker needs the Lambda API: those go through the local server below."""
    function_env("ImportsFunction", REDIS_URL=redis_url, KEY_PREFIX="", SCRATCH_DIR=str(scratch))
    module = function_modules["ImportsFunction"]

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(event, context("r"))
        return result

    return invoke
