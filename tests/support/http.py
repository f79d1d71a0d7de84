"""An HTTP client for the local servers, signing like an operator (SigV4 with the local
credentials) where asked: the import routes want it, the public ones ignore it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from localapi import sigv4

LOCAL_KEY, LOCAL_SECRET = "testing", "testing"


def person(n: int) -> dict[str, str]:
    """A browser's headers, a visitor of its own per ``n`` (its User-Agent ends in ``n``):
    page hits count only for people, once per visitor within DEDUPE_SECONDS, and a test
    that is not about reloads or bots sends these."""
    return {
        "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 test/{n}",
        "Accept-Language": "en-GB,en;q=0.8",
    }


def http(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def signed(method: str, url: str, headers: dict[str, str], data: bytes | None) -> dict[str, str]:
    """The headers of the same call signed with AWS IAM (SigV4) with the local credentials,
    as an operator's `curl --aws-sigv4` or an SDK would send it."""
    return sigv4.sign(method, url, headers, data or b"", LOCAL_KEY, LOCAL_SECRET)


def http_json(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """A JSON request, signed with the local credentials, and its parsed answer."""
    data = None if body is None else json.dumps(body).encode()
    headers = signed(method, url, {"Content-Type": "application/json"} if data is not None else {}, data)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def answers(url: str) -> bool:
    """True once a local API at ``url`` serves /health."""
    try:
        return http("GET", f"{url}/health")[0] == 200
    except OSError:
        return False


def http_from(
    source: str, method: str, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """``http`` from another loopback address (``127.0.0.x``): a client of its own to a local
    server, which takes the connection's address as API Gateway takes ``sourceIp``."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10,
                                            source_address=(source, 0))  # fmt: skip
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()
