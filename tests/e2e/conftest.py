"""The end-to-end suite runs only against a deployed stack: AWS_SAM_STACK_NAME names it (and the
usual AWS credentials and region reach it). Without it every test is skipped, saying so."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.stack import stack_outputs

Call = Callable[..., tuple[int, dict[str, str], str]]


@pytest.fixture(scope="session")
def outputs() -> dict[str, str]:
    name = os.environ.get("AWS_SAM_STACK_NAME", "").strip()
    if not name:
        pytest.skip("AWS_SAM_STACK_NAME is not set: the end-to-end suite needs a deployed stack (make e2e)")
    return stack_outputs(name)


@pytest.fixture(scope="session")
def call(outputs: dict[str, str]) -> Call:
    """``call(method, path, headers=None, body=None, sign=False)`` against the stack's API."""
    base = outputs["ApiUrl"].rstrip("/")

    def send(
        method: str, path: str, headers: dict[str, str] | None = None, body: Any = None, sign: bool = False
    ) -> tuple[int, dict[str, str], str]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        if sign:
            hdrs = _signed(method, base + path, hdrs, data)
        request = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    return send


def _signed(method: str, url: str, headers: dict[str, str], data: bytes | None) -> dict[str, str]:
    """SigV4 for API Gateway (service execute-api) with the caller's own credentials."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.session.Session()
    region = url.split(".execute-api.")[1].split(".", maxsplit=1)[0]
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    credentials = session.get_credentials()
    assert credentials is not None, "no AWS credentials to sign the admin routes with"
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())
