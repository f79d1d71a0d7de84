"""The pre-traffic hook (hitcounter.logic.deploy_check): it reads the deployment from CodeDeploy
(moto), invokes the new version through a real Lambda Invoke API (make dev's, running the
real functions on a real redis-server), and reports. moto has no
PutLifecycleEventHookExecutionStatus: that one request is taken as botocore serialized it
(its before-call event) and answered as CodeDeploy does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from hitcounter.logic import deploy_check
from localapi import template as sam_template
from localapi.server import LocalApi
from localapi.services import LocalS3
from tests.support.events import context
from tests.support.servers import RedisServer, free_port

TARGETS = "hits=HitsFunction,session=SessionFunction,imports=ImportsFunction,docs=DocsFunction"
REGION = "us-east-1"


class Reports:
    """PutLifecycleEventHookExecutionStatus requests as serialized for the wire, answered as
    CodeDeploy answers them (botocore's before-call event lets a handler answer a call)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.sent.append(json.loads(params["body"]))
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"lifecycleEventHookExecutionId": "hook-1"}


@pytest.fixture
def codedeploy(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Reports]]:
    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("codedeploy", region_name=REGION)
        client.create_application(applicationName="hit-counter", computePlatform="Lambda")
        client.create_deployment_group(
            applicationName="hit-counter",
            deploymentGroupName="hits",
            serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeployServiceRole",
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        )
        reports = Reports()
        client.meta.events.register("before-call.codedeploy.PutLifecycleEventHookExecutionStatus", reports)
        yield client, reports


def deployment(client: Any, function: str, target: str = "7", content: str | None = None) -> dict[str, str]:
    spec = {
        "version": 0.0,
        "Resources": [
            {
                function: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Name": function, "Alias": "live", "CurrentVersion": "6", "TargetVersion": target},
                }
            }
        ],
    }
    made = client.create_deployment(
        applicationName="hit-counter",
        deploymentGroupName="hits",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content or json.dumps(spec)}},
    )
    return {"DeploymentId": made["deploymentId"], "LifecycleEventHookExecutionId": "hook-1"}


@pytest.fixture
def lambda_api(template: sam_template.Template, redis_url: str) -> Iterator[Any]:
    """The real functions behind make dev's Lambda Invoke API, on a clean Redis."""
    api = LocalApi(template, {"Parameters": {"REDIS_URL": redis_url, "KEY_PREFIX": "hook:"}})
    try:
        yield boto3.client("lambda", endpoint_url=api.lambda_api.url, region_name=REGION)
    finally:
        api.close()


@pytest.mark.parametrize("function", ["HitsFunction", "SessionFunction", "ImportsFunction", "DocsFunction"])
def test_a_healthy_version_passes_and_counts_nothing(
    function: str, codedeploy: tuple[Any, Reports], lambda_api: Any, shared_redis: RedisServer
) -> None:
    client, reports = codedeploy
    event = deployment(client, function)
    status, reason = deploy_check.check(event, client, lambda_api, TARGETS)
    assert status == "Succeeded", reason
    assert reports.sent == [
        {"deploymentId": event["DeploymentId"], "lifecycleEventHookExecutionId": "hook-1", "status": "Succeeded"}
    ]
    assert shared_redis.client().keys("*") == []  # readiness and reads: nothing written


def test_a_version_that_cannot_reach_redis_is_stopped(
    template: sam_template.Template, codedeploy: tuple[Any, Reports]
) -> None:
    client, reports = codedeploy
    api = LocalApi(template, {"Parameters": {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}})
    try:
        lam = boto3.client("lambda", endpoint_url=api.lambda_api.url, region_name=REGION)
        for function in ("HitsFunction", "SessionFunction", "ImportsFunction"):
            status, reason = deploy_check.check(deployment(client, function), client, lam, TARGETS)
            assert status == "Failed" and "answered 503" in reason, reason
        assert [r["status"] for r in reports.sent] == ["Failed"] * 3
    finally:
        api.close()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not an appspec", "no single function"),
        (json.dumps({"version": 0.0, "Resources": []}), "no single function"),
    ],
)
def test_a_deployment_it_cannot_read_fails(
    content: str, why: str, codedeploy: tuple[Any, Reports], lambda_api: Any
) -> None:
    client, reports = codedeploy
    event = deployment(client, "HitsFunction", content=content)
    status, reason = deploy_check.check(event, client, lambda_api, TARGETS)
    assert (status, [r["status"] for r in reports.sent]) == ("Failed", ["Failed"]) and why in reason


def test_the_yaml_form_of_the_appspec_is_read_too(codedeploy: tuple[Any, Reports], lambda_api: Any) -> None:
    client, _ = codedeploy
    content = (
        "version: 0.0\nResources:\n  - HitsFunction:\n      Type: AWS::Lambda::Function\n      Properties:\n"
        "        Name: HitsFunction\n        Alias: live\n        CurrentVersion: '6'\n        TargetVersion: '7'\n"
    )
    event = deployment(client, "HitsFunction", content=content)
    status, reason = deploy_check.check(event, client, lambda_api, TARGETS)
    assert status == "Succeeded" and "version 7" in reason


def test_a_function_it_does_not_know_fails(codedeploy: tuple[Any, Reports], lambda_api: Any) -> None:
    client, _ = codedeploy
    status, reason = deploy_check.check(deployment(client, "ImportWorkerFunction"), client, lambda_api, TARGETS)
    assert status == "Failed" and "not a function this hook knows" in reason


def test_the_hook_function_refuses_an_event_that_is_not_codedeploys(
    function_modules: dict[str, Any], function_env: Any
) -> None:

    function_env("PreTrafficHookFunction")
    result = function_modules["PreTrafficHookFunction"].lambda_handler({"hello": 1}, context("h"))
    assert result == {"status": "Failed", "reason": "not a CodeDeploy lifecycle hook event"}


def test_the_template_wires_the_hook_to_every_http_function(template: sam_template.Template) -> None:
    env = template.functions["PreTrafficHookFunction"].environment
    assert deploy_check.parse_targets(env["DEPLOY_HOOK_TARGETS"]) == {
        "HitsFunction": "hits",
        "SessionFunction": "session",
        "ImportsFunction": "imports",
        "DocsFunction": "docs",
    }
