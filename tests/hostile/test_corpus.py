"""Every reproduction of the hostile-input report, through the local server over real HTTP:
each gets its documented answer, nothing is stored that should not be, no stack trace is
logged, and no client input is echoed back or written raw to the terminal."""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import LocalS3
from tests.support.http import signed
from tests.support.servers import RedisServer, redis_server

pytestmark = pytest.mark.hostile


class Api:
    def __init__(self, server: Server, access_log: io.StringIO, function_log: Path) -> None:
        self.server, self.access_log, self.function_log = server, access_log, function_log
        self.port = server.port

    def call(
        self, method: str, path: str, headers: list[tuple[str, str | bytes]] | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = list(headers or [])
        if path.startswith("/imports"):  # an operator's route: signed with AWS IAM
            plain = {k: v if isinstance(v, str) else v.decode() for k, v in headers}
            url = f"http://127.0.0.1:{self.port}{path}"
            auth = signed(method, url, plain, body)
            headers += [(k, v) for k, v in auth.items() if k.lower() in ("authorization", "x-amz-date")]
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, text: str, cookie: str | None = None) -> tuple[int, Any]:
        headers: list[tuple[str, str | bytes]] = [("Content-Type", "application/json")]
        if cookie:
            headers.append(("Cookie", cookie))
        status, _, body = self.call(method, path, headers, text.encode("utf-8", "surrogatepass"))
        return status, json.loads(body) if body else None

    def new_session(self) -> str:
        status, headers, _ = self.call("POST", "/session")
        assert status == 201
        return headers["set-cookie"].split(";")[0]


@pytest.fixture(scope="module")
def api(template: sam_template.Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    s3 = LocalS3().start()
    s3.client().create_bucket(Bucket=template.functions["ImportsFunction"].environment["IMPORTS_BUCKET"])
    log_path = tmp_path_factory.mktemp("logs") / "functions.log"
    with redis_server() as redis, log_path.open("w") as function_log:
        access = io.StringIO()
        env = {"REDIS_URL": redis.url, "KEY_PREFIX": "", **s3.env}
        server = Server(LocalApi(template, {"Parameters": env}, function_log=function_log, access_log=access)).start()
        yield Api(server, access, log_path)
        server.stop()
    s3.stop()


@pytest.fixture(autouse=True)
def no_traceback_logged(api: Api) -> Iterator[None]:
    yield
    assert "Traceback" not in api.function_log.read_text()


DEEP = "[" * 20_000 + "]" * 20_000


def test_deep_nesting_is_a_400(api: Api) -> None:
    cookie = api.new_session()
    # 40 KB of brackets for the session; 10 KB for imports, whose body limit is 16 KiB (a
    # larger one is a 413 before it is read).
    for method, path, deep in (("PUT", "/session", DEEP), ("POST", "/imports", DEEP[:5000] + DEEP[-5000:])):
        status, body = api.json(method, path, deep, cookie)
        assert status == 400 and body["error"]["code"] == "bad_request"
        status, body = api.json(method, path, '{"a":' * 40 + "1" + "}" * 40, cookie)
        assert status == 400  # 40 levels: over the limit of 32, though Python could parse it


def test_a_lone_surrogate_in_an_import_key_is_a_422(api: Api) -> None:
    status, body = api.json("POST", "/imports", '{"key": "logs/\\udfff"}')
    assert status == 422 and body["error"]["code"] == "invalid_fields"


def test_nan_infinity_and_lone_surrogates_are_never_stored(api: Api) -> None:
    cookie = api.new_session()
    assert api.json("PUT", "/session", '{"keep": "me"}', cookie)[0] == 200
    for text, status in (
        ('{"x": NaN}', 400),
        ('{"x": Infinity}', 400),
        ('{"x": -Infinity}', 400),
        ('{"y": 1e999}', 422),
        ('{"s": "\\ud800"}', 422),
        ('{"\\udfff": 1}', 422),
    ):
        got, body = api.json("PUT", "/session", text, cookie)
        assert got == status, text
        assert set(body["error"]) == {"code", "message"}
    status, _, raw = api.call("GET", "/session", [("Cookie", cookie)])
    assert status == 200 and json.loads(raw)["data"] == {"keep": "me"}


def test_the_data_limit_counts_utf8_bytes(api: Api) -> None:
    cookie = api.new_session()
    fits = json.dumps({"t": "é" * 700}, ensure_ascii=False)  # 1,400 bytes of UTF-8 text
    assert api.json("PUT", "/session", fits, cookie)[0] == 200
    _, _, raw = api.call("GET", "/session", [("Cookie", cookie)])
    assert json.loads(raw)["data"] == {"t": "é" * 700}
    too_big = json.dumps({"t": "é" * 2100}, ensure_ascii=False)  # 4,200 bytes
    assert api.json("PUT", "/session", too_big, cookie)[0] == 413


def test_the_first_live_sid_wins_and_cookie_headers_join_as_browsers_do(api: Api) -> None:
    live = api.new_session()
    stale = "__Host-sid=" + "A" * 43  # well formed, unknown
    status, _, raw = api.call("GET", "/session", [("Cookie", f"{stale}; {live}")])
    assert status == 200 and json.loads(raw)["visits"] == 1
    status, _, raw = api.call("GET", "/session", [("Cookie", stale), ("Cookie", "theme=dark"), ("Cookie", live)])
    assert status == 200 and json.loads(raw)["visits"] == 2
    status, _, raw = api.call("GET", "/session", [("Cookie", stale)])
    assert status == 401


def test_nothing_a_client_sends_is_echoed_or_written_raw(api: Api) -> None:
    status, _, raw = api.call("GET", "/imports/%22%3Cscript%3E")
    assert status == 404
    body = json.loads(raw)
    assert "script" not in raw.decode() and "no route" not in body["error"]["message"]
    status, _, raw = api.call("GET", "/%1b[31mred%0aFAKE%20LOG%20LINE")
    assert status == 404 and b"FAKE" not in raw
    logged = api.access_log.getvalue()
    assert "\x1b" not in logged
    assert not any(line.startswith("FAKE") for line in logged.splitlines())
    assert "\\x1b[31mred\\nFAKE LOG LINE" in logged  # escaped, still readable


def test_idempotency_key_length_is_counted_in_characters(api: Api) -> None:
    euros = ("€" * 100).encode()  # 100 characters, 300 bytes of UTF-8
    first = api.call("GET", "/", [("Accept", "application/json"), ("Idempotency-Key", euros)])
    again = api.call("GET", "/", [("Accept", "application/json"), ("Idempotency-Key", euros)])
    assert first[0] == again[0] == 200
    assert json.loads(first[2]) == json.loads(again[2]) and again[1]["idempotent-replayed"] == "true"
    too_long = api.call("GET", "/", [("Idempotency-Key", ("€" * 256).encode())])
    assert too_long[0] == 400


def test_binary_or_bodies_that_are_not_utf8_are_400_not_500(api: Api) -> None:
    for path, method in (("/session", "PUT"), ("/imports", "POST")):
        cookie = api.new_session()
        status, _, raw = api.call(
            method, path, [("Content-Type", "application/json"), ("Cookie", cookie)], b"\xff\xfe{\x00}"
        )
        assert status == 400 and json.loads(raw)["error"]["code"] == "bad_request"


def test_every_answer_is_small(api: Api, shared_redis: RedisServer) -> None:
    del shared_redis
    status, _, raw = api.call("PUT", "/session", [("Content-Type", "application/json")], b"x" * (5 * 1024 * 1024))
    assert status == 413 and len(raw) < 512
