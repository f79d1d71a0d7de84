"""In-process measurements: the warm path and its parts, round trips per hit, the cold start."""

from __future__ import annotations

import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

from bench.common import PY, ROOT, RUNS, client_address, load_event, per_call_us, referred
from localapi import template as sam_template
from localapi.services import RedisServer
from localapi.worker import LambdaContext

# --- warm ----------------------------------------------------------------------------------


def _load(function: str, module: str) -> Any:
    from localapi.modules import load_app

    loaded = load_app(ROOT / "functions" / function, module)
    sys.modules[module] = loaded
    return loaded


def warm(server: RedisServer) -> dict[str, Any]:
    """µs per in-process invocation vs one raw INCR, with the layers of the handler apart,
    plus GET /session and the seed's Flask view. Floor and subject alternate within each run,
    and ratios are taken per run, so drift in the machine's speed cancels out."""
    env = sam_template.load(ROOT / "template.yaml").functions["HitsFunction"].environment
    os.environ.update({**env, "REDIS_URL": server.url, "KEY_PREFIX": "bench:"})
    os.environ.update({"HOST_REDIS": "127.0.0.1", "PORT_REDIS": str(server.port)})
    sys.path[:0] = [str(ROOT / "layers/shared/python"), str(ROOT / "bench")]  # /opt/python
    hits = _load("hits", "app")
    session = _load("session", "session_app")
    from hitcounter.core.observability import logger, metrics
    from hitcounter.runtime import services

    devnull = open(os.devnull, "w")  # noqa: SIM115 - EMF metrics lines go here, not to the terminal
    real_stdout, sys.stdout = sys.stdout, devnull
    logger.registered_handler.setStream(devnull)  # type: ignore[attr-defined]
    raw = redis.Redis.from_url(server.url)
    event = load_event("hits/get-root")
    ctx = LambdaContext("bench", int(time.time() * 1000) + 3_600_000)
    sid = services().sessions.create()
    visit = load_event("session/get-session")
    visit["cookies"] = [f"__Host-sid={sid}"]
    seed = importlib.import_module("seed_app").app.test_client()
    with_metrics = metrics.log_metrics(hits.app.resolve)
    stats_event = load_event("hits/get-stats")
    stats_event["queryStringParameters"], stats_event["rawQueryString"] = {"period": "30d"}, "period=30d"
    page_event = load_event("hits/get-dashboard")
    store = services().hits
    from hitcounter.model.history import Visit

    step_visit = Visit(int(time.time() * 1000), "0" * 64)
    page_hit = load_event("hits/get-page")
    referred_hit = referred(load_event("hits/get-count"))
    badge = load_event("hits/get-page-badge")
    clients = iter(range(10**9))

    def counted(event: dict[str, Any]) -> dict[str, Any]:
        # A visitor of its own each time: a counted hit, not a reload or a limited one.
        event["requestContext"]["http"]["sourceIp"] = client_address(next(clients))
        return event

    subjects: dict[str, Callable[[], object]] = {
        "page": lambda: hits.lambda_handler(counted(page_hit), ctx),
        "referred": lambda: hits.lambda_handler(counted(referred_hit), ctx),
        "badge": lambda: hits.lambda_handler(counted(badge), ctx),
        "step": lambda: store.incr(step_visit),
        "stats": lambda: hits.lambda_handler(stats_event, ctx),
        "dashboard": lambda: hits.lambda_handler(page_event, ctx),
        "handler": lambda: hits.lambda_handler(event, ctx),
        "resolver": lambda: hits.app.resolve(event, ctx),
        "resolver_metrics": lambda: with_metrics(event, ctx),
        "session": lambda: session.lambda_handler(visit, ctx),
        "seed": lambda: seed.get("/"),
    }
    n = 2000
    ratios: dict[str, list[float]] = {name: [] for name in subjects}
    floors: list[float] = []
    try:
        for _ in range(RUNS):
            floor = per_call_us(lambda: raw.incr("bench:raw"), n)
            floors.append(floor)
            for name, fn in subjects.items():
                ratios[name].append(per_call_us(fn, n) / floor)
        redis_cpu = _server_cpu(
            raw, {"root": subjects["handler"], "page": subjects["page"], "referred": subjects["referred"]}, n
        )
    finally:
        sys.stdout = real_stdout
    incr = statistics.median(floors)
    # What one raw INCR varied by across runs: a part of the handler smaller than this is noise.
    result: dict[str, Any] = {"incr_us": incr, "noise_us": max(floors) - min(floors), **redis_cpu}
    for name, values in ratios.items():
        result[f"{name}_ratio"] = statistics.median(values)
        result[f"{name}_min"], result[f"{name}_max"] = min(values), max(values)
        result[f"{name}_us"] = statistics.median(values) * incr
    return result


def _server_cpu(raw: redis.Redis, subjects: dict[str, Callable[[], object]], n: int) -> dict[str, Any]:
    """Redis's CPU per call of each subject's script: ``redis_<name>_us``, the median of RUNS
    measures (it moves with the host from one measure to the next), the subjects taking turns;
    ``redis_<name>_spread`` the measures' min and max."""
    measured: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(RUNS):
        for name, values in measured.items():
            values.append(_server_us(raw, subjects[name], n))
    out: dict[str, Any] = {}
    for name, values in measured.items():
        out[f"redis_{name}_us"] = statistics.median(values)
        out[f"redis_{name}_spread"] = (min(values), max(values))
    return out


def _server_us(raw: redis.Redis, fn: Callable[[], object], n: int) -> float:
    """Redis's own CPU per call of ``fn``'s one script (INFO commandstats): what ElastiCache
    Serverless bills as ECPUs."""
    raw.config_resetstat()
    for _ in range(n):
        fn()
    return float(raw.info("commandstats")["cmdstat_evalsha"]["usec_per_call"])


def badge_render() -> dict[str, float]:
    """The badge alone: its size, and the time to draw it (no Redis)."""
    from hitcounter.web import badge

    svg = badge.render("views", 1_234_567)
    from importlib.resources import files

    script = files("hitcounter.web").joinpath("count.js").read_bytes()
    return {
        "bytes": len(svg.encode()),
        "render_us": per_call_us(lambda: badge.render("views", 1_234_567), 20_000),
        "count_js_bytes": len(script),
    }


def bot_classification() -> dict[str, float]:
    """Telling a bot from a person (hitcounter.model.bots), no Redis: the first call (the
    list compiled), a browser's agent seen before (the cache), and a new agent every call
    (a browser's agent: the list tried in full; a crawler's: until its pattern matches),
    what a client that varies its agent makes each request cost; and the worst of an
    adversarial corpus (``devtools.agents``), each agent new, for ours and for
    CrawlerDetect's own matcher (Python's backtracking ``re``)."""
    from crawlerdetect import CrawlerDetect

    from devtools.agents import adversarial
    from hitcounter.model import bots

    bots.listed.cache_clear()
    bots._matcher.cache_clear()
    re.purge()  # Python's own cache of compiled patterns
    browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
    started = time.perf_counter()
    bots.reason(browser, "en")
    first_ms = (time.perf_counter() - started) * 1000
    counter = iter(range(10**9))
    crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    return {
        "first_ms": first_ms,
        "cached_us": per_call_us(lambda: bots.reason(browser, "en"), 20_000),
        "new_agent_us": per_call_us(lambda: bots.reason(f"{browser} {next(counter)}", "en"), 2_000),
        "crawler_us": per_call_us(lambda: bots.reason(f"{crawler} {next(counter)}", "en"), 2_000),
        "worst_adversarial_us": _worst_us(adversarial(), bots.listed),
        "worst_adversarial_crawlerdetect_us": _worst_us(adversarial(300), CrawlerDetect()._check_crawler),
    }


def _worst_us(agents: list[str], classify: Any) -> float:
    """The slowest single classification of ``agents`` (each seen once, after one pass that
    warms the automaton's states), in µs: the median of three passes' worst, so one
    scheduling hiccup does not make the figure."""
    from hitcounter.model import bots

    worst = []
    for _ in range(4):
        bots.listed.cache_clear()
        slowest = 0.0
        for agent in agents:
            started = time.perf_counter()
            classify(agent)
            slowest = max(slowest, time.perf_counter() - started)
        worst.append(slowest * 1e6)
    return sorted(worst[1:])[1]


def part(label: str, microseconds: float, noise: float) -> str:
    """A part of the warm path: its cost, or that it is within the noise (never negative)."""
    if microseconds < noise:
        return f"{label} within the noise (< {noise:.0f} µs)"
    return f"{label} {microseconds:.0f} µs"


def round_trips(server: RedisServer) -> dict[str, float]:
    """Round trips to Redis per counted hit (what the client sends, counted where redis-py
    sends it: a script is one, whatever it runs inside), for ours and the seed's view."""
    from tests.support.redis_calls import round_trips as sent_during

    def commands_during(fn: Callable[[], object], n: int) -> float:
        fn()  # connect first: the handshake is per connection, not per hit
        return sent_during(lambda: [fn() for _ in range(n)]) / n

    app = sys.modules["app"]
    ctx = LambdaContext("bench", int(time.time() * 1000) + 3_600_000)
    seed = importlib.import_module("seed_app").app.test_client()
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        ours = commands_during(lambda: app.lambda_handler(load_event("hits/get-root"), ctx), 100)
        theirs = commands_during(lambda: seed.get("/"), 100)
    finally:
        sys.stdout = real_stdout
    return {"ours": ours, "seed": theirs}


def read_waits(server: RedisServer) -> dict[str, dict[str, dict[str, int]]]:
    """How many times each read route waits on Redis (a command, or a pipeline: a cluster's
    goes to its nodes together), its day's first (the unions made) and in steady state, on
    this Redis and on a local 3-master cluster: what tests/test_read_waits.py holds."""
    from hitcounter import runtime
    from tests.support.events import invoker
    from tests.support.read_routes import read_routes
    from tests.support.redis_calls import waits
    from tests.support.servers import RedisCluster3

    app = sys.modules["app"]
    saved = {k: os.environ.get(k) for k in ("REDIS_URL", "REDIS_MODE", "KEY_PREFIX")}
    out: dict[str, dict[str, dict[str, int]]] = {}
    cluster = RedisCluster3().start()
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        for topology, env in (
            ("standalone", {"REDIS_URL": server.url, "REDIS_MODE": "standalone", "KEY_PREFIX": "bench-reads:"}),
            ("cluster", {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster", "KEY_PREFIX": ""}),
        ):
            os.environ.update(env)
            runtime.reset()
            reads = read_routes(invoker(app))
            first = {name: waits(read) for name, read in reads.items()}
            out[topology] = {name: {"first": first[name], "steady": waits(read)} for name, read in reads.items()}
    finally:
        sys.stdout = real_stdout
        cluster.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        runtime.reset()
    return out


# --- cold ----------------------------------------------------------------------------------

COLD_HANDLER = """
import json, sys, time
sys.path[:0] = [{code!r}, {layer!r}]
from app import lambda_handler
from localapi.worker import LambdaContext
event = json.load(open({event!r}))
r = lambda_handler(event, LambdaContext("cold", int(time.time() * 1000) + 10000))
assert r["statusCode"] == 200, r
"""
COLD_FLOOR = """
import redis
redis.Redis.from_url({url!r}).incr("bench:cold")
"""


def cold(server: RedisServer) -> dict[str, Any]:
    env = {
        **os.environ,
        **sam_template.load(ROOT / "template.yaml").functions["HitsFunction"].environment,
        "REDIS_URL": server.url,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    handler = COLD_HANDLER.format(
        code=str(ROOT / "functions/hits"),
        layer=str(ROOT / "layers/shared/python"),
        event=str(ROOT / "events/hits/get-root.json"),
    )
    floor = COLD_FLOOR.format(url=server.url)

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([PY, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
        return (time.perf_counter() - start) * 1000

    runs = max(RUNS, 7)
    run(handler), run(floor)  # warm the page cache for both
    floors, handlers = [], []
    for _ in range(runs):  # alternate, and take the ratio per run: drift hits both alike
        floors.append(run(floor))
        handlers.append(run(handler))
    ratios = [h / f for h, f in zip(handlers, floors, strict=True)]
    result: dict[str, Any] = {
        "floor_ms": statistics.median(floors),
        "handler_ms": statistics.median(handlers),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }
    out = subprocess.run(
        [PY, "-X", "importtime", "-c", handler], env=env, check=True, capture_output=True, text=True
    ).stderr
    rows = []
    for line in out.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (p.strip() for p in line[len("import time:") :].split("|"))
            if not name.startswith(" "):
                rows.append((int(cumulative), name.strip()))
    top = sorted(((us, n) for us, n in rows if not n.startswith((" ",))), reverse=True)
    result["top_imports"] = [(n, us / 1000) for us, n in top if "." not in n][:8]
    return result


# --- hiredis -------------------------------------------------------------------------------

_HIREDIS_PROBE = """
import json, os, sys, time
if os.environ["BENCH_HIREDIS"] == "0":
    sys.modules["hiredis"] = None  # redis-py then packs and parses in Python
sys.path[:0] = [os.environ["BENCH_ROOT"], os.environ["BENCH_ROOT"] + "/layers/shared/python"]
import redis
from bench.common import client_address, load_event, per_call_us
from localapi.modules import load_app
from localapi.worker import LambdaContext
from pathlib import Path
app = load_app(Path(os.environ["BENCH_ROOT"]) / "functions" / "hits", "app")
ctx = LambdaContext("bench", int(time.time() * 1000) + 3_600_000)
root, page = load_event("hits/get-root"), load_event("hits/get-page")
n = iter(range(10**9))
def counted(event):
    event["requestContext"]["http"]["sourceIp"] = client_address(next(n))
    return event
raw = redis.Redis.from_url(os.environ["REDIS_URL"])
def cpu_us(fn, n):  # the client's own CPU per call: the wait on the socket is not in it
    return per_call_us(fn, n, clock=time.process_time)
sys.stdout, real = open(os.devnull, "w"), sys.stdout
out = {
    "hiredis": redis.utils.HIREDIS_AVAILABLE,
    "incr_us": cpu_us(lambda: raw.incr("bench:raw"), 3000),
    "root_us": cpu_us(lambda: app.lambda_handler(load_event("hits/get-root"), ctx), 2000),
    "page_us": cpu_us(lambda: app.lambda_handler(counted(page), ctx), 2000),
}
sys.stdout = real
print(json.dumps(out))
"""


def hiredis_saving(server: RedisServer) -> dict[str, float]:
    """The client's CPU µs per in-process call of GET / and of a page hit, and of one raw INCR,
    with hiredis and without it (blocked, so redis-py packs and parses in Python), in fresh interpreters
    taking turns: what the layer's hiredis saves each route, measured in the same run."""
    env = sam_template.load(ROOT / "template.yaml").functions["HitsFunction"].environment
    base = {**os.environ, **env, "REDIS_URL": server.url, "KEY_PREFIX": "bench:hiredis:", "BENCH_ROOT": str(ROOT)}
    runs: dict[str, list[dict[str, float]]] = {"1": [], "0": []}
    for _ in range(RUNS):
        for flag in ("1", "0"):
            done = subprocess.run(
                [PY, "-c", _HIREDIS_PROBE],
                env={**base, "BENCH_HIREDIS": flag},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[flag].append(json.loads(done.stdout.strip().splitlines()[-1]))
    result: dict[str, float] = {}
    for flag, name in (("1", "with"), ("0", "without")):
        for key in ("incr_us", "root_us", "page_us"):
            result[f"{name}_{key}"] = statistics.median(run[key] for run in runs[flag])
    return result
