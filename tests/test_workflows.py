"""The GitHub Actions workflows a team adopts: pinned, keyless, gated. (make lint also runs
zizmor over them, and actionlint where it is installed.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.events import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_action_is_pinned_by_commit_sha() -> None:
    uses = [step["uses"] for path in WORKFLOWS.glob("*.yml") for step in _steps(_load(path.name)) if "uses" in step]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


def test_pull_requests_run_the_readme_test_command_and_the_linters() -> None:
    ci = _load("ci.yml")
    assert "pull_request" in ci[True]  # YAML 1.1 reads the key `on` as True
    runs = [step.get("run", "") for step in _steps(ci)]
    assert "make test" in runs and "make lint" in runs
    assert ci["permissions"] == {"contents": "read"}


def test_main_deploys_dev_with_oidc_then_prod_behind_its_environment() -> None:
    deploy = _load("deploy.yml")
    assert deploy[True] == {"push": {"branches": ["main"]}}
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert (jobs["dev"]["needs"], jobs["prod"]["needs"]) == ("test", "dev")
    assert (jobs["dev"]["environment"], jobs["prod"]["environment"]) == ("dev", "prod")
    for name in ("dev", "prod"):
        job = jobs[name]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        (credentials,) = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
        assert set(credentials["with"]) == {"role-to-assume", "aws-region"}  # no stored keys
        runs = " ".join(step.get("run", "") for step in job["steps"])
        assert f"make deploy ENV={name}" in runs and "make e2e" in runs
    text = Path(WORKFLOWS / "deploy.yml").read_text()
    assert "secrets." not in text and "aws-access-key-id" not in text
