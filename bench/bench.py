"""``make bench``: the project's speed as ratios to floors measured in the same run.

Writes BENCHMARKS.md. Every figure is a median over several runs on this machine, with a
Redis this script starts itself; nothing here is a pass/fail test.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import RedisServer
from localapi.worker import LambdaContext

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def per_call_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(50):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return event


# --- warm ----------------------------------------------------------------------------------


def _load(function: str, module: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(module, ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    sys.modules[module] = loaded
    return loaded


def warm(server: RedisServer) -> dict[str, float]:
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
    subjects: dict[str, Callable[[], object]] = {
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
    finally:
        sys.stdout = real_stdout
    incr = statistics.median(floors)
    # What one raw INCR varied by across runs: a part of the handler smaller than this is noise.
    result = {"incr_us": incr, "noise_us": max(floors) - min(floors)}
    for name, values in ratios.items():
        result[f"{name}_ratio"] = statistics.median(values)
        result[f"{name}_min"], result[f"{name}_max"] = min(values), max(values)
        result[f"{name}_us"] = statistics.median(values) * incr
    return result


def part(label: str, microseconds: float, noise: float) -> str:
    """A part of the warm path: its cost, or that it is within the noise (never negative)."""
    if microseconds < noise:
        return f"{label} within the noise (< {noise:.0f} µs)"
    return f"{label} {microseconds:.0f} µs"


def round_trips(server: RedisServer) -> dict[str, float]:
    """Round trips to Redis per counted hit (what the client sends, counted where redis-py
    sends it: a script is one, whatever it runs inside), for ours and the seed's view."""
    from redis.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)  # type: ignore[no-untyped-call]

    def commands_during(fn: Callable[[], object], n: int) -> float:
        fn()  # connect first: the handshake is per connection, not per hit
        sent[0] = 0
        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        try:
            for _ in range(n):
                fn()
        finally:
            AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
        return sent[0] / n

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


# --- local server ----------------------------------------------------------------------------


# The load runs in its own process, the same for both servers: a client thread inside the
# benchmark's process would share a GIL with the servers' threads and skew the comparison.
HTTP_CLIENT = """
import http.client, json, sys, threading, time
port, n, clients, each = (int(a) for a in sys.argv[1:5])
def latencies(count):
    out = []
    for _ in range(count):
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200
        out.append((time.perf_counter() - start) * 1000)
    return out
latencies(50)
sequential = latencies(n)
threads = [threading.Thread(target=latencies, args=(each,)) for _ in range(clients)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"latencies": sequential, "rps": clients * each / (time.perf_counter() - start)}))
"""


def _http_load(port: int, n: int, clients: int, each: int) -> dict[str, Any]:
    out = subprocess.run(
        [PY, "-c", HTTP_CLIENT, str(port), str(n), str(clients), str(each)], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def local_server(server: RedisServer) -> dict[str, dict[str, float]]:
    from werkzeug.serving import make_server

    results: dict[str, dict[str, float]] = {}
    tpl = sam_template.load(ROOT / "template.yaml")
    ours = Server(LocalApi(tpl, {"Parameters": {"REDIS_URL": server.url}})).start()
    seed_app = importlib.import_module("seed_app").app
    seed = make_server("127.0.0.1", 0, seed_app, threaded=True)
    threading.Thread(target=seed.serve_forever, daemon=True).start()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        runs: dict[str, list[dict[str, Any]]] = {"local_api": [], "seed_flask": []}
        for _ in range(RUNS):  # alternate the two servers, so drift hits both alike
            for name, port in (("local_api", ours.port), ("seed_flask", seed.server_port)):
                runs[name].append(_http_load(port, 200, 4, 100))
        for name, done in runs.items():
            q = statistics.quantiles([x for r in done for x in r["latencies"]], n=100)
            results[name] = {"p50_ms": q[49], "p99_ms": q[98], "rps": statistics.median(r["rps"] for r in done)}
        per_run = [
            statistics.median(a["latencies"]) / statistics.median(b["latencies"])
            for a, b in zip(runs["local_api"], runs["seed_flask"], strict=True)
        ]
        results["p50_ratio"] = {"min": min(per_run), "max": max(per_run)}
    finally:
        ours.stop()
        seed.shutdown()
    return results


# --- imports ------------------------------------------------------------------------------------

IMPORT_PARSE = """
import json, resource, sys, time
from pathlib import Path
from hitcounter.logic.accesslog import summarize, _digest
path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter(); _digest(path); floor = time.perf_counter() - start
start = time.perf_counter(); s = summarize(path); took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": took, "floor_seconds": floor, "peak_growth_kib": peak - before, "lines": s.lines}))
"""


def imports_parse() -> dict[str, float]:
    """MB/s of the streaming parser on a generated gzip log (vs only reading and hashing it),
    and how much the parsing process's peak memory grew."""
    sys.path.insert(0, str(ROOT))
    from devtools.accesslogs import generate

    log = generate(400_000, seed=6)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log.gz"
        gz = log.gzipped()
        path.write_bytes(gz)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "layers/shared/python")}
        runs = [
            json.loads(
                subprocess.run(
                    [PY, "-c", IMPORT_PARSE, str(path)], env=env, check=True, capture_output=True, text=True
                ).stdout
            )
            for _ in range(3)
        ]
    mb = len(log.text) / 1e6
    return {
        "log_mb": mb,
        "gzip_mb": len(gz) / 1e6,
        "mb_per_s": mb / statistics.median(r["seconds"] for r in runs),
        "hash_mb_per_s": len(gz) / 1e6 / statistics.median(r["floor_seconds"] for r in runs),
        "peak_growth_mib": statistics.median(r["peak_growth_kib"] for r in runs) / 1024,
    }


HOSTILE_PARSE = """
import json, sys, time
from pathlib import Path
from hitcounter.logic.accesslog import Limits, summarize
from hitcounter.core.errors import AppError
path, cap = Path(sys.argv[1]), int(sys.argv[2])
def kib(field):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
    return int(line.split()[1])
# Reset the peak-RSS mark (Linux clear_refs 5), so the peak is the parse's, not the imports'.
Path("/proc/self/clear_refs").write_text("5")
before = kib("VmRSS:")
start = time.perf_counter()
try:
    s = summarize(path, Limits(max_decompressed=cap)); outcome = f"done: {s.lines} lines, {s.long_lines} too long"
except AppError as err:
    outcome = f"refused: {err.code}"
took = time.perf_counter() - start
print(json.dumps({"seconds": took, "peak_growth_kib": kib("VmHWM:") - before, "outcome": outcome}))
"""


def hostile_imports() -> list[dict[str, Any]]:
    """Peak memory growth of the parser on the hostile-input report's logs (goal < 64 MiB)."""
    import gzip

    line = b'198.51.100.7 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512\n'
    paths = (
        b"".join(
            b'198.51.100.7 - - [23/Nov/2026:10:00:00 +0000] "GET /%d/%s HTTP/1.1" 200 1\n' % (i, b"p" * 8000)
            for i in range(10_000)
        )
        + b'1.2.3.4 - - [x] "GET /%s HTTP/1.1" 200 1\n' % (b"q" * 700_000) * 10
    )
    block = line * (10 * 1024**2 // len(line))
    cases = [
        ("one 1 GiB line", gzip.compress(b"A" * 16 * 1024**2, mtime=0) * 64, 2 * 1024**3),
        ("10,000 distinct 8 KB paths + ten 700,000-character paths", gzip.compress(paths, mtime=0), 2 * 1024**3),
        ("gzip bomb: 6.7 GB of lines, stopped at a 256 MiB bound", gzip.compress(block, mtime=0) * 640, 256 * 1024**2),
        ("random bytes (no NUL)", os.urandom(8 * 1024**2).replace(b"\x00", b"\x01"), 2 * 1024**3),
    ]
    out = []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers/shared/python")}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, cap in cases:
            path = Path(tmp) / "hostile"
            path.write_bytes(data)
            done = subprocess.run(
                [PY, "-c", HOSTILE_PARSE, str(path), str(cap)], env=env, check=True, capture_output=True, text=True
            )
            result = json.loads(done.stdout)
            out.append({"name": name, "mb": len(data) / 1e6, **result})
    return out


# --- hot key: sharded counter on a local three-master cluster -------------------------------------


def hot_key() -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from hitcounter.core.settings import load_settings
    from hitcounter.data.hit_store import HitStore
    from hitcounter.data.redis_client import RedisHandle
    from hitcounter.model.history import Visit, visitor_key
    from tests.support.servers import RedisCluster3

    cluster = RedisCluster3().start()
    out: dict[str, float] = {}
    try:
        for shards in (1, 8):
            cluster.flushall()
            env = {"REDIS_URL": cluster.url, "REDIS_MODE": "cluster"}
            store = HitStore(RedisHandle(load_settings(env).redis), "", 86400, shards)
            threads, each = 4, 1500

            def work(store: HitStore = store, each: int = each) -> None:
                for i in range(each):
                    # Many visitors, as a hot counter has: they spread over the shards.
                    store.incr(Visit(time.time_ns() // 1_000_000, visitor_key(f"10.0.{i % 250}.{i % 7}", "bench")))

            pool = [threading.Thread(target=work) for _ in range(threads)]
            start = time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            elapsed = time.perf_counter() - start
            out[f"shards{shards}_rps"] = threads * each / elapsed
            out[f"shards{shards}_exact"] = float(store.count() == threads * each)
            store.close()
    finally:
        cluster.stop()
    return out


# --- size -------------------------------------------------------------------------------------


def sizes() -> dict[str, tuple[int, int]]:
    """Bytes unzipped and zipped of each function and layer as `sam build` makes them."""
    out: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
        subprocess.run(
            ["sam", "build", "--build-dir", f"{tmp}/build", "--cache-dir", f"{tmp}/cache"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        tpl = sam_template.load(ROOT / "template.yaml")
        dirs = {p.name: p for p in Path(f"{tmp}/build").iterdir() if p.is_dir()}
        dirs["SharedLayer"] = ROOT / "layers/shared"  # shipped as it is, not copied by sam build
        for name, path in sorted(dirs.items()):
            files = [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
            raw = sum(f.stat().st_size for f in files)
            archive = Path(tmp) / f"{name}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for f in files:
                    z.write(f, f.relative_to(path))
            out[name] = (raw, archive.stat().st_size)
        assert tpl.functions
    return out


# --- report -----------------------------------------------------------------------------------


def main() -> None:  # noqa: PLR0915 - one report
    from bench import runtime

    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(data_dir=Path(data)).start()
        try:
            print("through the Lambda runtime (RIE + awslambdaric)…", file=sys.stderr)
            rie = runtime.measure(server.url, runs=RUNS)
            print("memory after 1,000 invocations…", file=sys.stderr)
            peaks = runtime.memory(server.url)
            peaks["ImportWorkerFunction"] = runtime.import_memory(server.url)
            print("the local loop…", file=sys.stderr)
            loop = runtime.local_loop(server.url)
            print("warm…", file=sys.stderr)
            w = warm(server)
            print("round trips…", file=sys.stderr)
            rt = round_trips(server)
            print("cold…", file=sys.stderr)
            c = cold(server)
            print("local server…", file=sys.stderr)
            ls = local_server(server)
        finally:
            server.stop()
    print("imports…", file=sys.stderr)
    imp = imports_parse()
    print("hostile imports…", file=sys.stderr)
    hostile = hostile_imports()
    print("hot key (three-master cluster)…", file=sys.stderr)
    hk = hot_key()
    print("sizes (sam build)…", file=sys.stderr)
    sz = sizes()

    warm_ratio = w["handler_ratio"]
    # The handler as it was before the history: the same run's handler with its counting step
    # (now a script) swapped for the one INCR it used to be.
    history_before = (w["handler_us"] - w["step_us"] + w["incr_us"]) / w["incr_us"]
    cold_ratio = c["ratio"]
    local_ratio = ls["local_api"]["p50_ms"] / ls["seed_flask"]["p50_ms"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    seed_ratio = w["seed_ratio"]
    p99_ratio = ls["local_api"]["p99_ms"] / ls["seed_flask"]["p99_ms"]
    rps_ratio = ls["local_api"]["rps"] / ls["seed_flask"]["rps"]

    def ratio(key: str) -> tuple[float, float, float]:
        spread = rie["ratio"][key]  # per run: both runtimes measured side by side
        return spread["median"], spread["min"], spread["max"]

    rie_warm, rie_billed, rie_first = ratio("warm"), ratio("duration"), ratio("first")
    hits_duration = rie["ours"]["duration"]["median"]
    chosen = {name: runtime.choose_memory_mb(peak) for name, peak in peaks.items()}
    lines = [
        "# Benchmarks",
        "",
        f"Made by `make bench` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {_redis_version()} on loopback. Ratios are medians, with their min–max over runs.",
        "",
        "## Through the Lambda runtime",
        "",
        "The function as `sam build` made it, under the Runtime Interface Emulator shipped in aws-sam-cli, with "
        "`awslambdaric` (Lambda's own runtime client), invoked over the emulator's HTTP endpoint with "
        "`events/hits/get-root.json`; the floor is the same runtime running a bare handler that sends one `INCR`. "
        f"{RUNS} runs (after one that warms the page cache), each with a fresh pair of runtimes taking turns "
        "(300 warm invocations each), the ratio taken per run.",
        "",
        "| measure | ours | bare `INCR` handler | ratio (min–max) | goal |",
        "|---|---|---|---|---|",
        f"| warm invocation, as the caller sees it | {rie['ours']['warm']['median']:.2f} ms "
        f"| {rie['bare']['warm']['median']:.2f} ms | {rie_warm[0]:.2f}× ({rie_warm[1]:.2f}–{rie_warm[2]:.2f}) "
        f"| ≤ 1.1×: {verdict(rie_warm[0] <= 1.1)} |",
        f"| billed `Duration` (the emulator's REPORT line) | {rie['ours']['duration']['median']:.2f} ms "
        f"| {rie['bare']['duration']['median']:.2f} ms "
        f"| {rie_billed[0]:.2f}× ({rie_billed[1]:.2f}–{rie_billed[2]:.2f}) "
        f"| ≤ 1.5×: {verdict(rie_billed[0] <= 1.5)} |",
        f"| first invocation of a fresh runtime, INIT included | {rie['ours']['first']['median']:.0f} ms "
        f"| {rie['bare']['first']['median']:.0f} ms | {rie_first[0]:.2f}× ({rie_first[1]:.2f}–{rie_first[2]:.2f}) "
        f"| ≤ 1.3×: {verdict(rie_first[0] <= 1.3)} |",
        "",
        "## Memory and cost",
        "",
        "Peak RSS of the runtime process after 1,000 warm invocations of each function's events (the import "
        "worker: importing a generated 100 MB log). The HTTP functions' `MemorySize` in `template.yaml` is half "
        "again the peak, rounded up to 64 MB, at least 128 MB. The import worker keeps 1024 MB for its CPU, not its "
        f"memory: Lambda gives CPU in proportion to memory, the parser is CPU-bound ({imp['mb_per_s']:.0f} MB/s "
        "on a full core here), and at 128 MB (about 7% of a vCPU) a log at the 2 GiB bound could not finish "
        "within the worker's 300 s.",
        "",
        "| function | peak RSS | `MemorySize` chosen |",
        "|---|---|---|",
        *(
            f"| {name} | {peak:.0f} MiB | {1024 if name == 'ImportWorkerFunction' else chosen[name]} MB |"
            for name, peak in peaks.items()
        ),
        "",
        f"One million `GET /` on arm64 at the measured billed duration ({hits_duration:.2f} ms, rounded up to "
        f"whole ms as Lambda bills): **${runtime.cost_per_million(hits_duration, chosen['HitsFunction']):.2f}** "
        f"at {chosen['HitsFunction']} MB, against ${runtime.cost_per_million(hits_duration, 512):.2f} at 512 MB "
        f"(${runtime.ARM64_GB_SECOND_USD} per GB-second and ${runtime.REQUESTS_PER_MILLION_USD} per million "
        f"requests, us-east-1 list prices, {runtime.PRICE_DATE}; API Gateway's own price is not included). "
        f"The duration was measured on a full core of this {platform.machine()} host: at 128 MB Lambda gives about "
        "7% of a vCPU, so the CPU part of each invocation takes longer there and bills accordingly; raise "
        "`MemorySize` where latency matters more than cost.",
        "",
        "## The local loop",
        "",
        f"`make dev` (set-up done) answers its first request {loop['first_answer_s']:.1f} s after it starts, and a "
        f"change saved in a function shows in the next response {loop['change_visible_s']:.2f} s later, with no "
        "build. For the record, `sam local start-api` (measured once on this host on 2026-11-24 with "
        "`devtools.samlocal`'s recipe, not by this run): 6 s to start with "
        "warm containers, then 24 ms per request, or 1.7 s per request without them (aws-sam-cli#362), and a "
        "`sam build` after every change.",
        "",
        "## In process",
        "",
        "The breakdown: the handler called in this process, no runtime in between.",
        "",
        "| measure | ours | floor | ratio | goal |",
        "|---|---|---|---|---|",
        f"| warm: in-process `GET /` vs one raw redis-py `INCR` | {w['handler_us']:.0f} µs | {w['incr_us']:.0f} µs "
        f"| {warm_ratio:.2f}× ({w['handler_min']:.2f}–{w['handler_max']:.2f}) "
        f"| ≤ 1.5×: {verdict(warm_ratio <= 1.5)} |",
        f"| warm, parts: Powertools resolver + route (no Logger, no Metrics) | {w['resolver_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['resolver_ratio']:.2f}× | |",
        f"| warm, parts: resolver + Metrics flush (no Logger) | {w['resolver_metrics_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['resolver_metrics_ratio']:.2f}× | |",
        f"| warm: the seed's Flask view (test client) vs `INCR` | {w['seed_us']:.0f} µs | {w['incr_us']:.0f} µs "
        f"| {seed_ratio:.2f}× | (reference) |",
        f"| sessions: in-process `GET /session` (one EVALSHA) vs `INCR` | {w['session_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['session_ratio']:.2f}× | |",
        f"| hit history: the counting step (one EVALSHA: the INCR, three buckets, the visitor) vs one `INCR` "
        f"| {w['step_us']:.0f} µs | {w['incr_us']:.0f} µs | {w['step_ratio']:.2f}× "
        f"({w['step_min']:.2f}–{w['step_max']:.2f}) | |",
        f"| hit history: warm `GET /` before it (this run's handler with the step swapped for one `INCR`) "
        f"→ after | {history_before:.2f}× → {warm_ratio:.2f}× | | +{warm_ratio - history_before:.2f}× | |",
        f"| hit history: in-process `GET /stats?period=30d` (one pipeline of reads) vs `INCR` | {w['stats_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['stats_ratio']:.2f}× | |",
        f"| hit history: in-process `GET /dashboard` (the same read, rendered) vs `INCR` | {w['dashboard_us']:.0f} µs "
        f"| {w['incr_us']:.0f} µs | {w['dashboard_ratio']:.2f}× | |",
        f"| Redis round trips per counted hit (the count and its history are one script) | {rt['ours']:.2f} "
        f"| seed: {rt['seed']:.2f} | "
        f"| 1: {verdict(rt['ours'] <= 1)} |",
        f"| cold: fresh interpreter, import handler, first `GET /` vs import redis + connect + `INCR` "
        f"| {c['handler_ms']:.0f} ms | {c['floor_ms']:.0f} ms "
        f"| {cold_ratio:.2f}× ({c['ratio_min']:.2f}–{c['ratio_max']:.2f}) "
        f"| ≤ 1.5×: {verdict(cold_ratio <= 1.5)} |",
        f"| local server p50, `GET /` over HTTP vs the seed's Flask app (same Redis, same server library) "
        f"| {ls['local_api']['p50_ms']:.2f} ms | {ls['seed_flask']['p50_ms']:.2f} ms "
        f"| {local_ratio:.2f}× ({ls['p50_ratio']['min']:.2f}–{ls['p50_ratio']['max']:.2f}) "
        f"| ≤ 1.0×: {verdict(local_ratio <= 1.0)} |",
        f"| local server p99 | {ls['local_api']['p99_ms']:.2f} ms | {ls['seed_flask']['p99_ms']:.2f} ms "
        f"| {p99_ratio:.2f}× | |",
        f"| local server throughput, 4 clients | {ls['local_api']['rps']:.0f} req/s "
        f"| {ls['seed_flask']['rps']:.0f} req/s "
        f"| {rps_ratio:.2f}× | |",
        f"| imports: streaming parse of a {imp['log_mb']:.0f} MB log ({imp['gzip_mb']:.1f} MB gzip) "
        f"vs only reading and hashing the file | {imp['mb_per_s']:.0f} MB/s | {imp['hash_mb_per_s']:.0f} MB/s (gzip) "
        f"| | |",
        f"| imports: peak memory growth while parsing it | {imp['peak_growth_mib']:.1f} MiB | | | constant |",
        *(
            f"| imports, hostile: {h['name']} ({h['mb']:.1f} MB stored): {h['outcome']} in {h['seconds']:.1f} s, "
            f"peak memory growth | {h['peak_growth_kib'] / 1024:.1f} MiB | | | < 64 MiB: "
            f"{verdict(h['peak_growth_kib'] / 1024 < 64)} |"
            for h in hostile
        ),
        f"| hot key: 4 threads × 1500 `GET /` increments on a local 3-master cluster, `HITS_SHARDS=8` vs 1 "
        f"| {hk['shards8_rps']:.0f}/s | {hk['shards1_rps']:.0f}/s | {hk['shards8_rps'] / hk['shards1_rps']:.2f}× "
        f"| totals exact: {'yes' if hk['shards8_exact'] and hk['shards1_exact'] else '**no**'} |",
        "",
        "Top imports of the cold start (cumulative ms, `python -X importtime`): "
        + ", ".join(f"`{n}` {ms:.0f}" for n, ms in c["top_imports"])
        + ".",
        "",
        "## Deployment size (`sam build`)",
        "",
        "| artifact | unzipped | zipped |",
        "|---|---|---|",
        *(f"| {name} | {raw / 1024:.0f} KiB | {zipped / 1024:.0f} KiB |" for name, (raw, zipped) in sz.items()),
        "",
    ]
    lines += ["## Goals not met, and why", ""]
    if rie_warm[0] > 1.1 or rie_billed[0] > 1.5:
        extra = rie["ours"]["duration"]["median"] - rie["bare"]["duration"]["median"]
        lines.append(
            f"- **Through the runtime, warm {rie_warm[0]:.2f}× (goal 1.1×).** The runtime's own round trip (HTTP to "
            f"the emulator, the Runtime API, JSON in and out) is {rie['bare']['warm']['median']:.2f} ms for the bare "
            f"handler; ours adds {extra:.2f} ms of billed work, which is the in-process breakdown below: the "
            "counting step (one script that also writes the hit's history, against the bare handler's one `INCR`), "
            "the Powertools resolver and route, the Logger's context and the Metrics flush, per invocation. "
            + (
                f"The billed `Duration` stays within its goal ({rie_billed[0]:.2f}×, goal 1.5×)."
                if rie_billed[0] <= 1.5
                else f"The billed `Duration` ({rie_billed[0]:.2f}×) now misses its 1.5× goal too: the history "
                f"script adds {w['step_us'] - w['incr_us']:.0f} µs in process (warm `GET /` "
                f"{history_before:.2f}× before it, {warm_ratio:.2f}× after, in this run), the price of the "
                "buckets and the unique visitors in the same round trip."
            )
        )
    if rie_first[0] > 1.3:
        lines.append(
            f"- **First invocation {rie_first[0]:.2f}× (goal 1.3×).** INIT imports more than the bare handler's "
            "`redis`: Powertools' event handler, Logger and Metrics and the shared layer (the cold-start import "
            "times below). Both runtimes start the same interpreter and client; the difference is those imports, "
            "about 100 ms here."
        )
    if warm_ratio > 1.5:
        noise = w["noise_us"]
        parts = ", ".join(
            (
                part("the counting step's script beyond one INCR (the history)", w["step_us"] - w["incr_us"], noise),
                part("the Powertools resolver and route", w["resolver_us"] - w["step_us"], noise),
                part("the Metrics flush", w["resolver_metrics_us"] - w["resolver_us"], noise),
                part("the Logger's per-invocation context", w["handler_us"] - w["resolver_metrics_us"], noise),
            )
        )
        lines += [
            f"- **Warm in process {warm_ratio:.2f}× (goal 1.5×).** Measured apart: {parts}. On loopback an INCR takes "
            f"{w['incr_us']:.0f} µs, so any framework's per-invocation work shows. Reaching 1.5× would take a "
            "hand-written dispatch for the hits route instead of Powertools' resolver, and metrics flushed less "
            "often than per invocation. That trades the field's library and per-request metrics for about 50 µs. "
            "Against ElastiCache inside a VPC a round trip takes longer than on loopback, so the same fixed overhead "
            "weighs less; that is an expectation, not measured here.",
        ]
    if local_ratio > 1.0:
        lines += [
            f"- **Local server p50 {local_ratio:.2f}× the seed (goal 1.0×).** The server's own work is about 30 µs "
            "and the pipe round trip about 10 µs; what a lone request pays is waking an idle worker process and "
            "then the waiting server thread, because functions run in their own processes as on Lambda while the "
            "seed runs its view inside the server. Under load that cost is hidden: throughput with 4 clients is "
            f"{rps_ratio:.2f}× the seed's. Busy-polling before blocking was tried: on 2 cores it cut p50 by "
            "5% and throughput by 40%, so it was not kept.",
        ]
    hot_ratio = hk["shards8_rps"] / hk["shards1_rps"]
    if hot_ratio < 1.0:
        lines += [
            f"- **Hot key: `HITS_SHARDS=8` ran at {hot_ratio:.2f}× the unsharded rate here.** On one 2-core host the "
            'three "nodes" share the same CPUs, so spreading writes buys no capacity, while every sharded hit also '
            "reads all 8 shards to answer with the total (a pipeline touching every node). Sharding pays only when "
            "the shards are separate machines and one key's node is the bottleneck; the totals stay exact either way.",
        ]
    lines.append("")
    lines += ["![ratios](BENCHMARKS.png)", ""]
    out = ROOT if os.environ.get("BENCH_WRITE") == "1" else ROOT / ".bench"
    out.mkdir(exist_ok=True)
    plot(
        [
            ("warm GET / ÷ INCR", warm_ratio, 1.5),
            ("cold start ÷ redis+INCR", cold_ratio, 1.5),
            ("local API p50 ÷ seed Flask", local_ratio, 1.0),
            ("local API p99 ÷ seed Flask", p99_ratio, None),
            ("4 clients: seed req/s ÷ local API req/s", 1 / rps_ratio, None),
            ("Redis commands per hit", rt["ours"], 1.0),
            ("GET /session ÷ INCR", w["session_ratio"], None),
        ],
        out / "BENCHMARKS.png",
    )
    # The committed report changes only when asked (make bench BENCH_WRITE=1); otherwise the
    # run's report goes where git ignores it.
    (out / "BENCHMARKS.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"\nwritten to {out / 'BENCHMARKS.md'}", file=sys.stderr)


def plot(rows: list[tuple[str, float, float | None]], path: Path) -> None:
    """Bars of each ratio (lower is better), with its goal marked where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.2))
    names = [r[0] for r in rows][::-1]
    values = [r[1] for r in rows][::-1]
    goals = [r[2] for r in rows][::-1]
    colors = ["#2a9d8f" if g is None or v <= g else "#e76f51" for v, g in zip(values, goals, strict=True)]
    ax.barh(names, values, color=colors)
    for i, (value, goal) in enumerate(zip(values, goals, strict=True)):
        ax.text(value, i, f" {value:.2f}×", va="center", fontsize=9)
        if goal is not None:
            ax.plot([goal, goal], [i - 0.4, i + 0.4], color="black", linewidth=2)
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("ratio to the floor measured in the same run (lower is better; black tick = goal)")
    ax.set_xlim(0, max(values) * 1.25)
    ax.set_title(f"make bench — {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return out.split("v=")[1].split()[0] if "v=" in out else "?"


if __name__ == "__main__":
    main()
