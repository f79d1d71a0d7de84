"""Run as a script, in a fresh interpreter: one Lambda INIT, then one invocation.

argv: code_dir, layer_python_dir, event_file. The environment given is the one INIT sees;
``PROBE_REDIS_URL`` is the one the invocation must use (set between the two, as a new
configuration reaching an environment that imported the handler with the old one would).
Prints the handler's result as JSON on stdout's last line.
"""

import json
import os
import socket
import sys

code_dir, layer_dir, event_file = sys.argv[1:4]
sys.path[:1] = [code_dir, layer_dir]  # /var/task, then /opt/python, as Lambda orders them

real_connect = socket.socket.connect


def refuse(*_args, **_kwargs):
    raise AssertionError("INIT opened a socket")


socket.socket.connect = refuse  # type: ignore[method-assign]
import app  # noqa: E402 - INIT is this import

from hitcounter import runtime  # noqa: E402

assert runtime.services.cache_info().currsize == 0, "INIT built the services"
socket.socket.connect = real_connect  # type: ignore[method-assign]
os.environ["REDIS_URL"] = os.environ["PROBE_REDIS_URL"]


class Context:
    aws_request_id = "probe"
    function_name = "probe"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


with open(event_file) as f:
    result = app.lambda_handler(json.load(f), Context())
print(json.dumps(result))
