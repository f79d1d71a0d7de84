"""Handing work to another function: an asynchronous Lambda invoke, the only code that talks
to the Lambda API. boto3 is imported when the first client is built, as in ``objects``.

Why an asynchronous invoke of a worker function, not the work inside the HTTP request: API
Gateway gives up after 30 s, and a log can take minutes. Lambda queues the event, retries it
twice on a function error, and the worker is the same function the bucket's ObjectCreated
trigger runs, so an upload and ``POST /imports`` take one code path. A duplicate delivery is
harmless: an import counts once per object (key and ETag) whatever runs it.
"""

from __future__ import annotations

import json
from typing import Any

from hitcounter.core.errors import BackendUnavailable, ConfigError


def build_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"}))


class LambdaJobs:
    def __init__(self, client: Any, function_name: str) -> None:
        if not function_name:
            raise ConfigError("IMPORT_WORKER_FUNCTION is not set")
        self._client = client
        self.function_name = function_name

    def submit(self, payload: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(payload, separators=(",", ":")).encode(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendUnavailable(
                "the import queue is unavailable, retry shortly", cause="lambda_unavailable"
            ) from exc
