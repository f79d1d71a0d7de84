"""The Lambda handlers' wiring: every function's handler is built here, so all share one
decorator order: the event guard, then Logger (correlation id = API Gateway's request id),
then Metrics (cold start captured, flushed after every invocation), then Tracer when
``ENABLE_TRACING`` is true."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitcounter.core.observability import Handler, logger, metrics, traced, tracing_enabled
from hitcounter.web.contract import malformed_event_response


def entrypoint(resolve: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Handler:
    """Wrap a resolver's ``resolve`` into a Lambda handler with the standard decorators; an
    event that is not an HTTP API request gets a 400 without reaching the resolver."""

    def guarded(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # API Gateway's request id, read as it is: the value Powertools' JMESPath
        # (correlation_paths.API_GATEWAY_HTTP) finds, for a fifth of its cost per request;
        # None for an event without one, so no log line carries an earlier request's id.
        request = event.get("requestContext") if isinstance(event, dict) else None
        logger.set_correlation_id(request.get("requestId") if isinstance(request, dict) else None)
        bad = malformed_event_response(event)
        if bad is not None:
            logger.warning("rejected a malformed event", extra={"event_type": type(event).__name__})
            return bad
        return resolve(event, context)

    return _decorated(guarded, None)


def event_entrypoint(handle: Handler) -> Handler:
    """The same decorators for a function that takes other events (S3, an asynchronous
    invoke); an event that is not a JSON object is refused."""

    def guarded(event: Any, context: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            logger.warning("rejected a malformed event", extra={"event_type": type(event).__name__})
            return {"error": "malformed_event"}
        return handle(event, context)

    return _decorated(guarded, None)


def _decorated(guarded: Handler, correlation_path: str | None) -> Handler:
    handler: Handler = guarded
    if tracing_enabled():
        handler = traced(handler)
    handler = metrics.log_metrics(handler, capture_cold_start_metric=True)
    handler = logger.inject_lambda_context(handler, correlation_id_path=correlation_path)
    return handler
