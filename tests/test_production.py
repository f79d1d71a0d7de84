"""Production Redis on loopback: TLS with verification, passwords and ACL users, ElastiCache
IAM tokens, a Secrets Manager password that rotates, a three-master cluster, the sharded
counter, and SnapStart's rules for init."""

from __future__ import annotations

import builtins
import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from hitcounter import runtime
from hitcounter.data.redis_auth import ElastiCacheIAMProvider
from localapi.modules import load_app
from localapi.pool import WorkerPool
from localapi.services import LocalS3
from localapi.template import Template
from tests.support.events import ROOT, body_json, context, load_event
from tests.support.servers import RedisCluster3, RedisClusterN, TLSRedisServer, redis_server


def call(modules: dict[str, ModuleType], function: str, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = modules[function].lambda_handler(event, context("r"))
    return result


@pytest.fixture
def tls_server(tls_redis: TLSRedisServer) -> TLSRedisServer:
    return tls_redis


# --- TLS ----------------------------------------------------------------------------------


def test_tls_connects_with_the_ca_and_verifies_the_host(function_modules, function_env, tls_server) -> None:
    function_env(REDIS_URL=tls_server.tls_url, REDIS_CA_FILE=tls_server.ca_file)
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200
    function_env(REDIS_URL=tls_server.tls_url.replace("127.0.0.1", "localhost"), REDIS_CA_FILE=tls_server.ca_file)
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200


def test_tls_refuses_a_server_it_cannot_verify(function_modules, function_env, tls_server, logs) -> None:
    # Without the test CA, the system bundle does not trust the server: no connection.
    before = tls_server.client().get("dev:{hits}:count")
    function_env(REDIS_URL=tls_server.tls_url)
    response = call(function_modules, "HitsFunction", load_event("hits/get-root"))
    assert response["statusCode"] == 503
    assert '"cause":"tls_verify_failed"' in logs()
    assert "misconfiguration" in logs()
    assert tls_server.client().get("dev:{hits}:count") == before  # nothing was counted


def test_tls_settings_come_from_host_variables_too(function_modules, function_env, tls_server) -> None:
    function_env(
        REDIS_URL="",
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=str(tls_server.tls_port),
        REDIS_TLS="true",
        REDIS_CA_FILE=tls_server.ca_file,
    )
    assert call(function_modules, "HitsFunction", load_event("hits/get-hits"))["statusCode"] == 200


# --- passwords and ACL users -----------------------------------------------------------------


def test_requirepass_and_a_wrong_password(function_modules, function_env, logs) -> None:
    with redis_server("--requirepass", "s3cret-Pa55") as server:
        function_env(REDIS_URL=f"redis://:s3cret-Pa55@127.0.0.1:{server.port}/0")
        assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200
        function_env(REDIS_URL=f"redis://:wrong-Pa55@127.0.0.1:{server.port}/0")
        for _ in range(3):  # a clear 503 each time, no crash, no secret in the logs
            response = call(function_modules, "HitsFunction", load_event("hits/get-root"))
            assert response["statusCode"] == 503
        assert logs().count('"cause":"auth_failed"') == 3
        assert "Pa55" not in logs() and "Pa55" not in response["body"]


def test_an_acl_user(function_modules, function_env) -> None:
    with redis_server() as server:
        server.client().acl_setuser(
            "counter",
            enabled=True,
            passwords=["+u-pass"],
            keys=["*"],
            channels=["*"],
            commands=["+@all", "-@dangerous"],
        )
        function_env(REDIS_URL=f"redis://counter:u-pass@127.0.0.1:{server.port}/0")
        assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["body"] == "Hello World! 1 times."
        assert body_json(call(function_modules, "SessionFunction", load_event("session/post-session")))


# --- ElastiCache IAM auth ----------------------------------------------------------------------


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def test_iam_token_form(aws_credentials: None) -> None:
    provider = ElastiCacheIAMProvider("app-user", "hit-counter-dev", "eu-west-1", serverless=True)
    user, token = provider.get_credentials()
    assert user == "app-user"
    parts = urlsplit("https://" + token)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.hostname == "hit-counter-dev" and parts.path == "/"
    assert query["Action"] == "connect" and query["User"] == "app-user"
    assert query["ResourceType"] == "ServerlessCache"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-Credential"].endswith("/eu-west-1/elasticache/aws4_request")
    assert query["X-Amz-SignedHeaders"] == "host" and len(query["X-Amz-Signature"]) == 64
    group = ElastiCacheIAMProvider("u", "my-group", "eu-west-1", serverless=False).get_credentials()[1]
    assert "ResourceType" not in group


def test_iam_token_is_cached_then_reminted(aws_credentials: None) -> None:
    now = [1000.0]
    provider = ElastiCacheIAMProvider("u", "c", "us-east-1", refresh_after=600, clock=lambda: now[0])
    first = provider.get_credentials()
    now[0] += 599
    assert provider.get_credentials() == first and provider.minted == 1
    now[0] += 2  # past 10 minutes: a new token, well before the 15-minute expiry
    provider.get_credentials()
    assert provider.minted == 2
    provider.invalidate()
    provider.get_credentials()
    assert provider.minted == 3


def test_iam_token_is_sent_as_the_password_of_the_configured_user(
    function_modules, function_env, tls_server, aws_credentials
) -> None:
    function_env(
        REDIS_URL=tls_server.tls_url,
        REDIS_CA_FILE=tls_server.ca_file,
        REDIS_AUTH="iam",
        REDIS_USERNAME="iam-user",
        REDIS_IAM_CACHE_NAME="hit-counter-dev",
        AWS_REGION="us-east-1",
    )
    with runtime.services().redis.use() as built:
        client: Any = built
    provider = client.connection_pool.connection_kwargs["credential_provider"]
    user, token = provider.get_credentials()  # the token the next connection will send
    tls_server.client().acl_setuser(
        user,
        enabled=True,
        reset_passwords=True,
        passwords=[f"+{token}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    response = call(function_modules, "HitsFunction", load_event("hits/get-root"))
    assert response["statusCode"] == 200
    assert tls_server.client().acl_whoami() == "default"
    clients = tls_server.client().client_list()
    assert any(c["user"] == "iam-user" for c in clients)


def test_iam_without_tls_is_a_configuration_error(function_modules, function_env, logs) -> None:
    function_env(
        REDIS_URL="redis://127.0.0.1:6399/0",
        REDIS_AUTH="iam",
        REDIS_USERNAME="u",
        REDIS_IAM_CACHE_NAME="c",
        AWS_REGION="us-east-1",
    )
    response = call(function_modules, "HitsFunction", load_event("hits/get-root"))
    assert (response["statusCode"], body_json(response)["error"]["code"]) == (500, "misconfigured")
    assert "REDIS_AUTH=iam needs TLS" in logs()


# --- a password in Secrets Manager, rotated -----------------------------------------------------


def test_secret_password_and_its_rotation(function_modules, function_env, aws_credentials) -> None:
    with mock_aws(), redis_server() as server:
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        name = f"hit-counter/redis-{time.monotonic_ns()}"  # Powertools caches by name
        secrets.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "first-pw"}))
        admin = server.client()
        admin.acl_setuser("app", enabled=True, passwords=["+first-pw"], keys=["*"], channels=["*"], commands=["+@all"])
        function_env(REDIS_URL=server.url, REDIS_AUTH="secret", REDIS_SECRET_ID=name)
        assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200
        # Rotation: a new password in the secret and on the server, old connections dropped.
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"username": "app", "password": "second-pw"}))
        admin.acl_setuser(
            "app",
            enabled=True,
            reset_passwords=True,
            passwords=["+second-pw"],
            keys=["*"],
            channels=["*"],
            commands=["+@all"],
        )
        admin.client_kill_filter(_type="normal", skipme=True)
        # The cached password is refused once (a 503 the client retries), then re-fetched.
        assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 503
        response = call(function_modules, "HitsFunction", load_event("hits/get-root"))
        assert (response["statusCode"], response["body"]) == (200, "Hello World! 2 times.")


# --- a three-master cluster ----------------------------------------------------------------------


@pytest.fixture
def on_cluster(cluster: RedisCluster3, function_env: Callable[..., None]) -> Callable[..., None]:
    cluster.flushall()

    def apply(function: str = "HitsFunction", **extra: str) -> None:
        function_env(function, REDIS_URL=cluster.url, REDIS_MODE="cluster", **extra)

    return apply


def test_cluster_hits_idempotency_and_readiness(function_modules, on_cluster, cluster) -> None:
    on_cluster()
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["body"] == "Hello World! 1 times."
    keyed = load_event("hits/get-root-json")
    keyed["headers"]["idempotency-key"] = "k-1"
    assert body_json(call(function_modules, "HitsFunction", keyed)) == {"hits": 2}
    keyed["requestContext"]["requestId"] = "again"
    assert body_json(call(function_modules, "HitsFunction", keyed)) == {"hits": 2}
    assert body_json(call(function_modules, "HitsFunction", load_event("hits/get-hits"))) == {"hits": 2}
    assert call(function_modules, "HitsFunction", load_event("hits/get-health-ready"))["statusCode"] == 200
    # No blind re-send in cluster mode either: the cluster client retries nothing.
    with runtime.services().redis.use() as built:
        client: Any = built
    assert client.retry.get_retries() == 0


def test_cluster_sessions(function_modules, on_cluster) -> None:
    on_cluster("SessionFunction")
    created = call(function_modules, "SessionFunction", load_event("session/post-session"))
    sid = created["cookies"][0].split(";")[0]
    for visits in (1, 2):
        event = load_event("session/get-session")
        event["cookies"] = [sid]
        assert body_json(call(function_modules, "SessionFunction", event))["visits"] == visits
    put = load_event("session/put-session")
    put["cookies"] = [sid]
    assert call(function_modules, "SessionFunction", put)["statusCode"] == 200
    delete = load_event("session/delete-session")
    delete["cookies"] = [sid]
    assert call(function_modules, "SessionFunction", delete)["statusCode"] == 204


def test_cluster_imports_count_once(function_modules, on_cluster, cluster, tmp_path: Path, aws_credentials) -> None:
    from devtools.accesslogs import generate

    with mock_aws():
        bucket = "hit-counter-dev-imports-123456789012-us-east-1"
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        log = generate(500, seed=8)
        s3.put_object(Bucket=bucket, Key="logs/c.log", Body=log.text)
        on_cluster("ImportWorkerFunction", SCRATCH_DIR=str(tmp_path), KEY_PREFIX="")
        etag = s3.head_object(Bucket=bucket, Key="logs/c.log")["ETag"].strip('"')
        work = {"import": {"id": "0" * 32, "key": "logs/c.log", "etag": etag}}
        assert call(function_modules, "ImportWorkerFunction", work)["imports"][0]["counted"] == log.counted
        assert call(function_modules, "ImportWorkerFunction", work)["imports"][0]["counted"] == 0
        on_cluster("ImportsFunction", SCRATCH_DIR=str(tmp_path), KEY_PREFIX="")
        event = load_event("imports/post-import")
        event["body"] = json.dumps({"key": "logs/c.log"})
        known = call(function_modules, "ImportsFunction", event)
        assert known["statusCode"] == 200 and json.loads(known["body"])["state"] == "done"
    assert cluster.client().get("{hits}:count") == str(log.counted)


def test_a_cluster_over_verified_tls(function_modules, function_env, tmp_path: Path, logs) -> None:
    """ElastiCache Serverless's shape: cluster mode over TLS. The cluster client must keep
    our connection class (health check, no re-send) and verify every node's certificate."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cluster = RedisClusterN(masters=3, tls_dir=tmp_path).start()
    try:
        url = f"rediss://127.0.0.1:{cluster.tls_ports[0]}"
        function_env(REDIS_URL=url, REDIS_MODE="cluster", REDIS_CA_FILE=str(tmp_path / "ca.pem"), KEY_PREFIX="")
        for n in (1, 2):
            assert (
                call(function_modules, "HitsFunction", load_event("hits/get-root"))["body"]
                == f"Hello World! {n} times."
            )
        assert call(function_modules, "HitsFunction", load_event("hits/get-health-ready"))["statusCode"] == 200
        with runtime.services().redis.use() as built:
            client: Any = built
        nodes = client.get_nodes()
        assert {n.port for n in nodes} == set(cluster.tls_ports)  # every node reached over TLS
        pools = [n.redis_connection.connection_pool for n in nodes if n.redis_connection]
        assert pools and all(p.connection_class.__name__ == "_TLSConnection" for p in pools)
        # Without the CA the certificate does not verify: a 503 naming the cause.
        function_env(REDIS_URL=url, REDIS_MODE="cluster", KEY_PREFIX="")
        assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 503
        assert '"cause":"tls_verify_failed"' in logs()
    finally:
        cluster.stop()


@pytest.mark.slow
def test_sharded_counter_totals_are_exact_under_concurrency(
    template: Template, cluster: RedisCluster3, on_cluster
) -> None:
    cluster.flushall()
    env = {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster", "HITS_SHARDS": "8", "KEY_PREFIX": ""}
    pools = [WorkerPool(template.functions["HitsFunction"], env) for _ in range(4)]
    try:

        def hammer(pool: WorkerPool) -> None:
            for i in range(50):
                # A hot counter has many visitors: each visitor's hits go to one shard (so
                # each shard's unique visitors add up), and visitors spread over the shards.
                event = load_event("hits/get-root")
                event["requestContext"]["http"]["sourceIp"] = f"198.51.100.{i}"
                assert pool.invoke(event)["statusCode"] == 200

        with ThreadPoolExecutor(4) as executor:
            list(executor.map(hammer, pools))
        total = body_json(pools[0].invoke(load_event("hits/get-hits")))["hits"]
    finally:
        for pool in pools:
            pool.close()
    assert total == 200
    client = cluster.client()
    shard_values = [int(client.get(f"{{hits:{i}}}:count") or 0) for i in range(8)]
    assert sum(shard_values) == 200 and sum(1 for v in shard_values if v) >= 4  # spread, not one hot key
    nodes = {client.get_node_from_key(f"{{hits:{i}}}:count").name for i in range(8)}
    assert len(nodes) >= 2  # the shards live on more than one master


# --- SnapStart: nothing at init, connections dropped on restore -----------------------------------


def test_handlers_import_with_sockets_and_randomness_forbidden(template: Template, monkeypatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("opened a socket or drew an id at init")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("secrets.token_urlsafe", refuse)
    monkeypatch.setattr("secrets.randbelow", refuse)
    monkeypatch.setattr("uuid.uuid4", refuse)
    real_import = builtins.__import__
    for name, fn in template.functions.items():
        module = load_app(fn.code_dir, f"snapstart_{name}")  # INIT: must not touch the network or draw anything unique
        assert callable(module.lambda_handler)
    assert builtins.__import__ is real_import


def test_after_restore_drops_the_connections(function_modules, function_env, redis_url: str) -> None:
    import snapshot_restore_py

    assert runtime.reset in [
        hook[0] if isinstance(hook, tuple) else hook for hook in snapshot_restore_py._after_restore_registry
    ]
    function_env(REDIS_URL=redis_url)
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200
    with runtime.services().redis.use() as built:
        client: Any = built
    pool = client.connection_pool
    assert pool._available_connections
    for hook in snapshot_restore_py._after_restore_registry:
        func, args, kwargs = hook if isinstance(hook, tuple) else (hook, (), {})
        func(*args, **kwargs)
    assert all(c._sock is None for c in pool._available_connections)
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["body"] == "Hello World! 2 times."
    assert ROOT.is_dir()


@pytest.mark.parametrize("topology", ["standalone", "cluster"])
def test_connections_name_redis_py_and_its_version_without_a_metadata_scan(
    function_modules, function_env, redis_url: str, request: pytest.FixtureRequest, monkeypatch, topology: str
) -> None:
    """What CLIENT SETINFO says (Redis 7.2+ keeps it; older servers ignore it) is what redis-py
    would say, taken from redis.__version__: a new connection never scans sys.path for
    redis-py's package metadata (12 ms of a cold start's first connection)."""
    import redis

    def scan() -> str:
        raise AssertionError("redis-py looked its version up in the package metadata")

    if topology == "cluster":
        request.getfixturevalue("on_cluster")()
    else:
        function_env(REDIS_URL=redis_url)
    monkeypatch.setattr("redis.utils.get_lib_version", scan)
    assert call(function_modules, "HitsFunction", load_event("hits/get-root"))["statusCode"] == 200
    with runtime.services().redis.use() as built:
        client: Any = built
    pools = (
        [n.redis_connection.connection_pool for n in client.get_nodes()]
        if topology == "cluster"
        else [client.connection_pool]
    )
    connections = [c for pool in pools for c in pool._available_connections]
    assert connections, "the hit opened no connection"
    for connection in connections:
        assert (connection.driver_info.name, connection.driver_info.lib_version) == ("redis-py", redis.__version__)


def test_a_function_imports_only_the_stores_it_uses_and_the_snapshot_holds_them_all(template: Template) -> None:
    """Each store is imported on its first use (a cold start without SnapStart pays only its
    function's), and with SnapStart the before-snapshot hook imports them all, building
    nothing, so a restored environment pays no import. A fresh interpreter per function."""
    import subprocess
    import sys

    probe = (
        "import json, sys, socket\n"
        "from pathlib import Path\n"
        "def refuse(*a, **k): raise AssertionError('a socket before the snapshot')\n"
        "socket.socket.connect = refuse\n"
        "from localapi.modules import load_app\n"
        "load_app(Path(sys.argv[1]), 'app')\n"
        "stores = ['hitcounter.data.' + s for s in ('hit_store', 'page_store', 'session_store', 'import_store')]\n"
        "at_init = [s for s in stores if s in sys.modules]\n"
        "import snapshot_restore_py\n"
        "for hook in snapshot_restore_py._before_snapshot_registry:\n"
        "    func, args, kwargs = hook if isinstance(hook, tuple) else (hook, (), {})\n"
        "    func(*args, **kwargs)\n"
        "from hitcounter import runtime\n"
        "print(json.dumps({'init': at_init, 'snapshot': [s for s in stores if s in sys.modules],\n"
        "                  'built': runtime.services.cache_info().currsize}))\n"
    )
    seen = {}
    for name in ("HitsFunction", "SessionFunction"):
        fn = template.functions[name]
        env = {**fn.environment, "PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/shared/python'}"}
        command = [sys.executable, "-c", probe, str(fn.code_dir)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        seen[name] = json.loads(done.stdout.strip().splitlines()[-1])
    store = "hitcounter.data.{}".format
    assert store("page_store") not in seen["HitsFunction"]["init"]
    assert store("import_store") not in seen["HitsFunction"]["init"]
    assert seen["SessionFunction"]["init"] == [store("session_store")]
    for found in seen.values():
        assert found["built"] == 0  # nothing built, no socket: the snapshot holds modules only
        assert len(found["snapshot"]) == 4
