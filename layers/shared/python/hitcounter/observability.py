"""Logging, metrics and (opt-in) tracing: the one place that owns them.

Every function's handler is built by ``entrypoint`` so all share one decorator order:
event guard, then Logger (correlation id = API Gateway request id), then Metrics (cold
start captured, flushed after every invocation), then Tracer when ``ENABLE_TRACING`` is true.
Tracer is imported only then: its import costs hundreds of ms of cold start
(powertools-lambda-python PR #301).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hit-counter")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TwelveFactorHits")
# Routes such as /health publish no metric by design; Powertools warns on every such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Misconfigurations already logged as ERROR by this environment (hitcounter.http): safe to
# lose, and forgotten by runtime.reset() with the rest of the environment's state.
reported_misconfigurations: set[str] = set()

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def tracing_enabled() -> bool:
    return os.environ.get("ENABLE_TRACING", "").strip().lower() in ("1", "true", "yes", "on")


def count_metric(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _traced(handler: Handler) -> Handler:
    """Wrap with Powertools Tracer, or say clearly why not. The X-Ray SDK is not in the
    dependency layer: it brings its own botocore (6 MB → 36 MB) for an opt-in feature. Lambda's
    own active tracing (the EnableTracing parameter) still records each invocation."""
    try:
        from aws_lambda_powertools.tracing import Tracer

        tracer = Tracer()
    except ImportError:
        logger.warning(
            "ENABLE_TRACING is true but aws-xray-sdk is not installed; add it to layers/deps/requirements.txt "
            "for Powertools Tracer segments. Serving without them."
        )
        return handler
    traced: Handler = tracer.capture_lambda_handler(handler)
    return traced


def entrypoint(resolve: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Handler:
    """Wrap a resolver's ``resolve`` into a Lambda handler with the standard decorators; an
    event that is not an HTTP API request gets a 400 without reaching the resolver."""
    from hitcounter.http import malformed_event_response

    def guarded(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bad = malformed_event_response(event)
        if bad is not None:
            logger.warning("rejected a malformed event", extra={"event_type": type(event).__name__})
            return bad
        return resolve(event, context)

    return _decorated(guarded, correlation_paths.API_GATEWAY_HTTP)


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
        handler = _traced(handler)
    handler = metrics.log_metrics(handler, capture_cold_start_metric=True)
    handler = logger.inject_lambda_context(handler, correlation_id_path=correlation_path)
    return handler
