"""Logging, metrics and (opt-in) tracing: the one place that owns them, and a leaf: it
imports nothing of this package. ``hitcounter.web.entry`` wraps every handler with them in
one decorator order. Tracer is imported only when ``ENABLE_TRACING`` is true: its import
costs hundreds of ms of cold start (powertools-lambda-python PR #301).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hit-counter")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TwelveFactorHits")
# Routes such as /health publish no metric by design; Powertools warns on every such flush.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Misconfigurations already logged as ERROR by this environment (hitcounter.web.contract): safe to
# lose, and forgotten by runtime.reset() with the rest of the environment's state.
reported_misconfigurations: set[str] = set()

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def tracing_enabled() -> bool:
    return os.environ.get("ENABLE_TRACING", "").strip().lower() in ("1", "true", "yes", "on")


def count_metric(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def traced(handler: Handler) -> Handler:
    """Wrap with Powertools Tracer, or say clearly why not. The X-Ray SDK is not in the
    dependency layer: it brings its own botocore (6 MB → 36 MB) for an opt-in feature. Lambda's
    own active tracing (the EnableTracing parameter) still records each invocation."""
    try:
        from aws_lambda_powertools.tracing import Tracer

        tracer = Tracer()
    except ImportError:
        logger.warning(
            "ENABLE_TRACING is true but aws-xray-sdk is not installed; add it to layers/deps/requirements.in "
            "for Powertools Tracer segments. Serving without them."
        )
        return handler
    traced: Handler = tracer.capture_lambda_handler(handler)
    return traced
