"""EdgeProtection against a deployed stack (skipped where the stack has no ``EdgeUrl``): what
make dev can only emulate (tests/test_edge.py), CloudFront and WAF themselves."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest

from tests.support.http import person

pytestmark = pytest.mark.e2e


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture(scope="module")
def edge(outputs: dict[str, str]) -> str:
    if "EdgeUrl" not in outputs:
        pytest.skip("the stack runs without EdgeProtection (no EdgeUrl output)")
    return outputs["EdgeUrl"].rstrip("/")


def test_a_read_only_badge_is_served_from_cloudfronts_cache(edge: str) -> None:
    url = f"{edge}/pages/e2e-edge-{uuid.uuid4().hex[:8]}/badge.svg?count=false&label=e2e"
    first = _get(url, person(1))
    again = _get(f"{url}&bust=1", person(2))  # not in the cache key
    assert first[0] == again[0] == 200 and first[1]["Content-Type"].startswith("image/svg+xml")
    assert "Hit from cloudfront" in again[1].get("X-Cache", ""), again[1]


@pytest.mark.writes
def test_a_spoofed_viewer_address_sent_straight_to_the_api_is_not_trusted(outputs: dict[str, str]) -> None:
    # Without the origin secret, CloudFront-Viewer-Address is anyone's header. Sixty-one hits
    # of one page straight to the API, each posing as another viewer: were the header trusted,
    # each would be a client of its own and all would count; it is not, so this one address
    # is limited at 60 a minute.
    api = outputs["ApiUrl"].rstrip("/")
    page = f"{api}/pages/e2e-edge-spoof-{uuid.uuid4().hex[:8]}"
    statuses = [
        _get(page, {**person(i), "CloudFront-Viewer-Address": f"192.0.2.{i}:443", "X-Origin-Verify": "guess" * 8})[0]
        for i in range(61)
    ]
    assert statuses.count(200) <= 60 and 429 in statuses


@pytest.mark.writes
def test_waf_stops_one_address_past_its_limit(edge: str) -> None:
    # EdgeRateLimit (100 in any 60 s) from this address: WAF answers 429 itself, in seconds
    # (it checks rates "frequently", not per request), and other readers are untouched.
    statuses = [_get(f"{edge}/health")[0] for _ in range(400)]
    assert 429 in statuses, statuses[-5:]
