"""tests/e2e's stack-output helper, on moto's CloudFormation; and the suite's skip when no stack
is named (run as make e2e runs it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localapi.services import LocalS3
from tests.e2e.stack import StackNotReady, stack_outputs
from tests.support.events import ROOT

TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "ApiUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/"},
        "TopicArn": {"Value": {"Ref": "Topic"}},
    },
}


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in LocalS3.CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("cloudformation", region_name="us-east-1")


def test_outputs_are_read_by_key(cloudformation: Any) -> None:
    cloudformation.create_stack(StackName="hit-counter-dev", TemplateBody=json.dumps(TEMPLATE))
    outputs = stack_outputs("hit-counter-dev", cloudformation)
    assert outputs["ApiUrl"] == "https://abc123.execute-api.us-east-1.amazonaws.com/"
    assert outputs["TopicArn"].startswith("arn:aws:sns:us-east-1:")


def test_a_missing_stack_or_a_foreign_one_is_named(cloudformation: Any) -> None:
    with pytest.raises(StackNotReady, match="no stack named 'nope'"):
        stack_outputs("nope", cloudformation)
    foreign = {"Resources": TEMPLATE["Resources"], "Outputs": {"X": {"Value": "1"}}}
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(foreign))
    with pytest.raises(StackNotReady, match="no ApiUrl output"):
        stack_outputs("other", cloudformation)


def test_without_a_stack_name_the_suite_is_skipped_with_its_reason() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_SAM_STACK_NAME"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "e2e", "tests/e2e", "-rs", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every test of the tier skipped, for that reason, and none run.
    tests = sum(
        len(re.findall(r"^def test_", path.read_text(), flags=re.M)) for path in (ROOT / "tests/e2e").glob("test_*.py")
    )
    assert "AWS_SAM_STACK_NAME is not set" in result.stdout and f"{tests} skipped" in result.stdout
