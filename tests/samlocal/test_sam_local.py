"""The real `sam local`: the HTTP contract through `sam local start-api` (Docker, SAM's own
emulator, the stand-in image built offline) against `make dev`'s answers on the same Redis,
and every event in events/ through `sam local invoke`. Slow (minutes): `make test-sam` runs
it, `make test` does not. The recipe in the README is what this runs (devtools.samlocal)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import samlocal
from localapi.server import LocalApi, Server
from localapi.services import LocalS3, RedisServer, free_port, wait_for
from localapi.template import Template
from tests.support.contract import CONTRACT, CONTRACT_ENV, KNOWN_DIFFERENCES
from tests.support.events import EVENTS
from tests.support.http import signed

pytestmark = pytest.mark.samlocal

BUCKET = "hit-counter-dev-imports-123456789012-us-east-1"


class Stack:
    def __init__(self, url: str, redis: RedisServer, template: Path, image: str, env_json: Path, s3: LocalS3) -> None:
        self.url, self.redis, self.template, self.image, self.env_json = url, redis, template, image, env_json
        self.s3 = s3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("sam")
    with samlocal.docker_engine():
        image = samlocal.ensure_image(samlocal.host_arch())
        template = samlocal.build(work / "build", samlocal.host_arch())
        redis = samlocal.redis_for_containers().start()
        s3 = LocalS3(host=samlocal.bridge_gateway()).start()
        s3.client().create_bucket(Bucket=BUCKET)
        s3_for_containers = s3.url.replace(samlocal.bridge_gateway(), "host.docker.internal")
        env_json = samlocal.env_file(
            work / "env.json", redis.port, AWS_ENDPOINT_URL_S3=s3_for_containers, **CONTRACT_ENV
        )
        port = free_port()
        api = samlocal.start_api(template, image, env_json, port)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _status(f"{url}/health") == 200, timeout=180, what="sam local start-api")
            yield Stack(url, redis, template, image, env_json, s3)
        finally:
            samlocal.stop(api, image)
            s3.stop()
            redis.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def call(
    base: str, method: str, path: str, headers: dict[str, str], body: str | None
) -> tuple[tuple[int, str, str, list[str]], list[str]]:
    """The answer, normalised for comparison, and the raw Set-Cookie values."""
    data = body.encode() if body is not None else None
    # Signed with AWS IAM as an operator would: make dev enforces it on /imports, SAM ignores it.
    request = urllib.request.Request(
        f"{base}{path}", method=method, headers=signed(method, f"{base}{path}", headers, data), data=data
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, got, text = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        status, got, text = err.code, err.headers, err.read().decode()
    raw = got.get_all("Set-Cookie") or []
    text = re.sub(r'"redis_ms":[0-9.e-]+', '"redis_ms":0', text)
    cookies = [re.sub(r"__Host-sid=[A-Za-z0-9_-]{43}", "__Host-sid=<id>", c) for c in raw]
    return (status, (got.get("Content-Type") or "").split(";")[0], text, cookies), raw


def run(base: str, redis: RedisServer) -> list[tuple[int, str, str, list[str]]]:
    redis.client().flushall()
    answers, sid = [], "none"
    for method, path, template_headers, body in CONTRACT:
        headers = {k: v.replace("{sid}", sid) for k, v in template_headers.items()}
        answer, raw = call(base, method, path, headers, body)
        for cookie in raw:
            if cookie.startswith("__Host-sid=") and "Max-Age=0" not in cookie:
                sid = cookie.split(";")[0].split("=", 1)[1]
        answers.append(answer)
    return answers


def test_the_contract_through_sam_local_start_api_matches_make_dev(stack: Stack, template: Template) -> None:
    sam = run(stack.url, stack.redis)
    env = {"REDIS_URL": stack.redis.url, "KEY_PREFIX": "local:", **stack.s3.env, **CONTRACT_ENV}
    local = Server(LocalApi(template, {"Parameters": env})).start()
    try:
        ours = run(local.url, stack.redis)
    finally:
        local.stop()
    differences = [(request[:3], a[:3], b[:3]) for request, a, b in zip(CONTRACT, sam, ours, strict=True) if a != b]
    assert differences == [], "sam local start-api and make dev differ"
    assert [a[0] for a in sam][:4] == [200, 200, 200, 200] and sam[0][2] == "Hello World! 1 times."


def test_unknown_routes_are_the_one_listed_difference(stack: Stack) -> None:
    assert "unknown-route" in KNOWN_DIFFERENCES
    (status, _, body, _), _ = call(stack.url, "GET", "/no-such-route", {}, None)
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})


def test_every_http_event_through_sam_local_invoke(stack: Stack) -> None:
    expected = {
        "hits/get-root": 200,
        "hits/get-root-json": 200,
        "hits/get-hits": 401,  # STATS_ACCESS=token (CONTRACT_ENV), and no token in the event
        "hits/get-health": 200,
        "hits/get-health-ready": 200,
        "session/post-session": 201,
        "session/get-session": 401,
        "session/put-session": 401,
        "session/delete-session": 401,
        "imports/get-import": 404,
        "imports/get-export": 404,
        "imports/get-restore": 404,
        "imports/post-restore": 404,  # no such export in the bucket
        "docs/get-openapi": 200,
        "hits/get-page": 200,
        "hits/get-page-badge": 200,
        "hits/get-page-stats": 401,
        "hits/get-top-pages": 401,
        "hits/put-page-count": 409,  # after get-page above: the page already counts
    }
    functions = {
        "hits": "HitsFunction",
        "session": "SessionFunction",
        "imports": "ImportsFunction",
        "docs": "DocsFunction",
    }
    for name, status in expected.items():
        folder = name.split("/")[0]
        result: dict[str, Any] = samlocal.invoke(
            stack.template, stack.image, stack.env_json, functions[folder], EVENTS / f"{name}.json"
        )
        assert result["statusCode"] == status, (name, result)


def _cors(base: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(f"{base}{path}", method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, got = response.status, response.headers
    except urllib.error.HTTPError as err:
        status, got = err.code, err.headers
    return status, {k.lower(): v for k, v in got.items() if k.lower().startswith("access-control-allow-o")}


def test_cross_origin_reads_and_preflights_match_make_dev(stack: Stack, template: Template) -> None:
    origin = {"Origin": "https://blog.example.org"}
    preflight = origin | {"Access-Control-Request-Method": "GET"}
    env = {"REDIS_URL": stack.redis.url, "KEY_PREFIX": "local:", **stack.s3.env, **CONTRACT_ENV}
    local = Server(LocalApi(template, {"Parameters": env})).start()
    try:
        sam, ours = (_cors(base, "OPTIONS", "/pages/home", preflight) for base in (stack.url, local.url))
        assert "cors-preflight-status" in KNOWN_DIFFERENCES
        assert (sam[0], ours[0]) == (200, 204) and sam[1] == ours[1] == {"access-control-allow-origin": "*"}
        sam, ours = (_cors(base, "GET", "/pages/home", origin) for base in (stack.url, local.url))
        assert sam == ours == (200, {"access-control-allow-origin": "*"})
    finally:
        local.stop()
