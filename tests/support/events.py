"""Events from ``events/`` and the handler invoked with them, as Lambda would."""

from __future__ import annotations

import copy
import itertools
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from localapi.worker import LambdaContext

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "events"
IMPORTS_BUCKET = "hit-counter-dev-imports-123456789012-us-east-1"

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """An event from events/ (e.g. ``hits/get-root``), with a fresh request id."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event = copy.deepcopy(event)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event.update(changes)
    return event


def context(request_id: str = "r", budget_ms: int = 10_000) -> LambdaContext:
    """A Lambda context whose invocation has ``budget_ms`` left."""
    return LambdaContext(request_id, int(time.time() * 1000) + budget_ms)


def invoker(module: ModuleType, budget_ms: int = 10_000) -> Invoke:
    """Call a function module's handler as Lambda would: the event and a fresh context."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId") or uuid.uuid4().hex
        result: dict[str, Any] = module.lambda_handler(event, context(request_id, budget_ms))
        return result

    return invoke


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, whatever the case of its name."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def body_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def hit(at_ms: int, ip: str = "203.0.113.7", agent: str = "curl/8.5.0", key: str | None = None) -> dict[str, Any]:
    """``GET /`` (JSON) at a chosen instant, from a chosen visitor."""
    event = load_event("hits/get-root-json")
    event["requestContext"]["timeEpoch"] = at_ms
    event["requestContext"]["http"]["sourceIp"] = ip
    event["headers"]["user-agent"] = agent
    if key is not None:
        event["headers"]["idempotency-key"] = key
    return event


def stats_event(at_ms: int, period: str | None = None, path: str = "/stats") -> dict[str, Any]:
    """``GET /stats`` (or ``/dashboard``) at a chosen instant, for a period."""
    event = load_event("hits/get-stats")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
    event["requestContext"]["timeEpoch"] = at_ms
    event["queryStringParameters"] = {"period": period} if period else None
    event["rawQueryString"] = f"period={period}" if period else ""
    return event


def import_job(s3: Any, key: str) -> dict[str, Any]:
    """The event POST /imports hands the worker, for the object as it is now."""
    from hitcounter.logic.imports import import_id

    etag = s3.head_object(Bucket=IMPORTS_BUCKET, Key=key)["ETag"].strip('"')
    return {"import": {"id": import_id(IMPORTS_BUCKET, key, etag), "key": key, "etag": etag}}


def post_import(key: Any, **changes: Any) -> dict[str, Any]:
    event = load_event("imports/post-import")
    event["body"] = json.dumps({"key": key})
    event.update(changes)
    return event


def get_import(import_id: str) -> dict[str, Any]:
    event = load_event("imports/get-import")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/imports/{import_id}"
    event["pathParameters"] = {"id": import_id}
    return event


_CLIENTS = itertools.count(1)


def _client_address(n: int) -> str:
    """The ``n``-th client: an IPv6 address in a /64 of its own (the per-client limit counts
    an IPv6 client by its /64), from the documentation prefix 2001:db8::/32."""
    return f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1"


def page_event(
    page: str, route: str = "", query: dict[str, str] | None = None, source_ip: str | None = None, **headers: str
) -> dict[str, Any]:
    """The event of the page route ``GET /pages/{page}<route>`` (``route`` "", "/badge.svg",
    "/stats", …: its event is the route table's) for ``page``, as API Gateway builds it
    whatever the id (the route matches any one path segment), from a browser (its User-Agent
    and Accept-Language). Each event comes from a client of its own (a fresh documentation
    address, IPv6 so they never run out) unless ``source_ip`` names one: a test of counting is
    not a test of reloads or of the per-client limit."""
    from tests.support.routes import ROUTES

    event = load_event(ROUTES["GET", f"/pages/{{page}}{route}"].event)
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/pages/{page}{route}"
    event["pathParameters"] = {"page": page}
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["requestContext"]["http"]["sourceIp"] = source_ip or _client_address(next(_CLIENTS))
    event["headers"].update({k.replace("_", "-"): v for k, v in headers.items()})
    return event


def path_event(
    path: str, route: str = "/count", query: dict[str, str] | None = None, source_ip: str | None = None, **headers: str
) -> dict[str, Any]:
    """The event of a path route (``/count``, ``/badge.svg``, ``/stats``) for the page named by
    ``path`` (sent as it is: API Gateway hands the function the decoded query string), from a
    browser of its own, as ``page_event``."""
    from urllib.parse import urlencode

    from tests.support.routes import ROUTES

    event = load_event(ROUTES["GET", route].event)
    params = {"path": path, **(query or {})}
    event["rawPath"] = event["requestContext"]["http"]["path"] = route
    event["queryStringParameters"] = params
    event["rawQueryString"] = urlencode(params, errors="surrogatepass")
    event.pop("pathParameters", None)
    event["requestContext"]["http"]["sourceIp"] = source_ip or _client_address(next(_CLIENTS))
    event["headers"].update({k.replace("_", "-"): v for k, v in headers.items()})
    return event
