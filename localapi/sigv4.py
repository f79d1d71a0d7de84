"""AWS IAM (SigV4) on the local server's routes, as an HTTP API's IAM authorizer enforces it.

``sam local start-api`` does not enforce IAM authorizers (aws-sam-cli#7750); this does. A
request to a route whose event says ``Auth: Authorizer: AWS_IAM`` must carry an
``Authorization: AWS4-HMAC-SHA256 …`` header for service ``execute-api``, signed with the
local credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` of the server's
environment, or the local default ``testing``/``testing``). The signature is recomputed with
botocore's own SigV4 code over the headers the client says it signed, and compared in
constant time. As API Gateway does, the payload's hash is the server's own (a signed
``x-amz-content-sha256: UNSIGNED-PAYLOAD``, or any hash but the body's, would let the body be
swapped), and a signature dated more than 5 minutes from now either way is refused. Anything
else gets API Gateway's ``403 {"message":"Forbidden"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


SKEW = timedelta(minutes=5)


def _fresh(amz_date: str, now: datetime | None) -> bool:
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return abs((now or datetime.now(UTC)) - signed_at) <= SKEW


def verify(  # noqa: PLR0917 - a request, who may sign it, and the clock
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Mapping[str, str],
    now: datetime | None = None,
) -> bool:
    """True when the request is signed for execute-api with one of ``credentials``
    (access key id → secret key), within 5 minutes of ``now``, over this very body."""
    found = _AUTH.fullmatch((headers.get("authorization") or "").strip())
    if found is None or found["service"] != "execute-api":
        return False
    secret = credentials.get(found["key"])
    amz_date = headers.get("x-amz-date") or ""
    if secret is None or not amz_date.startswith(found["date"]) or not _fresh(amz_date, now):
        return False
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and not hmac.compare_digest(claimed.lower(), hashlib.sha256(body).hexdigest()):
        return False
    signed = found["signed"].split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers.get(name, "") for name in signed})
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(
        Credentials(found["key"], secret, headers.get("x-amz-security-token")), "execute-api", found["region"]
    )
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, found["signature"])


def sign(  # noqa: PLR0917 - a request and who signs it
    method: str, url: str, headers: Mapping[str, str], body: bytes, key: str, secret: str, region: str = "us-east-1"
) -> dict[str, str]:
    """``headers`` plus what an IAM-signed call to execute-api carries (what ``curl --aws-sigv4``
    or an SDK adds): for the tests and the local tools."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(key, secret), "execute-api", region).add_auth(request)
    return dict(request.headers.items())
