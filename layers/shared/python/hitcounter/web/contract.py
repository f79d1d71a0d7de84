"""The HTTP error contract, mapped in one place, and the shape of every JSON answer.

Every error response is ``{"error": {"code": ..., "message": ...}}`` with the right status.
Nothing a client can send produces a 500 or a stack trace; a 503 carries ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from hitcounter.core.errors import (
    AppError,
    BackendUnavailable,
    BadRequest,
    ConfigError,
    MethodNotAllowed,
    NotFound,
)
from hitcounter.core.observability import count_metric, logger
from hitcounter.core.settings import retry_after_seconds

# Misconfigurations already logged as ERROR by this environment (``log_unavailable``): safe
# to lose, and forgotten with the rest of the environment's state (``runtime.reset``).
reported_misconfigurations: set[str] = set()

# Cache-Control per route (Powertools' ``cache_control``, applied to 200s; any other status
# gets "no-cache"). What counts or changes must never be answered by a cache in front (a CDN
# would serve "Hello World! N times." and count nothing); the history is by the minute, so
# a cache may hold it briefly and take the reads off Redis.
NO_STORE = "no-store"
HISTORY_CACHE = "public, max-age=30"
# A browser must take a JSON or text answer for what its Content-Type says, never sniff it
# into HTML.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


# One compact encoder for every JSON answer: json.dumps with options builds a new one per call
# (1.3 µs an answer instead of 2.2).
_to_json = json.JSONEncoder(separators=(",", ":")).encode


def json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=_to_json(body),
        headers={**NOSNIFF, **(headers or {})},
    )


def error_body(err: AppError) -> dict[str, Any]:
    """The one shape of every error the API answers."""
    return {"error": {"code": err.code, "message": err.message}}


def error_response(err: AppError, retry_after: int = 1) -> Response[str]:
    headers: dict[str, str] = dict(err.headers)
    if isinstance(err, BackendUnavailable):
        headers["Retry-After"] = str(retry_after)
    if isinstance(err, MethodNotAllowed):
        headers["Allow"] = ", ".join(err.allowed)
    return json_response(err.status, error_body(err), headers)


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


def log_refused_badge(err: AppError) -> None:
    """A badge drawn with a dash instead of its number: logged as the error would be."""
    if isinstance(err, BackendUnavailable):
        log_unavailable(err)
    else:
        logger.warning("badge drawn without its number", extra={"error_code": err.code})


def _allowed_methods(app: APIGatewayHttpResolver, path: str) -> list[str]:
    # Powertools exposes no public route table; its Route objects carry the compiled rule.
    routes = getattr(app, "_static_routes", []) + getattr(app, "_dynamic_routes", [])
    return sorted({r.method for r in routes if r.rule.match(path)})


def _retry_after() -> int:
    """RETRY_AFTER_SECONDS, read on its own: a 503 must carry it even when the rest of the
    environment is what is broken."""
    try:
        return retry_after_seconds()
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
        "body": _to_json(error_body(err)),
        "isBase64Encoded": False,
    }
