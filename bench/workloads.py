"""Workloads around the handler: the local server against the seed's Flask app, imports
(speed and memory, hostile logs), a hot key on a local cluster, deployment sizes."""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.common import PY, ROOT, RUNS
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from localapi.services import RedisServer

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
from hitcounter.logic.accesslog import summarize, file_digest
path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter(); file_digest(path); floor = time.perf_counter() - start
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
        out |= _page_spread(cluster)
    finally:
        cluster.stop()
    return out


def _page_spread(cluster: Any) -> dict[str, float]:
    """Where page hits land on the three masters: the busiest master's share of the scripts,
    for one page, for 64 pages, and for one page spread with HITS_SHARDS=8 (1/3 is even)."""
    from hitcounter.core.settings import load_settings
    from hitcounter.data.page_store import PageStore
    from hitcounter.data.redis_client import RedisHandle
    from hitcounter.model.history import Visit, visitor_key

    out: dict[str, float] = {}
    for name, pages, shards in (("one_page", 1, 1), ("many_pages", 64, 1), ("one_page_shards8", 1, 8)):
        cluster.flushall()
        nodes = [node.client() for node in cluster.alive()]
        for node in nodes:
            node.config_resetstat()
        handle = RedisHandle(load_settings({"REDIS_URL": cluster.url, "REDIS_MODE": "cluster"}).redis)
        store = PageStore(handle, "", 10_000, 86400, shards)
        for i in range(3000):
            visitor = visitor_key(f"10.1.{i % 250}.{i // 250}", "bench")
            store.hit(f"page-{i % pages}", Visit(time.time_ns() // 1_000_000, visitor))
        calls = [int(n.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)) for n in nodes]
        out[f"{name}_busiest_share"] = max(calls) / max(1, sum(calls))
        handle.close()
    return out


# --- size -------------------------------------------------------------------------------------


def sizes() -> dict[str, tuple[int, int]]:
    """Bytes unzipped and zipped of each function and layer as `sam build` makes them (with
    their bytecode: packaging/Makefile)."""
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
        for name, path in sorted(dirs.items()):
            files = [f for f in path.rglob("*") if f.is_file()]  # the bytecode the build made included
            raw = sum(f.stat().st_size for f in files)
            archive = Path(tmp) / f"{name}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for f in files:
                    z.write(f, f.relative_to(path))
            out[name] = (raw, archive.stat().st_size)
        assert tpl.functions
    return out


# --- report -----------------------------------------------------------------------------------
