"""Private statistics (``STATS_ACCESS=token``, docs/operating.md) through ``make dev``'s local
API: the reads answer 401 without one of the owner's tokens and 200 with it (a header or a
share link, which the dashboard's links keep); counting, badges and count.js stay public."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator

import pytest

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.http import http, person

TOKEN = "owner-token-123"
ACCESS_LOG = io.StringIO()
READS = ["/hits", "/stats", "/stats?path=%2Fa%2F", "/pages", "/pages/home/stats", "/dashboard", "/dashboard?page=home"]


@pytest.fixture
def private_api(template: sam_template.Template, redis_url: str) -> Iterator[Server]:
    env = {
        "REDIS_URL": redis_url,
        "STATS_ACCESS": "token",
        "STATS_TOKEN_SHA256": hashlib.sha256(TOKEN.encode()).hexdigest(),
    }
    server = Server(LocalApi(template, {"Parameters": env}, access_log=ACCESS_LOG)).start()
    yield server
    server.stop()


def test_the_reads_need_the_owners_token_and_counting_stays_public(private_api: Server) -> None:
    url = private_api.url
    assert http("GET", f"{url}/pages/home", person(1))[0] == 200
    assert http("GET", f"{url}/count?path=%2Fa%2F", person(2))[0] == 200
    assert http("GET", f"{url}/", person(3))[0] == 200
    assert http("GET", f"{url}/pages/home/badge.svg", person(4))[0] == 200
    assert http("GET", f"{url}/count.js")[0] == 200
    for read in READS:
        status, _, body = http("GET", f"{url}{read}")
        assert status == 401 and json.loads(body)["error"]["code"] == "token_required", read
        assert TOKEN not in body
        assert http("GET", f"{url}{read}", {"Authorization": "Bearer wrong"})[0] == 401, read
        assert http("GET", f"{url}{read}", {"Authorization": f"Bearer {TOKEN}"})[0] == 200, read
        joined = "&" if "?" in read else "?"
        assert http("GET", f"{url}{read}{joined}token={TOKEN}")[0] == 200, read
    status, _, page = http("GET", f"{url}/dashboard?token={TOKEN}")
    assert status == 200 and f"period=30d&amp;token={TOKEN}" in page  # its links keep the share link
    logged = ACCESS_LOG.getvalue()
    assert "/dashboard?token=[redacted]" in logged and TOKEN not in logged  # make dev's log keeps no token
