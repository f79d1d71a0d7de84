"""template.yaml: lints clean, builds, declares every variable the code reads, and its
events/ match its routes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from localapi.template import Template
from tests.conftest import EVENTS, ROOT

BIN = ROOT / ".venv" / "bin"
# SAM needs python3.13 on PATH for `sam build` (aws-sam-cli#2634): the venv's comes first.
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, check=False)


def test_cfn_lint_is_clean() -> None:
    result = _run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = _run(str(BIN / "sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    _run("python3.13", "-c", "").returncode != 0, reason="sam build needs python3.13 on PATH (make setup gives it)"
)
def test_sam_build_makes_small_artifacts(tmp_path: Path) -> None:
    build = tmp_path / "build"
    result = _run(str(BIN / "sam"), "build", "--build-dir", str(build), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (build / "HitsFunction" / "app.py").is_file()
    deps = build / "DependenciesLayer" / "python"
    assert (deps / "redis").is_dir() and (deps / "aws_lambda_powertools").is_dir()
    # Nothing the runtime already has: boto3/botocore ship with python3.13 on Lambda.
    assert not (deps / "boto3").exists() and not (deps / "botocore").exists()


def test_every_variable_the_code_reads_is_declared(template: Template) -> None:
    sources = [*(ROOT / "layers/shared/python").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    read = set()
    for path in sources:
        text = path.read_text()
        # env.get("X"), os.environ.get("X"), _bool(env, "X", ...), _first(env, "X", "Y") ...
        for call in re.finditer(r"(?:env|environ)\b[^\n]*", text):
            read.update(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', call.group(0)))
    assert {"REDIS_URL", "REDIS_HOST", "HOST_REDIS", "KEY_PREFIX", "ENABLE_TRACING"} <= read
    for name, fn in template.functions.items():
        missing = read - set(fn.environment)
        assert not missing, f"{name} does not declare {sorted(missing)}"


def test_each_route_has_an_event_and_each_event_a_route(template: Template) -> None:
    routes = {(r.method, r.path) for r in template.routes}
    events = set()
    for path in EVENTS.rglob("*.json"):
        event = json.loads(path.read_text())
        if "Records" in event:  # an S3 notification, for the imports function's trigger
            continue
        http = event["requestContext"]["http"]
        method, route = event["routeKey"].split(" ", 1)
        assert event["version"] == "2.0" and method == http["method"]
        assert re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route)), event["rawPath"]), path
        events.add((method, route))
    assert routes == events


def test_routes_are_explicit_named_events(template: Template) -> None:
    assert {(r.method, r.path) for r in template.routes if r.function == "HitsFunction"} == {
        ("GET", "/"),
        ("GET", "/hits"),
        ("GET", "/health"),
        ("GET", "/health/ready"),
    }
    assert all(r.method != "ANY" and "{proxy+}" not in r.path for r in template.routes)


def test_the_imports_bucket_is_private_and_the_function_reads_only_its_logs() -> None:
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    bucket = doc["Resources"]["ImportsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    fn = doc["Resources"]["ImportsFunction"]["Properties"]
    statements = fn["Policies"][0]["Statement"]
    assert {s["Action"] for s in statements} == {"s3:GetObject", "s3:ListBucket"}
    assert statements[0]["Resource"]["Fn::Sub"].endswith("/logs/*")
    assert fn["EphemeralStorage"]["Size"] >= 512 and fn["Timeout"] > 29
    trigger = fn["Events"]["LogUploaded"]["Properties"]
    assert trigger["Events"] == "s3:ObjectCreated:*"
    assert trigger["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "logs/"}]
