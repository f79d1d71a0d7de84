"""Lambda's INIT contract, checked as Lambda does it: each handler imported in a fresh
interpreter (nothing of the test process imported first), with sockets refused. INIT must
build no settings, client or pool, so an environment that changes between INIT and the
first invocation is honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localapi.template import Template
from tests.support.events import EVENTS, ROOT
from tests.support.servers import RedisServer

pytestmark = pytest.mark.faults

PROBE = Path(__file__).with_name("init_probe.py")
FIRST_EVENT = {
    "HitsFunction": ("hits/get-root", 200),
    "SessionFunction": ("session/post-session", 201),
    "ImportsFunction": ("imports/get-import", 404),
    "DocsFunction": ("docs/get-openapi", 200),
}


@pytest.mark.parametrize("function", sorted(FIRST_EVENT))
def test_init_builds_nothing_and_the_first_invocation_reads_the_environment(
    function: str, template: Template, shared_redis: RedisServer
) -> None:
    fn = template.functions[function]
    shared_redis.client().flushall()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **fn.environment,
        # What INIT sees: a Redis that does not exist. Used at INIT, it would fail the test.
        "REDIS_URL": "redis://init-must-not-use-this.invalid:1/0",
        "PROBE_REDIS_URL": shared_redis.url,
        "KEY_PREFIX": "",
        "AWS_DEFAULT_REGION": "us-east-1",
        "IMPORTS_BUCKET": "probe-bucket",
    }
    name, status = FIRST_EVENT[function]
    site = [p for p in sys.path if p.endswith("site-packages")]
    env["PYTHONPATH"] = os.pathsep.join(site)  # the dependency layer's packages
    done = subprocess.run(
        [sys.executable, "-S", str(PROBE), str(fn.code_dir), str(fn.layer_dirs[0]), str(EVENTS / f"{name}.json")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["statusCode"] == status, result
    if function == "HitsFunction":
        assert shared_redis.client().get("{hits}:count") == "1"  # the invocation's Redis, not INIT's
