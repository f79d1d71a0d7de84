"""``python -m localapi``: serve template.yaml's HttpApi routes on 127.0.0.1:3000, no Docker.

Starts a redis-server of its own (data kept in .dev/) unless REDIS_URL is set in the
environment. Reads env.json in the format of ``sam local start-api --env-vars``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import LocalS3, RedisServer

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


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)

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
    owned: RedisServer | None = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        data = args.template.resolve().parent / ".dev" / "redis"
        owned = dev_redis(data).start()
        redis_url = owned.url
        print(f"Started redis-server on 127.0.0.1:{owned.port} (data in {data})", file=sys.stderr)
    # The local server decides where Redis is; env.json's REDIS_URL is for `sam local`, whose
    # containers reach the host differently.
    env.setdefault("Parameters", {})["REDIS_URL"] = redis_url

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    s3: LocalS3 | None = None
    if not os.environ.get("AWS_ENDPOINT_URL_S3"):
        s3 = LocalS3(port=int(os.environ.get("S3_PORT", "4566"))).start()
        env["Parameters"].update(s3.env)
        for bucket in sorted({f.environment.get("IMPORTS_BUCKET", "") for f in tpl.functions.values()} - {""}):
            s3.client().create_bucket(Bucket=bucket)
            print(f"Local S3 (moto) at {s3.url}, bucket {bucket}", file=sys.stderr)

    app = LocalApi(tpl, env, recycle=args.recycle, access_log=sys.stderr)
    server = Server(app, args.host, args.port)
    for route in tpl.routes:
        print(f"Mounting {route.function} at {server.url}{route.path} [{route.method}]", file=sys.stderr)
    mode = "recycle: a fresh process per request" if args.recycle else "warm workers"
    print(f"Running on {server.url} ({mode}); code changes are picked up live. CTRL+C to stop.", file=sys.stderr)

    # Ctrl-C and SIGTERM both stop everything this started, even where the shell that
    # launched us in the background left SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave a Redis behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.httpd.server_close()
        app.close()
        if owned:
            owned.stop()
        if s3:
            s3.stop()
        print("Stopped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
