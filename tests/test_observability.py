"""Logs carry the API Gateway request id; metrics count hits and cold starts; errors are
logged once, without secrets; a bad configuration answers a clean 500 naming nothing secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.events import ROOT, Invoke, body_json, context, load_event


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_a_warm_hit_writes_nothing_to_the_log(invoke_hits: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    # The Hits metric comes from API Gateway's access log (template.yaml's HitsMetricFilter):
    # after the first (a new store: CounterStarted and its warning), a hit writes no byte.
    invoke_hits(load_event("hits/get-root"))
    first = [line for line in _lines(capsys.readouterr().out) if "_aws" in line]
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TwelveFactorHits" for line in first)
    for _ in range(5):
        invoke_hits(load_event("hits/get-root"))
    assert capsys.readouterr().out == ""


def test_the_hits_metric_counts_get_root_answers_in_the_access_log() -> None:
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    stage = doc["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
    fields = json.loads(stage)
    # The filter compares strings: the format writes both fields quoted, as API Gateway fills them.
    assert fields["route"] == "$context.routeKey" and fields["status"] == "$context.status"
    metric_filter = doc["Resources"]["HitsMetricFilter"]["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": "ApiAccessLogs"}
    assert metric_filter["FilterPattern"] == '{ $.route = "GET /" && $.status = "200" }'
    (transform,) = metric_filter["MetricTransformations"]
    assert (transform["MetricNamespace"], transform["MetricName"], transform["MetricValue"]) == (
        "TwelveFactorHits",
        "Hits",
        "1",
    )


def test_error_log_has_the_request_id_and_no_secret(
    hits_module, function_env: Callable[..., None], logs: Callable[[], str]
) -> None:
    from tests.support.servers import free_port

    function_env(REDIS_URL=f"redis://app:pa55word@127.0.0.1:{free_port()}/0")
    event = load_event("hits/get-root")
    response = hits_module.lambda_handler(event, context("lambda-req"))
    assert response["statusCode"] == 503
    out = logs()
    errors = [line for line in _lines(out) if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["correlation_id"] == event["requestContext"]["requestId"]
    assert errors[0]["cause"] == "refused"  # a category, never the library's text
    assert "pa55word" not in out and "pa55word" not in response["body"]


def test_bad_configuration_is_a_clean_500_and_a_log_naming_the_variable(
    hits_module, function_env: Callable[..., None], logs: Callable[[], str]
) -> None:
    function_env(REDIS_URL="", REDIS_PORT="not-a-port")
    response = hits_module.lambda_handler(load_event("hits/get-root"), context("r"))
    assert response["statusCode"] == 500
    assert body_json(response)["error"]["code"] == "misconfigured"
    assert "REDIS_PORT" in logs()
    # Fixing the environment recovers without a new execution environment.
    function_env(REDIS_URL="redis://127.0.0.1:1/0", REDIS_CONNECT_TIMEOUT="0.1")
    assert hits_module.lambda_handler(load_event("hits/get-health"), context("r"))["statusCode"] == 200


def test_tracing_is_opt_in_and_degrades_clearly_without_the_sdk(
    redis_url: str,
) -> None:
    import subprocess
    import sys

    from tests.support.events import ROOT

    script = (
        "import sys, json, time\n"
        "if sys.argv[1] == 'hidden':\n    sys.modules['aws_xray_sdk'] = None\n"
        "import app\n"
        "from tests.support.events import context\n"
        "ev = json.load(open('events/hits/get-root.json'))\n"
        "print(json.dumps(app.lambda_handler(ev, context('r', 5000))))\n"
    )
    for sdk in ("present", "hidden"):
        env = {
            "PATH": "/usr/bin:/bin",
            "ENABLE_TRACING": "true",
            "REDIS_URL": redis_url,
            "PYTHONPATH": f"{ROOT / 'functions/hits'}:{ROOT / 'layers/shared/python'}:{ROOT}",
        }
        done = subprocess.run(
            [sys.executable, "-c", script, sdk], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        response = json.loads(done.stdout.strip().splitlines()[-1])
        assert response["statusCode"] == 200
        assert ("aws-xray-sdk is not installed" in done.stdout) is (sdk == "hidden")
