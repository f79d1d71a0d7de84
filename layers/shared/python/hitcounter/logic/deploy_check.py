"""The pre-traffic check of a gradual deployment (CodeDeploy's BeforeAllowTraffic hook).

CodeDeploy invokes the hook with a deployment id and a hook execution id, and waits (up to an
hour) for the hook to report ``Succeeded`` or ``Failed``; ``Failed`` stops the deployment, and
the ``live`` alias stays on the old version. The hook learns which function and which new
version it is checking from the deployment's own AppSpec (``get_deployment``), so one hook
serves every function. It invokes that version directly (not through the alias, which still
points at the old one) with API Gateway events that change nothing: readiness, and reads
that count nothing. Any failure to check is a failure of the check: a deployment never goes
ahead unverified.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hitcounter.logic.sessions import COOKIE

# What each function must answer before it gets traffic. Each probe is a request that
# reaches Redis (or builds the document) without writing anything.
# Well-formed and never issued (token_urlsafe(32) is random), under the cookie name the
# function reads: a probe that reaches Redis, not one refused before it.
_UNKNOWN_SID = "0" * 43
_UNKNOWN_IMPORT = "0" * 32


@dataclass(frozen=True, slots=True)
class Probe:
    method: str
    path: str
    status: int
    check: Callable[[dict[str, Any]], bool] = lambda body: True
    headers: tuple[tuple[str, str], ...] = ()


def _is_count(body: dict[str, Any]) -> bool:
    return isinstance(body.get("hits"), int) and body["hits"] >= 0


PROBES: dict[str, tuple[Probe, ...]] = {
    "hits": (
        Probe("GET", "/health/ready", 200, lambda body: body.get("status") == "ok"),
        Probe("GET", "/hits", 200, _is_count),
    ),
    "session": (Probe("GET", "/session", 401, headers=(("cookie", f"{COOKIE}={_UNKNOWN_SID}"),)),),
    "imports": (Probe("GET", f"/imports/{_UNKNOWN_IMPORT}", 404),),
    "docs": (Probe("GET", "/openapi.json", 200, lambda body: str(body.get("openapi", "")).startswith("3.")),),
}


class CheckFailed(Exception):
    """The new version is not fit for traffic (the message says why; it names no secret)."""


def parse_targets(text: str) -> dict[str, str]:
    """``DEPLOY_HOOK_TARGETS``: ``role=function-name`` pairs, comma-separated → name → role."""
    targets = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        role, sep, name = pair.partition("=")
        if not sep or role not in PROBES or not name:
            raise CheckFailed(f"DEPLOY_HOOK_TARGETS: {pair!r} is not role=function with a known role")
        targets[name] = role
    return targets


_YAML_FIELD = re.compile(r"^\s*(Name|TargetVersion)\s*:\s*['\"]?([^'\"\s]+)['\"]?\s*$", re.MULTILINE)


def target_of(deployment: dict[str, Any]) -> tuple[str, str]:
    """The function name and the version to check, from the deployment's AppSpec (JSON when
    CloudFormation writes it; the YAML form is read too, field by field)."""
    revision = deployment.get("deploymentInfo", {}).get("revision", {})
    content = revision.get("appSpecContent", {}).get("content") or revision.get("string", {}).get("content")
    if not isinstance(content, str):
        raise CheckFailed("the deployment carries no AppSpec content")
    try:
        spec = json.loads(content)
        (resource,) = [props for entry in spec["Resources"] for props in entry.values()]
        props = resource["Properties"]
        name, version = str(props["Name"]), str(props["TargetVersion"])
    except (ValueError, KeyError, TypeError):
        fields = dict(_YAML_FIELD.findall(content))
        if set(fields) != {"Name", "TargetVersion"}:
            raise CheckFailed("the AppSpec names no single function and target version") from None
        name, version = fields["Name"], fields["TargetVersion"]
    return name.rsplit(":function:", 1)[-1].split(":")[0], version


def probe_event(probe: Probe) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for the probe, as API Gateway would send it."""
    now = time.time()
    headers = {"accept": "application/json", "user-agent": "hit-counter-pre-traffic-hook", **dict(probe.headers)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{probe.method} {probe.path if not probe.path.startswith('/imports/') else '/imports/{id}'}",
        "rawPath": probe.path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "pre-traffic-hook",
            "apiId": "pre-traffic-hook",
            "domainName": "pre-traffic-hook",
            "http": {
                "method": probe.method,
                "path": probe.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers["user-agent"],
            },
            "requestId": f"pre-traffic-{time.time_ns()}",
            "routeKey": "",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    event["requestContext"]["routeKey"] = event["routeKey"]
    if probe.path.startswith("/imports/"):
        event["pathParameters"] = {"id": probe.path.rsplit("/", 1)[-1]}
    if "cookie" in headers:
        event["cookies"] = [headers.pop("cookie")]
    return event


def run_probe(client: Any, name: str, version: str, probe: Probe) -> None:
    reply = client.invoke(FunctionName=name, Qualifier=version, Payload=json.dumps(probe_event(probe)).encode())
    label = f"{probe.method} {probe.path}"
    if reply.get("FunctionError"):
        raise CheckFailed(f"{label}: the function failed ({reply['FunctionError']})")
    try:
        result = json.loads(reply["Payload"].read())
        status = int(result["statusCode"])
        body = json.loads(result.get("body") or "{}")
    except (ValueError, KeyError, TypeError):
        raise CheckFailed(f"{label}: the answer is not an HTTP API response") from None
    if status != probe.status:
        raise CheckFailed(f"{label}: answered {status}, expected {probe.status}")
    if not isinstance(body, dict) or not probe.check(body):
        raise CheckFailed(f"{label}: the body is not what the contract says")


def hook_ids(event: dict[str, Any]) -> tuple[str, str]:
    """The deployment and hook execution ids of a CodeDeploy lifecycle hook event."""
    deployment_id, hook_id = event.get("DeploymentId"), event.get("LifecycleEventHookExecutionId")
    if not isinstance(deployment_id, str) or not isinstance(hook_id, str):
        raise CheckFailed("not a CodeDeploy lifecycle hook event")  # nothing to report to
    return deployment_id, hook_id


def check(event: dict[str, Any], codedeploy: Any, client: Any, targets_text: str) -> tuple[str, str]:
    """Check the deployment's new version, report to CodeDeploy, and answer (status, reason).
    ``codedeploy`` and ``client`` are boto3's CodeDeploy and Lambda clients."""
    deployment_id, hook_id = hook_ids(event)
    status, reason = "Succeeded", "every probe answered as the contract says"
    try:
        name, version = target_of(codedeploy.get_deployment(deploymentId=deployment_id))
        role = parse_targets(targets_text).get(name)
        if role is None:
            raise CheckFailed(f"{name} is not a function this hook knows how to check")
        for probe in PROBES[role]:
            run_probe(client, name, version, probe)
        reason = f"{role} version {version}: {reason}"
    except CheckFailed as err:
        status, reason = "Failed", str(err)
    except Exception as err:
        status, reason = "Failed", f"could not check: {type(err).__name__}"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=hook_id, status=status
    )
    return status, reason
