"""The Docker-free local API: template routes over real HTTP, API Gateway's event and
response shapes, warm and recycle modes, live code reload, and `python -m localapi`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import redis
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from hitcounter.model.keys import page_slot
from localapi import sigv4
from localapi import template as sam_template
from localapi.server import LocalApi, Server, build_event, build_response
from localapi.template import Route
from tests.support.events import EVENTS, ROOT
from tests.support.http import http, person, signed
from tests.support.servers import redis_server, wait_for


@pytest.fixture(params=["warm", "recycle", "cluster", "tls", "acl"])
def api(request: pytest.FixtureRequest, template: sam_template.Template, redis_url: str) -> Iterator[Server]:
    """The local API in warm and recycle modes on standalone Redis, and (warm) on a
    three-master cluster, over verified TLS, and as an ACL user: the same HTTP tests must
    pass on each."""
    env = {"REDIS_URL": redis_url}
    if request.param == "cluster":
        cluster = request.getfixturevalue("cluster")
        cluster.flushall()
        env = {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster"}
    elif request.param == "tls":
        tls = request.getfixturevalue("tls_redis")
        tls.client().flushall()
        env = {"REDIS_URL": tls.tls_url, "REDIS_CA_FILE": tls.ca_file}
    elif request.param == "acl":
        acl = request.getfixturevalue("acl_redis")
        redis.Redis(port=acl.port, username="admin", password="admin-pw").flushall()
        env = {"REDIS_URL": f"redis://counter:c0unter-pw@127.0.0.1:{acl.port}/0"}
    app = LocalApi(template, {"Parameters": env}, recycle=request.param == "recycle")
    server = Server(app).start()
    yield server
    server.stop()


def test_routes_over_http(api: Server) -> None:
    assert http("GET", f"{api.url}/")[2] == "Hello World! 1 times."
    status, headers, body = http("GET", f"{api.url}/")
    assert (status, headers["Content-Type"], body) == (200, "text/plain", "Hello World! 2 times.")
    assert json.loads(http("GET", f"{api.url}/", {"Accept": "application/json"})[2]) == {"hits": 3}
    assert json.loads(http("GET", f"{api.url}/hits")[2]) == {"hits": 3}
    assert json.loads(http("GET", f"{api.url}/health")[2]) == {"status": "ok"}
    status, _, body = http("GET", f"{api.url}/health/ready")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_session_walk_through_over_http(api: Server) -> None:
    request = urllib.request.Request(f"{api.url}/session", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        set_cookie = response.headers["Set-Cookie"]
    sid = set_cookie.split(";")[0]
    assert {"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} <= {p.strip() for p in set_cookie.split(";")}
    jar = {"Cookie": f"theme=dark; {sid}"}
    assert json.loads(http("GET", f"{api.url}/session", jar)[2])["visits"] == 1
    assert json.loads(http("GET", f"{api.url}/session", jar)[2])["visits"] == 2
    put = urllib.request.Request(
        f"{api.url}/session", method="PUT", data=b'{"lang":"es"}', headers=jar | {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(put, timeout=10) as response:
        assert json.loads(response.read())["data"] == {"lang": "es"}
    status, headers, _ = http("DELETE", f"{api.url}/session", jar)
    assert status == 204 and "Max-Age=0" in headers["Set-Cookie"]
    assert http("GET", f"{api.url}/session", jar)[0] == 401


def test_unmatched_routes_get_api_gateways_404(api: Server) -> None:
    # HTTP API answers an unknown path, or a known path with another method, itself.
    for method, path in (("GET", "/nope"), ("POST", "/hits"), ("DELETE", "/"), ("PATCH", "/session")):
        status, _, body = http(method, f"{api.url}{path}")
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_concurrent_hits_over_http_are_all_distinct(api: Server) -> None:
    def hits(_: int) -> list[int]:
        return [json.loads(http("GET", f"{api.url}/", {"Accept": "application/json"})[2])["hits"] for _ in range(15)]

    with ThreadPoolExecutor(4) as pool:
        counts = [n for batch in pool.map(hits, range(4)) for n in batch]
    assert sorted(counts) == list(range(1, 61))


def test_redis_down_is_a_503_over_http(template: sam_template.Template) -> None:
    with redis_server() as server:
        app = LocalApi(template, {"Parameters": {"REDIS_URL": server.url}})
        api = Server(app).start()
        try:
            server.stop()
            status, headers, body = http("GET", f"{api.url}/")
            assert (status, headers["Retry-After"]) == (503, "1")
            assert json.loads(body)["error"]["code"] == "backend_unavailable"
            assert http("GET", f"{api.url}/health")[0] == 200
        finally:
            api.stop()


# --- event and response shapes -----------------------------------------------------------


FREE_FORM = ("headers", "queryStringParameters", "pathParameters")


def _shape(value: Any) -> Any:
    """Keys and types, recursively: what must match, whatever the values. Maps whose keys
    come from the request (headers, query, path parameters) compare as string → type."""
    if isinstance(value, dict):
        return {
            k: ({"*": sorted({_shape(x) for x in v.values()})} if k in FREE_FORM else _shape(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _our_event(**builder: Any) -> dict[str, Any]:
    request = Request(EnvironBuilder(**builder).get_environ())
    body = request.get_data()
    return build_event(request, Route("POST", "/items/{id}", "Fn", "E"), {"id": "42"}, body)


def test_event_has_the_shape_sam_generates() -> None:
    generated = json.loads(
        subprocess.run(
            [str(ROOT / ".venv/bin/sam"), "local", "generate-event", "apigateway", "http-api-proxy"],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        ).stdout
    )
    ours = _our_event(
        path="/items/42",
        method="POST",
        query_string="a=1&a=2&b=3",
        data=b"\x00\x01binary",
        headers={"Cookie": "c1=1; c2=2", "X-Multi": "one", "Content-Type": "application/octet-stream"},
    )
    # Present only when the API has an authorizer, mTLS or stage variables:
    for absent in ("authentication", "authorizer"):
        generated["requestContext"].pop(absent)
    generated.pop("stageVariables")
    assert _shape(ours) == _shape(generated)


def test_event_matches_the_committed_events() -> None:
    committed = json.loads((EVENTS / "hits/get-root.json").read_text())
    request = Request(EnvironBuilder(path="/", headers=[("Accept", "*/*")]).get_environ())
    ours = build_event(request, Route("GET", "/", "HitsFunction", "GetRoot"), {}, b"")
    assert _shape(ours) == _shape(committed)
    assert ours["routeKey"] == committed["routeKey"] == "GET /"


def test_event_details_follow_api_gateway() -> None:
    event = _our_event(
        path="/items/42",
        method="POST",
        query_string="a=1&a=2",
        data='{"x": "é"}',
        headers=[("X-Mixed-Case", "v"), ("Cookie", "sid=abc; theme=dark"), ("Content-Type", "application/json")],
    )
    assert event["headers"]["x-mixed-case"] == "v"  # names lower-cased
    assert "cookie" not in event["headers"] and event["cookies"] == ["sid=abc", "theme=dark"]
    assert event["queryStringParameters"] == {"a": "1,2"} and event["rawQueryString"] == "a=1&a=2"
    assert event["pathParameters"] == {"id": "42"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"x": "é"}', False)
    binary = _our_event(path="/items/42", method="POST", data=b"\xff\xfe", content_type="image/png")
    assert (base64.b64decode(binary["body"]), binary["isBase64Encoded"]) == (b"\xff\xfe", True)


def test_responses_are_mapped_like_api_gateway() -> None:
    response = build_response(
        {
            "statusCode": 201,
            "headers": {"X-A": "1"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00png").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status_code == 201
    assert response.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert response.get_data() == b"\x00png"
    inferred = build_response({"hello": "world"})  # no statusCode: a JSON body, 200
    assert (inferred.status_code, inferred.content_type, json.loads(inferred.get_data())) == (
        200,
        "application/json",
        {"hello": "world"},
    )


# --- the command, live reload -----------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the local API serves, safe to edit."""
    for name in ("template.yaml", "env.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "functions", tmp_path / "functions")
    shutil.copytree(ROOT / "layers", tmp_path / "layers")
    return tmp_path


def test_code_changes_are_live_without_restart(project: Path, redis_url: str) -> None:
    app = LocalApi(sam_template.load(project / "template.yaml"), {"Parameters": {"REDIS_URL": redis_url}})
    api = Server(app).start()
    try:
        assert http("GET", f"{api.url}/")[2] == "Hello World! 1 times."
        pool = app.pools["HitsFunction"]
        before = pool.generation
        source = project / "functions/hits/routers/site.py"  # GET /, in its resource's router
        changed = source.read_text().replace('f"Hello World! {hit.total} times."', 'f"Olá Mundo! {hit.total} vezes."')
        source.write_text(changed)
        os.utime(source, (source.stat().st_atime, source.stat().st_mtime + 5))
        wait_for(lambda: pool.generation > before, what="the change to be noticed")
        assert http("GET", f"{api.url}/")[2] == "Olá Mundo! 2 vezes."
    finally:
        api.stop()


# --- the import routes need AWS IAM, as the HTTP API's IAM authorizer requires ---------------


@pytest.fixture
def iam_api(template: sam_template.Template, redis_url: str, local_s3: Any) -> Iterator[Server]:
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url, **local_s3.env}})).start()
    yield server
    server.stop()


def test_import_routes_refuse_what_is_not_signed_by_the_local_credentials(iam_api: Server) -> None:
    url = f"{iam_api.url}/imports"
    body = json.dumps({"key": "logs/missing.log"}).encode()
    plain = {"Content-Type": "application/json"}

    def post(headers: dict[str, str], data: bytes = body) -> int:
        request = urllib.request.Request(url, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            assert err.code != 403 or json.loads(err.read()) == {"message": "Forbidden"}
            return err.code

    assert post(plain) == 403  # unsigned
    assert post(sigv4.sign("POST", url, plain, body, "testing", "not-the-secret")) == 403
    assert post(sigv4.sign("POST", url, plain, body, "someone-else", "testing")) == 403
    assert post(sigv4.sign("POST", url, plain, b'{"key": "logs/other.log"}', "testing", "testing")) == 403  # tampered
    assert post(sigv4.sign("POST", url, plain, body, "testing", "testing")) == 404  # signed: the function answers
    assert http("GET", f"{iam_api.url}/imports/{'0' * 32}")[0] == 403
    assert http("GET", f"{iam_api.url}/hits")[0] == 200  # public routes stay public


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readmes_signed_curl_call_works(iam_api: Server) -> None:
    done = subprocess.run(
        [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:execute-api",
            "--user", "testing:testing", f"{iam_api.url}/imports/{'0' * 32}",
        ],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert done.stdout == "404"  # signed, so the function answered: no such import


# --- as strict as API Gateway: the signature's clock and payload, the head's size, throttles ---


def _sign_at(url: str, body: bytes, when: datetime, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A POST signed as a client whose clock reads ``when`` would sign it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/json", **(extra or {})}
    )
    # botocore dates the signature by its own clock: this client's clock reads ``when``.
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _status(method: str, url: str, headers: dict[str, str], body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (timedelta(0), 404),  # signed now: the function answers (no such object)
        (timedelta(minutes=-4), 404),
        (timedelta(minutes=4), 404),
        (timedelta(minutes=-6), 403),
        (timedelta(minutes=6), 403),
        (timedelta(days=-2), 403),
        (timedelta(days=-400), 403),
        (timedelta(days=400), 403),
    ],
)
def test_a_signature_more_than_five_minutes_off_is_refused(iam_api: Server, offset: timedelta, status: int) -> None:
    url, body = f"{iam_api.url}/imports", b'{"key": "logs/missing.log"}'
    assert _status("POST", url, _sign_at(url, body, datetime.now(UTC) + offset), body) == status


def test_the_payload_hash_is_the_servers_own(iam_api: Server) -> None:
    url, body = f"{iam_api.url}/imports", b'{"key": "logs/missing.log"}'
    now = datetime.now(UTC)
    # A client that signs "UNSIGNED-PAYLOAD" could have its body swapped: API Gateway hashes
    # the body itself, so such a signature never matches.
    unsigned = _sign_at(url, body, now, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert _status("POST", url, unsigned, b'{"key": "logs/other.log"}') == 403
    assert _status("POST", url, unsigned, body) == 403
    # The body's real hash, signed, is fine.
    hashed = _sign_at(url, body, now, {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert _status("POST", url, hashed, body) == 404


def test_a_head_past_http_apis_quota_is_refused_before_any_function(iam_api: Server) -> None:
    assert http("GET", f"{iam_api.url}/hits", {"X-Pad": "a" * 9_000})[0] == 200
    status, _, body = http("GET", f"{iam_api.url}/hits", {"X-Pad": "a" * 10_300})
    assert (status, json.loads(body)) == (431, {"message": "Request Header Fields Too Large"})
    assert json.loads(http("GET", f"{iam_api.url}/hits")[2]) == {"hits": 0}  # nothing reached Redis


def test_make_devs_route_throttles_answer_429_per_route_as_the_stage_does(
    template: sam_template.Template, redis_url: str
) -> None:
    # Given the template's route settings enforced (make dev does): /hits has the default
    # 10/s with a burst of 20, GET / its own 100/s with a burst of 200
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}}, throttle=True)).start()
    try:
        burst = template.default_throttle
        assert burst is not None
        # When one client sends far more than the burst to /hits at once
        statuses = [http("GET", f"{server.url}/hits")[0] for _ in range(burst.burst + 15)]
        # Then past the burst (plus what refilled meanwhile) API Gateway's 429 answers
        assert statuses.count(200) >= burst.burst and 429 in statuses
        status, _, body = http("GET", f"{server.url}/hits")
        if status == 429:
            assert json.loads(body) == {"message": "Too Many Requests"}
        # And another route's bucket is its own: GET / still counts
        assert http("GET", f"{server.url}/")[0] == 200
    finally:
        server.stop()


def test_cross_origin_reads_and_preflights_as_the_http_api_answers_them(iam_api: Server) -> None:
    origin = {"Origin": "https://blog.example.org"}
    # A preflight is API Gateway's own answer: 204, no function invoked.
    status, headers, body = http(
        "OPTIONS",
        f"{iam_api.url}/pages/home",
        origin | {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "idempotency-key"},
    )
    assert (status, body) == (204, "")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET"
    assert "idempotency-key" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in headers
    # A method the configuration does not allow gets no CORS headers (the browser refuses).
    status, headers, _ = http(
        "OPTIONS", f"{iam_api.url}/pages/home", origin | {"Access-Control-Request-Method": "DELETE"}
    )
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
    # The answer itself carries the origin rule, for any route; without Origin, nothing.
    status, headers, _ = http("GET", f"{iam_api.url}/pages/home", origin)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert "idempotent-replayed" in headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in http("GET", f"{iam_api.url}/pages/home")[1]


def test_a_starting_count_needs_an_operators_signature(iam_api: Server) -> None:
    url = f"{iam_api.url}/pages/from-elsewhere/count"
    body = json.dumps({"hits": 777}).encode()
    plain = {"Content-Type": "application/json"}
    assert _status("PUT", url, plain, body) == 403  # unsigned: API Gateway's IAM authorizer refuses
    assert _status("PUT", url, signed("PUT", url, plain, body), body) == 201
    answer = http("GET", f"{iam_api.url}/pages/from-elsewhere", {**person(1), "Accept": "application/json"})
    assert json.loads(answer[2])["hits"] == 778


def test_make_dev_counts_a_page_as_the_stack_would_reloads_bots_and_the_client_limit(iam_api: Server) -> None:
    # One client (this test's loopback address), as a browser: the first view counts, its
    # reload does not, a crawler does not, and past 60 counted hits a minute a 429 says when.
    # The window is the UTC minute of the server's clock: start in a minute with room left.
    while time.time() % 60 > 50:
        time.sleep(0.2)
    url = f"{iam_api.url}/pages/over-http"
    first = http("GET", url, person(0))
    assert json.loads(first[2])["hits"] == 1 and first[1]["RateLimit-Remaining"] == "59"
    assert json.loads(http("GET", url, person(0))[2])["hits"] == 1  # a reload
    assert json.loads(http("GET", url, {"User-Agent": "Googlebot/2.1"})[2])["hits"] == 1
    statuses = [http("GET", url, person(i))[0] for i in range(1, 80)]
    assert statuses.count(200) == 59 and statuses.count(429) == 20, statuses
    status, headers, body = http("GET", url, person(99))
    assert status == 429 and json.loads(body)["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 60 and headers["RateLimit-Remaining"] == "0"
    badge = http("GET", f"{url}/badge.svg", person(100))
    assert badge[0] == 200 and badge[1]["Content-Type"].startswith("image/svg+xml")
    stats = json.loads(http("GET", f"{url}/stats")[2])
    assert stats["bots"] == {"total": 1, "by_reason": {"crawler": 1}}


def test_concurrent_requests_from_one_client_count_at_most_the_limit_and_a_visitor_once(iam_api: Server) -> None:
    # The window and the reload record live in the hit's one script: however the requests
    # interleave across make dev's worker processes, exactly the limit counts, and one
    # visitor's burst counts once.
    while time.time() % 60 > 45:  # the window is the server clock's UTC minute: room for the burst
        time.sleep(0.2)
    url = f"{iam_api.url}/pages/concurrent"
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda i: http("GET", url, person(i)), range(100)))
    statuses = [status for status, _, _ in answers]
    counted = sorted(json.loads(body)["hits"] for status, _, body in answers if status == 200)
    assert statuses.count(200) == 60 and statuses.count(429) == 40
    assert counted == list(range(1, 61))  # each counted hit saw its own N
    # Another page slot: a window of its own (the limit is per client and slot).
    assert page_slot("one-visitor") != page_slot("concurrent")
    with ThreadPoolExecutor(max_workers=16) as pool:
        same = list(pool.map(lambda _: http("GET", f"{iam_api.url}/pages/one-visitor", person(0)), range(20)))
    assert {json.loads(body)["hits"] for _, _, body in same} == {1}
