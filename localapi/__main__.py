"""``python -m localapi``: serve template.yaml's HttpApi routes on 127.0.0.1:3000, no Docker.

Starts a redis-server of its own (data kept in .dev/) unless REDIS_URL is set in the
environment. Reads env.json in the format of ``sam local start-api --env-vars``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.accesslogs import generate
from localapi import template as sam_template
from localapi.edge import Edge
from localapi.server import LocalApi, Server, printable
from localapi.services import LocalS3, RedisServer

SAMPLE_KEY = "logs/sample-access.log.gz"  # a generated log, so the imports walk-through runs as written


def _sample_log() -> bytes:
    """A week of traffic ending at midnight UTC this morning, so an import fills the days
    before today on /dashboard."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return generate(5000, seed=12, days=(today - timedelta(seconds=1), 7)).gzipped()


# make dev's own Redis: snapshots so local data survives a restart, and idle connections
# closed after 5 minutes, so workers that went quiet never hold a connection slot for good
# (self-managed caches should set `timeout` too; ElastiCache closes idle ones itself).
DEV_REDIS_ARGS = ("--save", "30 1", "--dbfilename", "dev.rdb", "--timeout", "300")


def dev_redis(data_dir: Path) -> RedisServer:
    return RedisServer(*DEV_REDIS_ARGS, data_dir=data_dir)


def _env_vars(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return {section: {k: str(v) for k, v in values.items()} for section, values in data.items()}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _pretty(color: bool) -> Callable[[str, str], str | None]:
    """A function's log line for a person: ``HitsFunction WARNING message (key=value …)``.
    EMF metrics lines are left out (``--metrics`` shows them); anything not JSON passes as
    it is (a traceback, a print)."""
    dim, bold, reset = ("\033[2m", "\033[1m", "\033[0m") if color else ("", "", "")
    quiet = {
        *("level", "message", "timestamp", "service", "location", "cold_start", "function_name"),
        *("function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "sampling_rate"),
    }

    def format_line(function: str, line: str) -> str | None:
        try:
            record = json.loads(line)
        except ValueError:
            return f"{dim}{function}{reset} {printable(line)}"
        if not isinstance(record, dict):
            return f"{dim}{function}{reset} {printable(line)}"
        if "_aws" in record:
            return None
        extra = " ".join(f"{k}={v}" for k, v in record.items() if k not in quiet and k != "correlation_id")
        level = str(record.get("level", ""))
        text = f"{dim}{function}{reset} {bold}{level}{reset} {printable(str(record.get('message', '')))}"
        return f"{text} {dim}({printable(extra)}){reset}" if extra else text

    return format_line


def _sink(log_format: str, metrics: bool) -> Callable[[str, str], None]:
    lock = threading.Lock()
    pretty = _pretty(color=sys.stderr.isatty())

    def sink(function: str, line: str) -> None:
        is_metrics = line.startswith('{"_aws"')
        if is_metrics and not metrics:
            return
        text = printable(line) if log_format == "json" or is_metrics else pretty(function, line)
        if text is not None:
            with lock:
                print(text, file=sys.stderr, flush=True)

    return sink


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0912, PLR0915 - one start-up, one shutdown
    parser = argparse.ArgumentParser(prog="python -m localapi", description=__doc__)
    parser.add_argument("--template", "-t", default="template.yaml", type=Path)
    parser.add_argument("--env-vars", "-n", default="env.json", type=Path, help="sam local --env-vars file")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", "-p", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument(
        "--recycle",
        action="store_true",
        default=_truthy(os.environ.get("LOCALAPI_RECYCLE")),
        help="a fresh process for every request (also LOCALAPI_RECYCLE=1): the statelessness check",
    )
    parser.add_argument(
        "--log-format",
        choices=["pretty", "json"],
        default=os.environ.get("LOCALAPI_LOG_FORMAT", "pretty"),
        help="function logs as readable lines (default) or as the JSON CloudWatch would get",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        default=_truthy(os.environ.get("LOCALAPI_METRICS")),
        help="also show the functions' EMF metrics lines (hidden by default)",
    )
    parser.add_argument(
        "--no-throttle",
        dest="throttle",
        action="store_false",
        default=not _truthy(os.environ.get("LOCALAPI_NO_THROTTLE")),
        help="do not enforce the template's route throttles (429 as API Gateway answers; also LOCALAPI_NO_THROTTLE=1)",
    )
    args = parser.parse_args(argv)

    # Ports first, before anything is started: a taken one is a clear error, not a hang.
    s3_port = int(os.environ.get("S3_PORT", "4566"))
    wants_s3 = not os.environ.get("AWS_ENDPOINT_URL_S3")
    for variable, host, port in (("PORT", args.host, args.port), ("S3_PORT", "127.0.0.1", s3_port)):
        if (variable == "PORT" or wants_s3) and _port_taken(host, port):
            print(
                f"Port {port} on {host} is taken: set {variable} to a free one (make dev {variable}=…).",
                file=sys.stderr,
            )
            return 2

    tpl = sam_template.load(args.template)
    env = _env_vars(args.env_vars)
    # Precedence: the shell's environment > env.json > the template. A variable a function
    # declares and the shell exports (KEY_PREFIX=x make dev) reaches the functions.
    declared = {name for fn in tpl.functions.values() for name in fn.environment}
    shell = {name: os.environ[name] for name in sorted(declared) if name in os.environ}
    env.setdefault("Parameters", {}).update(shell)
    for section, values in env.items():
        if section != "Parameters":
            values.update(shell)

    # Ctrl-C, SIGTERM and SIGHUP (the terminal closed) all stop everything this started, even
    # where the shell that launched us in the background left SIGINT ignored.
    def stop_signal(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop_signal)
    signal.signal(signal.SIGHUP, stop_signal)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    owned: RedisServer | None = None
    s3: LocalS3 | None = None
    app: LocalApi | None = None
    server: Server | None = None
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            data = args.template.resolve().parent / ".dev" / "redis"
            owned = dev_redis(data).start()
            redis_url = owned.url
            print(f"Started redis-server on 127.0.0.1:{owned.port} (data in {data})", file=sys.stderr)
        # The local server decides where Redis is; env.json's REDIS_URL is for `sam local`,
        # whose containers reach the host differently.
        env["Parameters"]["REDIS_URL"] = redis_url
        if wants_s3:
            s3 = LocalS3(port=s3_port).start()
            env["Parameters"].update(s3.env)
            for bucket in sorted({f.environment.get("IMPORTS_BUCKET", "") for f in tpl.functions.values()} - {""}):
                s3.client().create_bucket(Bucket=bucket)
                s3.client().put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=_sample_log())
                print(
                    f"Local S3 (moto) at {s3.url}, bucket {bucket}, with a sample log at {SAMPLE_KEY}", file=sys.stderr
                )

        # EDGE_PROTECTION=true (env.json or the shell): the template's edge in front, emulated
        # (localapi.edge): WAF's rate rule per client address, read-only badges cached.
        edge = None
        if _truthy(os.environ.get("EDGE_PROTECTION") or env["Parameters"].get("EDGE_PROTECTION")):
            tpl = sam_template.load(args.template, {"EdgeProtection": "true"})  # its throttles behind the edge
            edge = Edge.from_params(tpl.params, secrets.token_hex(24))
            print(f"Edge on: {edge.rate_limit} requests a minute per client address (EdgeRateLimit)", file=sys.stderr)
        app = LocalApi(
            tpl,
            env,
            recycle=args.recycle,
            access_log=sys.stderr,
            sink=_sink(args.log_format, args.metrics),
            throttle=args.throttle,
            edge=edge,
        )
        server = Server(app, args.host, args.port)
        for route in tpl.routes:
            print(f"Mounting {route.function} at {server.url}{route.path} [{route.method}]", file=sys.stderr)
        mode = "recycle: a fresh process per request" if args.recycle else "warm workers"
        print(f"Running on {server.url} ({mode}); code changes are picked up live. CTRL+C to stop.", file=sys.stderr)
        print(f"The dashboard: {server.url}/dashboard", file=sys.stderr)
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave a Redis behind.
        for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(stop, signal.SIG_IGN)
        if server:
            server.httpd.server_close()
        if app:
            app.close()
        if owned:
            owned.stop()
        if s3:
            s3.stop()
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
