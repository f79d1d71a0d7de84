"""The Lambda Invoke API for the local functions, as ``sam local start-lambda`` serves it:
``POST /2015-03-31/functions/{name}/invocations``. Functions reach it through
``AWS_ENDPOINT_URL_LAMBDA`` (botocore reads it), so code that hands work to another function
with ``lambda:Invoke`` runs unchanged. ``InvocationType=Event`` answers 202 at once and runs
the invocation in the background, once (Lambda would retry a failed one twice)."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from localapi.pool import InvokeError, WorkerPool

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
MAX_PAYLOAD = 256 * 1024  # Lambda's limit for an asynchronous invocation's event


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _error(status: int, kind: str, message: str) -> Response:
    return Response(json.dumps({"Type": "User", "message": message}), status, {"x-amzn-ErrorType": kind})


class LocalLambda:
    def __init__(self, pools: Mapping[str, WorkerPool], host: str = "127.0.0.1") -> None:
        self.pools = pools
        self.httpd: BaseWSGIServer = make_server(host, 0, self, threaded=True, request_handler=_Quiet)
        self.url = f"http://{host}:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _background(self, pool: WorkerPool, event: dict[str, Any]) -> None:
        try:
            pool.invoke(event)
        except InvokeError as exc:
            print(f"{pool.fn.name} (asynchronous): {exc}", file=sys.stderr)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self._handle(Request(environ))(environ, start_response)

    def _handle(self, request: Request) -> Response:  # noqa: PLR0911 - one answer per Lambda API error
        found = _PATH.fullmatch(request.path)
        if request.method != "POST" or not found:
            return _error(404, "ResourceNotFoundException", "no such operation")
        name = unquote(found[1]).split(":function:")[-1].split(":")[0]  # a name, or an ARN
        pool = self.pools.get(name)
        if pool is None:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        body = request.get_data(cache=False)
        if len(body) > MAX_PAYLOAD:
            return _error(413, "RequestTooLargeException", "payload too large")
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "could not parse request body into json")
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return Response(b"", 204)
        if kind == "Event":
            threading.Thread(target=self._background, args=(pool, event), daemon=True).start()
            return Response(b"", 202)
        try:
            result = pool.invoke(event)
        except InvokeError as exc:
            return Response(json.dumps({"errorMessage": str(exc)}), 200, {"X-Amz-Function-Error": "Unhandled"})
        return Response(json.dumps(result), 200, content_type="application/json")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
