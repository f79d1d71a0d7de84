"""HTTP side of the shared code: the error contract, mapped in one place.

Every error response is ``{"error": {"code": ..., "message": ...}}`` with the right status.
Nothing a client can send produces a 500 or a stack trace; a 503 carries ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from hitcounter import history
from hitcounter.errors import (
    AppError,
    BackendUnavailable,
    BadRequest,
    ConfigError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from hitcounter.history import Visit
from hitcounter.observability import count_metric, logger, reported_misconfigurations
from hitcounter.runtime import services

# Cache-Control per route (Powertools' ``cache_control``, applied to 200s; any other status
# gets "no-cache"). What counts or changes must never be answered by a cache in front (a CDN
# would serve "Hello World! N times." and count nothing); the history is by the minute, so
# a cache may hold it briefly and take the reads off Redis.
NO_STORE = "no-store"
HISTORY_CACHE = "public, max-age=30"
# A browser must take a JSON or text answer for what its Content-Type says, never sniff it
# into HTML.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={**NOSNIFF, **(headers or {})},
    )


def error_body(err: AppError) -> dict[str, Any]:
    """The one shape of every error the API answers."""
    return {"error": {"code": err.code, "message": err.message}}


def error_response(err: AppError, retry_after: int = 1) -> Response[str]:
    headers: dict[str, str] = {}
    if isinstance(err, BackendUnavailable):
        headers["Retry-After"] = str(retry_after)
    if isinstance(err, MethodNotAllowed):
        headers["Allow"] = ", ".join(err.allowed)
    return json_response(err.status, error_body(err), headers)


MAX_JSON_DEPTH = 32
# JSON strings (with their escapes) taken out before brackets are counted for the depth check.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, found without parsing (so a 40 KB body of
    brackets costs a scan, not a RecursionError deep inside the json module)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def json_body(event: BaseProxyEvent, max_bytes: int) -> Any:
    """The one JSON body reader of every route. Refuses, with the documented status and
    without echoing anything back:

    * 415 when the body is not ``application/json``;
    * 413 when it is larger than ``max_bytes`` of UTF-8 (before it is parsed);
    * 400 when it does not decode (bad base64, not UTF-8, not JSON, ``NaN``/``Infinity``,
      which Python's json accepts and no other parser does) or nests deeper than
      ``MAX_JSON_DEPTH``;
    * 422 when it is JSON whose content cannot be kept: a number too large to be finite
      (``1e999``), or a string with a lone surrogate (``"\\ud800"``), which no UTF-8 store
      or S3 key can hold.
    """
    media = (headers(event).get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType()
    raw = event.body or ""
    if len(raw) > max_bytes * 2:  # base64 or not, far too large: not even decoded
        raise PayloadTooLarge()
    try:
        data = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode("utf-8")
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
        text = data.decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise BadRequest("the body is not valid JSON") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:  # a float that overflowed to infinity
        raise Unprocessable("numbers must be finite") from None
    except UnicodeEncodeError:
        raise Unprocessable("strings must be valid Unicode (no lone surrogates)") from None
    return value


def utf8_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: what a limit on stored JSON counts."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def headers(event: BaseProxyEvent) -> Mapping[str, str]:
    """The request headers, looked up case-insensitively: API Gateway lower-cases the names,
    ``sam local start-api`` keeps the client's case (``Accept``). Powertools' own mapping
    lower-cases them; every lookup here uses lower-case names."""
    return event.headers


def request_time_ms(event: BaseProxyEvent) -> int:
    """The request's own time (``requestContext.timeEpoch``, ms): what the hit history
    buckets by, so any process gives the same answer. Events without it (hand-made ones)
    fall back to this process's clock."""
    epoch = (event.get("requestContext") or {}).get("timeEpoch")
    if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 < epoch < 2**53:
        # `sam local start-api` sends seconds (API Gateway sends milliseconds); as
        # milliseconds, a value below 10^11 would be before March 1973.
        return epoch * 1000 if epoch < 10**11 else epoch
    return time.time_ns() // 1_000_000


def period(event: BaseProxyEvent) -> history.Period:
    """``?period=`` of /stats and /dashboard: one of history.PERIODS, 30d when absent."""
    params = event.get("queryStringParameters") or {}
    name = params.get("period", history.DEFAULT_PERIOD) if isinstance(params, dict) else history.DEFAULT_PERIOD
    if name not in history.PERIODS:
        raise BadRequest(f"period must be one of {', '.join(history.PERIODS)}")
    return history.PERIODS[name]


def visit(event: BaseProxyEvent) -> Visit:
    """When and who, for the hit history: the request's time, and the digest of its source IP
    and User-Agent (hitcounter.history; neither is kept or logged)."""
    context = event.get("requestContext") or {}
    source_ip = str((context.get("http") or {}).get("sourceIp") or "")
    agent = headers(event).get("user-agent") or ""
    who = history.visitor_key(source_ip, agent) if (source_ip or agent) else ""
    return Visit(request_time_ms(event), who)


def wants_json(request_headers: Mapping[str, str]) -> bool:
    """True when the Accept header prefers JSON over text (``*/*`` and no header mean text)."""
    accept = request_headers.get("accept") or ""
    best, best_q = "", -1.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        specific = media not in ("*/*", "")
        if q > best_q or (q == best_q and specific and best in ("*/*", "")):
            best, best_q = media, q
    return best_q > 0 and best in ("application/json", "application/*")


def idempotency_key(request_headers: Mapping[str, str]) -> str | None:
    """The request's ``Idempotency-Key``, None when absent; BadRequest when unusable."""
    key = request_headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > 255 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise BadRequest("Idempotency-Key must be 1-255 characters without control characters")
    return key


def log_unavailable(err: BackendUnavailable) -> None:
    """A backing service failed. The log carries a fixed cause category (never the library's
    message: it can name hosts, keys or commands); each failed request is an ERROR. A cause that
    no retry fixes (a certificate that does not verify, refused credentials, a standalone
    client on a cluster) is logged once per environment as an ERROR naming it a
    misconfiguration, then as a WARNING per request, so it does not bury other errors."""
    extra = {"error_code": err.code, "cause": err.cause, "exception": type(err.__cause__).__name__}
    # One metric per 503: the alarm that rolls a release back (template.yaml) watches it.
    count_metric("BackendUnavailable")
    if err.permanent and err.cause not in reported_misconfigurations:
        reported_misconfigurations.add(err.cause)
        logger.error(f"misconfiguration: {err.cause}; no retry will fix it, check the Redis settings", extra=extra)
    elif err.permanent:
        logger.warning(f"backing service refused us: {err.cause} (misconfiguration)", extra=extra)
    else:
        logger.error(f"backing service unavailable: {err.cause}", extra=extra)


def _allowed_methods(app: APIGatewayHttpResolver, path: str) -> list[str]:
    # Powertools exposes no public route table; its Route objects carry the compiled rule.
    routes = getattr(app, "_static_routes", []) + getattr(app, "_dynamic_routes", [])
    return sorted({r.method for r in routes if r.rule.match(path)})


def _retry_after() -> int:
    try:
        return services().settings.retry_after_seconds
    except ConfigError:
        return 1


def install(app: APIGatewayHttpResolver) -> None:
    """Register the error contract on a resolver: typed errors, 404/405, and a last resort."""

    @app.exception_handler(AppError)
    def _app_error(err: AppError) -> Response[str]:
        if isinstance(err, BackendUnavailable):
            log_unavailable(err)
        elif err.status >= 500:
            # The cause (a redis/botocore error class, or the bad variable) is logged, never
            # returned; redis-py's message text is left out as it can name the host.
            cause = type(err.__cause__).__name__ if err.__cause__ else None
            logger.error(str(err), extra={"error_code": err.code, "cause": cause})
        return error_response(err, _retry_after() if isinstance(err, BackendUnavailable) else 1)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        event = app.current_event
        allowed = _allowed_methods(app, event.path)
        if allowed and event.http_method.upper() not in allowed:
            return error_response(MethodNotAllowed(allowed))
        # Never the path itself: it is client input. A route API Gateway matched (its routeKey
        # names it) whose parameter the resolver's pattern refused is a missing resource.
        route_key = str(event.raw_event.get("routeKey") or "$default")
        return error_response(NotFound("no such resource" if route_key != "$default" else "no such route"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # A bug, not bad input: log it with its trace for the operator, answer generically.
        logger.exception("unhandled error")
        return error_response(AppError())


def malformed_event_response(event: object) -> dict[str, Any] | None:
    """An API Gateway v2 proxy response for an event that is not an HTTP API v2 event."""
    if (
        isinstance(event, dict)
        and isinstance(event.get("requestContext"), dict)
        and isinstance(event["requestContext"].get("http"), dict)
        and isinstance(event.get("rawPath"), str)
    ):
        return None
    err = BadRequest("the event is not an API Gateway HTTP API (payload 2.0) request")
    return {
        "statusCode": err.status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(error_body(err), separators=(",", ":")),
        "isBase64Encoded": False,
    }
