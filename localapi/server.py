"""A local HTTP API Gateway (payload format 2.0) for template.yaml, without Docker.

Each request becomes the event API Gateway would send, runs in a worker process of the
route's function (``localapi.pool``), and the function's answer is mapped back as API
Gateway maps it. Served by Werkzeug's threaded server.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from localapi import sigv4
from localapi.edge import EDGE_ADDRESS, Edge
from localapi.lambda_api import LocalLambda
from localapi.pool import InvokeError, LogSink, WorkerPool
from localapi.template import Route, Template, Throttle

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# HTTP API's own limit on a request payload.
MAX_BODY = 10 * 1024 * 1024
# HTTP API's quota on the request line and header values together.
MAX_HEAD = 10_240
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded)|application/[^;]*\+(json|xml))"
)


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    specificity: tuple[int, int]


def _compile(route: Route) -> _CompiledRoute:
    regex, params = "", 0
    for part in re.split(r"(\{[^}]+\})", route.path):
        if part.startswith("{"):
            params += 1
            name = part[1:-1]
            greedy = name.endswith("+")
            regex += f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
        else:
            regex += re.escape(part)
    # API Gateway prefers the most specific route: literal paths over parameters.
    return _CompiledRoute(route, re.compile(f"^{regex}$"), (params, -len(route.path)))


def is_text(content_type: str) -> bool:
    return bool(_TEXT_TYPES.match(content_type.lower()))


def _utf8(value: str) -> str:
    """A header value as API Gateway passes it: the WSGI server decoded the bytes as latin-1
    (PEP 3333); API Gateway reads them as UTF-8 (``€`` is one character, not three)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def printable(text: str) -> str:
    """Text safe for a terminal line: control characters (ESC, CR, LF, ...) escaped, so a
    request path cannot colour the terminal or forge a log line."""
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode() for c in text)


def build_event(
    request: Request,
    route: Route,
    path_params: Mapping[str, str],
    body: bytes,
    edge: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The HTTP API v2 event for one request, as API Gateway builds it (``edge``: the headers
    the emulated CloudFront adds, which then sends the request from its own address)."""
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        if key.lower() == "cookie" or (edge and key.lower() in edge):
            continue  # CloudFront sets its own headers: a viewer's copy never reaches the origin
        # Names lower-cased; the WSGI server has already joined repeated headers with commas.
        k, text = key.lower(), _utf8(value)
        headers[k] = f"{headers[k]},{text}" if k in headers else text
    headers.update(edge or {})
    query: dict[str, str] = {}
    for key, values in request.args.lists():
        query[key] = ",".join(values)
    now = datetime.now(UTC)
    host = request.host or "localhost"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}" if route.method != "ANY" else f"ANY {route.path}",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": EDGE_ADDRESS if edge else (request.remote_addr or "127.0.0.1"),
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    cookie_header = _utf8(request.headers.get("Cookie") or "")
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.split(";") if c.strip()]
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = dict(path_params)
    if body:
        try:
            decoded = body.decode("utf-8") if is_text(request.content_type or "") else None
        except UnicodeDecodeError:
            decoded = None
        if decoded is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"] = decoded
    return event


def build_response(result: Any) -> Response:
    """Map a function's result to HTTP the way HTTP API (payload 2.0) does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A result without statusCode is taken as a JSON body with status 200.
        return Response(json.dumps(result), 200, content_type="application/json")
    headers = Headers()
    for key, value in (result.get("headers") or {}).items():
        headers.add(key, str(value))
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.add(key, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    if "content-type" not in {k.lower() for k in headers.keys()}:  # noqa: SIM118 - Headers is a multidict
        headers["Content-Type"] = "application/json"
    return Response(raw, int(result["statusCode"]), headers=headers)


def _gateway_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status, content_type="application/json")


class _Bucket:
    """One route's token bucket (API Gateway's throttle: a steady rate and a burst)."""

    def __init__(self, throttle: Throttle) -> None:
        self.rate, self.capacity = throttle.rate, float(throttle.burst)
        self.tokens, self.stamp = self.capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


def cors_headers(cors: Mapping[str, Any] | None, request: Request) -> dict[str, str]:
    """What API Gateway adds to an answer to a cross-origin request (one with ``Origin``)
    when the API has a CORS configuration: nothing for an origin it does not allow."""
    origin = request.headers.get("Origin")
    if not cors or not origin:
        return {}
    allowed = [str(o) for o in cors.get("AllowOrigins") or []]
    if "*" not in allowed and origin not in allowed:
        return {}
    headers = {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin}
    if cors.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(str(h) for h in cors["ExposeHeaders"])
    if cors.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def preflight(cors: Mapping[str, Any], request: Request) -> Response:
    """API Gateway's own answer to a CORS preflight: 204, the configured headers when the
    origin and the method are allowed, none otherwise; no function is invoked."""
    response = Response(b"", 204)
    method = (request.headers.get("Access-Control-Request-Method") or "").upper()
    allowed_methods = [str(m).upper() for m in cors.get("AllowMethods") or []]
    headers = cors_headers(cors, request)
    if headers and (method in allowed_methods or "*" in allowed_methods):
        headers["Access-Control-Allow-Methods"] = ",".join(allowed_methods)
        if cors.get("AllowHeaders"):
            headers["Access-Control-Allow-Headers"] = ",".join(str(h) for h in cors["AllowHeaders"])
        if cors.get("MaxAge") is not None:
            headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
        response.headers.update(headers)
    return response


def head_size(request: Request) -> int:
    """The request line and every header as sent (name, ": ", value, CRLF): what HTTP API's
    10,240-byte quota counts, give or take the line endings."""
    line = len(f"{request.method} {request.environ.get('RAW_URI') or request.full_path} HTTP/1.1\r\n")
    return line + sum(len(k) + len(v) + 4 for k, v in request.headers.items())


class LocalApi:
    """The WSGI application: routes from the template, one worker pool per function.
    ``throttle``: enforce the template's route throttles as the stage would (``make dev``
    does; the suites that send bursts on purpose do not). ``edge``: put the emulated
    ``EdgeProtection`` in front (``localapi.edge``)."""

    def __init__(
        self,
        template: Template,
        env: Mapping[str, Mapping[str, str]] | None = None,
        *,
        recycle: bool = False,
        function_log: IO[str] | int | None = None,
        access_log: IO[str] | None = None,
        sink: LogSink | None = None,
        throttle: bool = False,
        edge: Edge | None = None,
    ) -> None:
        env = env or {}
        self.template = template
        self.edge = edge
        if edge is not None:  # the functions trust CloudFront-Viewer-Address with this secret
            env = {**env, "Parameters": {**env.get("Parameters", {}), "EDGE_ORIGIN_SECRET": edge.secret}}
        self.buckets: dict[str, _Bucket] = {}
        if throttle:
            for route in template.routes:
                key = f"{route.method} {route.path}"
                limit = template.throttles.get(key, template.default_throttle)
                if limit is not None:
                    self.buckets[key] = _Bucket(limit)
        self.recycle = recycle
        self.access_log = access_log
        self.routes = sorted((_compile(r) for r in template.routes), key=lambda c: c.specificity)
        # Every function gets workers, routed or not: a routed one may invoke another (POST
        # /imports hands work to the import worker) through the local Lambda API.
        self.pools: dict[str, WorkerPool] = {}
        self.lambda_api = LocalLambda(self.pools)
        # Who may call the IAM routes: the local credentials, as API Gateway checks the caller.
        params = env.get("Parameters", {})
        key = (
            params.get("AWS_ACCESS_KEY_ID")
            or os.environ.get("AWS_ACCESS_KEY_ID")
            or LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        )
        secret = (
            params.get("AWS_SECRET_ACCESS_KEY")
            or os.environ.get("AWS_SECRET_ACCESS_KEY")
            or LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        )
        self.credentials = {key: secret}
        invoke_env = {"AWS_ENDPOINT_URL_LAMBDA": self.lambda_api.url}
        if not any(os.environ.get(k) or env.get("Parameters", {}).get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")):
            invoke_env |= LOCAL_CREDENTIALS  # botocore signs every call; nothing here checks it
        for name, fn in template.functions.items():
            fn_env = {**invoke_env, **env.get("Parameters", {}), **env.get(name, {})}
            self.pools[name] = WorkerPool(fn, fn_env, recycle=recycle, log=function_log, sink=sink)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, found.groupdict()
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        request = Request(environ)
        found = self.match(request.method, request.path)
        response = self._handle(request, found)
        if self.access_log:
            ms = (time.perf_counter() - started) * 1000
            # A share link's token (STATS_ACCESS=token) is a secret: never in the log.
            path = printable(_SHARED_TOKEN.sub("token=[redacted]", request.full_path.rstrip("?")))
            function = found[0].function if found else "-"
            line = f"{printable(request.method)} {path} {response.status_code} {ms:.1f}ms {function}\n"
            self.access_log.write(line)
            self.access_log.flush()
        return response(environ, start_response)

    def _handle(self, request: Request, found: tuple[Route, dict[str, str]] | None) -> Response:
        if self.edge is None:
            return self._gateway(request, found)
        # CloudFront and its web ACL first: the rate rule, then the cache, then the API.
        if not self.edge.admit(request.remote_addr or "127.0.0.1", request.headers.get("User-Agent", "")):
            return self.edge.blocked()
        kept = self.edge.lookup(request)
        if kept is not None:
            return kept
        response = self._gateway(request, found, self.edge.origin_headers(request))
        self.edge.keep(request, response)
        return response

    def _gateway(
        self, request: Request, found: tuple[Route, dict[str, str]] | None, edge: Mapping[str, str] | None = None
    ) -> Response:
        if head_size(request) > MAX_HEAD:
            return _gateway_error(431, "Request Header Fields Too Large")
        cors = self.template.cors
        if cors and request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            return preflight(cors, request)
        response = self._route(request, found, edge)
        response.headers.update(cors_headers(cors, request))
        return response

    def _route(  # noqa: PLR0911 - API Gateway's answers
        self, request: Request, found: tuple[Route, dict[str, str]] | None, edge: Mapping[str, str] | None = None
    ) -> Response:
        if found is None:
            return _gateway_error(404, "Not Found")
        route, params = found
        bucket = self.buckets.get(f"{route.method} {route.path}")
        if bucket is not None and not bucket.take():
            return _gateway_error(429, "Too Many Requests")
        if (request.content_length or 0) > MAX_BODY:
            return _gateway_error(413, "Request Entity Too Large")
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY:
            return _gateway_error(413, "Request Entity Too Large")
        if route.iam:
            headers = {k.lower(): v for k, v in request.headers.items()}
            # The path exactly as sent (percent-encoding included): what the client signed.
            raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
            url = f"{request.scheme}://{request.host}{raw}"
            if not sigv4.verify(request.method, url, headers, body, self.credentials):
                return _gateway_error(403, "Forbidden")
        event = build_event(request, route, params, body, edge)
        try:
            result = self.pools[route.function].invoke(event)
        except InvokeError as exc:
            print(f"{route.function}: {exc}", file=sys.stderr)
            return _gateway_error(500, "Internal Server Error")
        try:
            return build_response(result)
        except (TypeError, ValueError, KeyError) as exc:
            print(f"{route.function}: invalid response: {exc}", file=sys.stderr)
            return _gateway_error(500, "Internal Server Error")

    def close(self) -> None:
        """Stop every worker (busy ones after a Lambda shutdown's grace), then sweep what
        killed invocations left in their scratch directories."""
        self.lambda_api.close()
        pools = list(self.pools.values())
        stoppers = [threading.Thread(target=pool.close) for pool in pools]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        for pool in pools:
            pool.sweep_scratch()


_SHARED_TOKEN = re.compile(r"(?<=[?&])token=[^&]*")


class _QuietHandler(WSGIRequestHandler):
    """LocalApi writes its own access line (with the time spent); Werkzeug's is dropped."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def make_environ(self) -> Any:
        # Werkzeug joins repeated headers with "," (right for most); several Cookie headers
        # are one cookie list, joined with "; " as browsers send it (RFC 6265 5.4).
        environ = super().make_environ()
        cookies = self.headers.get_all("Cookie") or []
        if len(cookies) > 1:
            environ["HTTP_COOKIE"] = "; ".join(c.replace("\r\n", "") for c in cookies)
        return environ


class Server:
    """A LocalApi on a Werkzeug threaded server, in a background thread."""

    def __init__(self, app: LocalApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.httpd: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.port = self.httpd.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.app.close()
