"""The cache user's ACL (template.yaml, CacheAppUser.AccessString) is least privilege and still
enough: every route and the import worker run as that user, on real redis-server processes
(standalone and a cluster), and the user can touch nothing outside the stage's key prefix."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import redis
from cfnlint.decode import cfn_yaml
from redis.exceptions import NoPermissionError

from devtools.accesslogs import generate
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import LocalS3
from tests.support.events import IMPORTS_BUCKET, ROOT
from tests.support.http import http, http_json, signed
from tests.support.keyspace import problems
from tests.support.servers import RedisCluster3, redis_server, wait_for

USER, PASSWORD = "hit-counter-dev-app", "acl-test-pw"


def access_rules(stage: str = "dev") -> list[str]:
    """The AccessString the template gives the app user, for a stage, as ACL SETUSER rules."""
    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    access = doc["Resources"]["CacheAppUser"]["Properties"]["AccessString"]
    params = sam_template.parameters(doc, {"Stage": stage})
    text = sam_template.resolve_deep(access, params)
    assert isinstance(text, str)
    return text.split()


def grant(admin: redis.Redis, rules: list[str]) -> None:
    admin.execute_command("ACL", "SETUSER", USER, "reset", *rules, f">{PASSWORD}")  # type: ignore[no-untyped-call]


def test_the_access_string_names_only_the_stage_prefix_and_no_dangerous_category() -> None:
    rules = access_rules("prod")
    assert [r for r in rules if r.startswith("~")] == ["~prod:*"]
    assert not [r for r in rules if r.startswith("&")]  # no pub/sub channels
    assert "+@all" not in rules and "-@dangerous" in rules and "+@scripting" not in rules


def _exercise(url: str, env: dict[str, str], template: sam_template.Template, scratch: Path, nodes: list[Any]) -> None:
    """Every route, and one import run by the worker, through the local server as the user;
    then every key it left (on ``nodes``, admin clients of every primary) is one the key table
    declares, with no more than its declared TTL."""
    api = Server(LocalApi(template, {"Parameters": {"REDIS_URL": url, "SCRATCH_DIR": str(scratch), **env}})).start()
    try:
        for expected in (1, 2):
            assert http("GET", f"{api.url}/")[2] == f"Hello World! {expected} times."
        status, _, body = http("GET", f"{api.url}/", {"Idempotency-Key": "acl-test"})
        assert (status, body) == (200, "Hello World! 3 times.")
        assert http("GET", f"{api.url}/", {"Idempotency-Key": "acl-test"})[2] == body
        assert http_json("GET", f"{api.url}/hits")[2] == {"hits": 3}
        assert http_json("GET", f"{api.url}/health/ready")[0] == 200
        status, headers, _ = http("POST", f"{api.url}/session")
        assert status == 201
        cookie = SimpleCookie(headers["Set-Cookie"])
        sid = {"Cookie": f"__Host-sid={cookie['__Host-sid'].value}"}
        assert http("GET", f"{api.url}/session", sid)[0] == 200
        assert http("DELETE", f"{api.url}/session", sid)[0] == 204
        status, _, accepted = http_json("POST", f"{api.url}/imports", {"key": "logs/acl.log.gz"})
        assert status == 202, accepted
        location = f"{api.url}/imports/{accepted['id']}"
        wait_for(lambda: http_json("GET", location)[2]["state"] in ("done", "failed"), timeout=30, what="the import")
        assert http_json("GET", location)[2]["state"] == "done"
        _walk_every_route(api.url)
    finally:
        api.stop()
    environment = {**template.functions["HitsFunction"].environment, **env}
    assert problems(nodes, env["KEY_PREFIX"], environment) == []


def _walk_every_route(base: str) -> None:
    """The contract's requests (signed: the public routes ignore it), then an export and its
    state: every route of the route table answered, none with a 5xx (a command the ACL
    refuses would be one)."""
    import re
    import urllib.error
    import urllib.request

    from tests.support.contract import CONTRACT
    from tests.support.routes import ROUTES

    patterns = {key: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(key[1])) + "$") for key in ROUTES}
    visited, failed, sid = set(), [], "none"
    requests = [*CONTRACT, ("POST", "/exports", {}, None)]
    for method, path, template_headers, body in requests:
        headers = {k: v.replace("{sid}", sid) for k, v in template_headers.items()}
        data = body.encode() if body is not None else None
        request = urllib.request.Request(
            f"{base}{path}", data=data, method=method, headers=signed(method, f"{base}{path}", headers, data)
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, cookies = response.status, response.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as err:
            status, cookies = err.code, err.headers.get_all("Set-Cookie") or []
        for cookie in cookies:
            if cookie.startswith("__Host-sid=") and "Max-Age=0" not in cookie:
                sid = cookie.split(";")[0].split("=", 1)[1]
        visited |= {key for key, pattern in patterns.items() if key[0] == method and pattern.match(path.split("?")[0])}
        if status >= 500:
            failed.append((method, path, status))
    assert failed == []
    assert visited == set(ROUTES), sorted(set(ROUTES) - visited)


@pytest.fixture(scope="module")
def acl_s3(local_s3: LocalS3) -> Iterator[LocalS3]:
    local_s3.client().put_object(Bucket=IMPORTS_BUCKET, Key="logs/acl.log.gz", Body=generate(200, seed=3).gzipped())
    yield local_s3


def _refused(client: Any, *command: str) -> None:
    with pytest.raises(NoPermissionError):
        client.execute_command(*command)


def test_every_route_and_an_import_run_as_the_app_user_on_standalone(
    template: sam_template.Template, acl_s3: LocalS3, scratch: Path
) -> None:
    with redis_server() as server:
        admin = server.client()
        grant(admin, access_rules("dev"))
        url = f"redis://{USER}:{PASSWORD}@127.0.0.1:{server.port}/0"
        for shards in ("1", "4"):
            admin.flushall()
            _exercise(url, {"KEY_PREFIX": "dev:", "HITS_SHARDS": shards, **acl_s3.env}, template, scratch, [admin])
        keys: list[str] = admin.keys("*")  # type: ignore[assignment]  # decode_responses=True
        assert keys and all(key.startswith("dev:") for key in keys)
        # What the user cannot do: another stage's keys, and the dangerous commands.
        user = redis.Redis.from_url(url, decode_responses=True)
        _refused(user, "GET", "prod:{hits}:count")
        _refused(user, "SET", "other", "1")
        dangerous = [("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*"), ("ACL", "LIST"), ("CLIENT", "LIST")]
        for command in [*dangerous, ("SCRIPT", "FLUSH")]:
            _refused(user, *command)
        _refused(user, "SUBSCRIBE", "news")
        # Scripts: EVALSHA of a loaded one only (no EVAL, no SCRIPT FLUSH), and a script cannot
        # reach past the prefix either.
        _refused(user, "EVAL", "return 1", "0")
        sha = user.script_load("return redis.call('GET', 'other')")
        with pytest.raises(redis.exceptions.ResponseError, match=r"can't access"):
            user.evalsha(sha, 0)


def test_the_functions_run_as_the_app_user_on_a_cluster(
    cluster: RedisCluster3, template: sam_template.Template, acl_s3: LocalS3, scratch: Path
) -> None:
    rules = access_rules("acl")
    for node in cluster.nodes:
        grant(node.client(), rules)
    try:
        url = f"redis://{USER}:{PASSWORD}@127.0.0.1:{cluster.nodes[0].port}/0"
        env = {"KEY_PREFIX": "acl:", "REDIS_MODE": "cluster", "REDIS_CLUSTER_SEEDS": cluster.seeds(), **acl_s3.env}
        _exercise(url, env, template, scratch, [node.client() for node in cluster.nodes])
    finally:
        for node in cluster.nodes:
            node.client().acl_deluser(USER)
            for key in node.client().keys("acl:*"):
                node.client().delete(key)
