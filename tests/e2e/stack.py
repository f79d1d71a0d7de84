"""What the end-to-end suite knows of a deployed stack: its outputs, read from CloudFormation."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

# A stack in one of these states serves the template it was last deployed with.
USABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


class StackNotReady(Exception):
    """The stack does not exist, or is not in a state whose outputs can be trusted."""


def stack_outputs(name: str, client: Any = None) -> dict[str, str]:
    """The stack's outputs by key; StackNotReady names what is wrong."""
    cloudformation = client or boto3.client("cloudformation")
    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "ValidationError":
            raise StackNotReady(f"no stack named {name!r} in this account and region") from None
        raise
    if stack["StackStatus"] not in USABLE:
        raise StackNotReady(f"stack {name!r} is {stack['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise StackNotReady(f"stack {name!r} has no ApiUrl output: is it this project's stack?")
    return outputs
