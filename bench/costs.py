"""What a million hits cost, all in, from what ``make bench`` measured, and the ceiling the
defaults set: prices and the conversions in one place, each with where it comes from."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from bench.common import ROOT

# us-east-1 list prices, as published on each service's pricing page (read 2026-11-24; check
# them again before relying on them).
PRICE_DATE = "2026-11-24"
HTTP_API_PER_MILLION_USD = 1.00  # the first 300 million requests a month
LAMBDA_REQUESTS_PER_MILLION_USD = 0.20
LAMBDA_ARM64_GB_SECOND_USD = 0.0000133334
LOGS_INGESTION_PER_GB_USD = 0.50  # CloudWatch Logs, standard class
ECPU_PER_MILLION_USD = {"valkey": 0.0023, "redis": 0.0034}
STORAGE_GB_HOUR_USD = {"valkey": 0.084, "redis": 0.125}
STORAGE_MINIMUM_GB = {"valkey": 0.1, "redis": 1.0}  # what ElastiCache Serverless bills at least
HOURS_A_MONTH = 730
# ECPUs: AWS publishes no conversion for scripts. The rule used (AWS's own estimator, in
# aws/agent-toolkit-for-aws): about 1 ECPU per 3 µs of server CPU, at least 1 per command;
# a request and answer under 1 KB add no more (1 ECPU per KB transferred).
MICROSECONDS_PER_ECPU = 3.0
# Each log event is counted with 26 bytes of metadata (CloudWatch Logs' PutLogEvents sizing);
# counted here so the figure does not flatter.
LOG_EVENT_OVERHEAD_BYTES = 26
# A counted GET /'s values for the access log's fields (an IPv6 client writes up to 25 more).
SAMPLE_ACCESS_VALUES = {
    "$context.requestId": "Vq1bZj2dliAEJZC=",
    "$context.identity.sourceIp": "203.0.113.7",
    "$context.routeKey": "GET /",
    "$context.status": "200",
    "$context.responseLatency": "12",
    "$context.integrationErrorMessage": "-",
    "$context.requestTimeEpoch": "1796136000000",
}


def access_log_bytes() -> int:
    """The bytes of one access log line of a counted `GET /`, from the template's format."""
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    fmt = str(doc["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"])
    fields = json.loads(fmt)
    line = json.dumps({k: SAMPLE_ACCESS_VALUES.get(v, v) for k, v in fields.items()}, separators=(",", ":"))
    return len(line.encode())


def ecpus(server_us: float) -> float:
    return max(1.0, server_us / MICROSECONDS_PER_ECPU)


@dataclass(frozen=True)
class Bill:
    rows: list[tuple[str, float, str]]  # (item, USD per million hits, how)
    but_api_gateway: float
    floor_month_usd: dict[str, float]


def per_million(
    duration_ms: float, memory_mb: int, function_log_bytes: float, server_us: float, engine: str = "valkey"
) -> Bill:
    billed_s = max(1, math.ceil(duration_ms)) / 1000
    compute = 1e6 * billed_s * memory_mb / 1024 * LAMBDA_ARM64_GB_SECOND_USD
    function_events = 0 if function_log_bytes == 0 else function_log_bytes + LOG_EVENT_OVERHEAD_BYTES
    access = access_log_bytes() + LOG_EVENT_OVERHEAD_BYTES
    logs = 1e6 * (function_events + access) / 1e9 * LOGS_INGESTION_PER_GB_USD
    ecpu = ecpus(server_us)
    cache = 1e6 * ecpu / 1e6 * ECPU_PER_MILLION_USD[engine]
    rows = [
        ("API Gateway (HTTP API)", HTTP_API_PER_MILLION_USD, "per request"),
        ("Lambda requests", LAMBDA_REQUESTS_PER_MILLION_USD, "per request"),
        (
            "Lambda duration",
            compute,
            f"{math.ceil(duration_ms)} ms billed (measured {duration_ms:.2f} ms) at {memory_mb} MB, arm64",
        ),
        (
            "CloudWatch Logs ingestion",
            logs,
            f"access log {access} B + function {function_events:.0f} B + platform 0 B (SystemLogLevel WARN) a hit",
        ),
        (
            f"ElastiCache Serverless ECPUs ({engine})",
            cache,
            f"{server_us:.0f} µs of Redis CPU a hit ≈ {ecpu:.1f} ECPU",
        ),
    ]
    floor = {name: STORAGE_MINIMUM_GB[name] * STORAGE_GB_HOUR_USD[name] * HOURS_A_MONTH for name in STORAGE_GB_HOUR_USD}
    return Bill(rows, sum(r[1] for r in rows[1:]), floor)


def template_limits() -> dict[str, Any]:
    """The defaults that bound the rate: the stage's route throttles and the cache's usage limits."""
    from cfnlint.decode import cfn_yaml

    params = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]
    return {name: params[name].get("Default") for name in params}
