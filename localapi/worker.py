"""One Lambda execution environment, as a process.

Run as a script (not ``-m``) so nothing but what Lambda would have is importable first:
``sys.path`` becomes CodeUri (Lambda's /var/task), then each layer's python/ (/opt/python),
then this interpreter's site-packages (standing in for the dependency layer and the
runtime's boto3). The handler module is imported before the first event, as Lambda's INIT.

Protocol: one JSON line per invocation on stdin, ``{"event": …, "request_id": …,
"deadline_ms": …}``; one JSON line back on the original stdout, ``{"response": …}`` or
``{"error": {"errorType", "errorMessage"}}``, with the ``pid`` that served it. Whatever the
function prints or logs goes to stderr, as CloudWatch would get it.

With ``--fork`` (recycle mode) the process runs INIT and then never serves a request itself:
each invocation runs in a child forked from it, which exits afterwards. Every request gets a
process that has served nothing before, as a cold Lambda environment is (and as SnapStart
restores one), without paying the interpreter start and the imports each time.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of awslambdaric's context that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _serve(handler: Any, init_error: dict[str, str] | None, line: str) -> dict[str, Any]:
    request = json.loads(line)
    if init_error:
        return {"error": init_error}
    context = LambdaContext(request["request_id"], request["deadline_ms"])
    try:
        return {"response": handler(request["event"], context)}
    except Exception as exc:
        traceback.print_exc()
        return {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}


def main() -> None:
    args = sys.argv[1:]
    fork = args[0] == "--fork"
    code_dir, handler_spec, *layers = args[1:] if fork else args
    # Ctrl-C in the terminal reaches the whole process group; the server stops its workers
    # itself (by closing stdin), so a worker ignores it rather than print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol channel private, then point fd 1 at stderr so print() and loggers
    # (Powertools writes to stdout) cannot corrupt it.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.path[:1] = [code_dir, *layers]
    os.chdir(code_dir)

    module_name, _, attr = handler_spec.rpartition(".")
    init_error: dict[str, str] | None = None
    handler: Any = None
    try:
        handler = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # an INIT failure is reported per invocation, as Lambda does
        traceback.print_exc()
        init_error = {"errorType": "Runtime.ImportModuleError", "errorMessage": f"{type(exc).__name__}: {exc}"}

    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        if fork:
            child = os.fork()
            if child:
                os.waitpid(child, 0)  # one invocation at a time, as in one Lambda environment
                continue
        reply = _serve(handler, init_error, line) | {"pid": os.getpid()}
        sys.stdout.flush()
        sys.stderr.flush()
        channel.write(json.dumps(reply) + "\n")
        channel.flush()
        if fork:
            os._exit(0)  # the child served its one request; nothing of it survives


if __name__ == "__main__":
    main()
