"""CodeDeploy's pre-traffic hook: checks a new version before the `live` alias sends it
traffic (hitcounter.logic.deploy_check says how), and reports Succeeded or Failed."""

import os
from typing import Any

import boto3

from hitcounter.core.observability import logger
from hitcounter.logic import deploy_check
from hitcounter.web.entry import event_entrypoint

# Clients are built at first use, not at import: INIT opens no socket (SnapStart, tests).
_clients: dict[str, Any] = {}


def _client(name: str) -> Any:
    if name not in _clients:
        _clients[name] = boto3.client(name)  # type: ignore[call-overload]
    return _clients[name]


def handle(event: dict[str, Any], context: Any) -> dict[str, str]:
    try:
        deploy_check.hook_ids(event)
        status, reason = deploy_check.check(
            event, _client("codedeploy"), _client("lambda"), os.environ.get("DEPLOY_HOOK_TARGETS", "")
        )
    except deploy_check.CheckFailed as err:  # not a hook event: nothing to report to
        logger.warning(f"pre-traffic hook: {err}")
        return {"status": "Failed", "reason": str(err)}
    (logger.info if status == "Succeeded" else logger.error)(f"pre-traffic check {status}: {reason}")
    return {"status": status, "reason": reason}


lambda_handler = event_entrypoint(handle)
