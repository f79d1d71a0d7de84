"""Through the real Lambda runtime path, without Docker: the Runtime Interface Emulator that
ships inside the pinned aws-sam-cli (``samcli/local/rapid/aws-lambda-rie-*``) runs
``python -m awslambdaric`` (the Runtime Interface Client from PyPI) on what ``sam build``
made: the function's code as the task root, the built layers as ``/opt/python`` (through
``PYTHONPATH``, in Lambda's order). Invoked over the RIE's HTTP endpoint with the events of
``events/``. The ideal is the same runtime running a bare handler that sends one INCR.

What each figure is:

* warm latency: an invocation as the caller sees it (HTTP to the RIE, the Runtime API round
  trip, event decoding, the handler, response encoding);
* ``Duration``: the RIE's ``REPORT`` line, what Lambda bills before rounding;
* first invocation: a fresh runtime's first answer, INIT included, from the RIE's start;
* peak memory: the handler process's peak RSS (``VmHWM``) after 1,000 warm invocations.

Every runtime runs **as deployed**: on a fresh copy of the build per run (no bytecode a previous
run wrote), with ``PYTHONDONTWRITEBYTECODE=1`` (Lambda mounts code and layers read-only; the
copy is checked unchanged afterwards), so the first invocation reads only the bytecode
``sam build`` made (packaging/Makefile). The bare handler and the floor are compiled the same
way. Beside it, first invocations only: the same copy without any bytecode (what SAM's python
builder shipped: every module compiled at every cold start), and the same artifacts compiled by
Python itself on a writable disk by an earlier run (the best a cold start can do).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import client_address, referred
from localapi.services import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
RIE = Path(str(__import__("samcli").__file__)).parent / "local" / "rapid" / "aws-lambda-rie-x86_64"
# What the emulator itself writes (the platform's lines, and its own messages): everything
# else in the log is the function's.
_PLATFORM = re.compile(r"^(START|END|REPORT) RequestId:|\((rapid|runtime|extension)\)|^time=")
_REPORT = re.compile(r"REPORT RequestId: \S+\s+(?:Init Duration: [\d.]+ ms\s+)?Duration: ([\d.]+) ms")

BARE = """import os
import redis

_client = None


def lambda_handler(event, context):
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return {"statusCode": 200, "body": str(_client.incr("bare"))}
"""


def build_like_a_function(code: str, artifacts: Path) -> None:
    """``code`` as its app.py, built by packaging/Makefile as every function is."""
    with tempfile.TemporaryDirectory() as source:
        (Path(source) / "app.py").write_text(code)
        artifacts.mkdir()
        makefile = str(ROOT / "packaging" / "Makefile")
        subprocess.run(
            ["make", "--no-print-directory", "-s", "-f", makefile, "build-function", f"PYTHON={sys.executable}"],
            cwd=source,
            env={**os.environ, "ARTIFACTS_DIR": str(artifacts)},
            check=True,
        )


def without_bytecode(folder: Path) -> None:
    for cache in list(folder.rglob("__pycache__")):
        shutil.rmtree(cache)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def built_layers(build_dir: Path) -> list[Path]:
    """Each layer as ``sam build`` left it, where the built template's ContentUri points."""
    from cfnlint.decode import cfn_yaml

    resources = cfn_yaml.load(str(build_dir / "template.yaml"))["Resources"]
    return [
        (build_dir / str(resources[name]["Properties"]["ContentUri"])).resolve()
        for name in ("SharedLayer", "DependenciesLayer")
    ]


def sam_build(build_dir: Path) -> Path:
    """``sam build`` for this machine's architecture (the layer's compiled wheels must load
    here), as the ``sam local`` tier builds it."""
    from devtools import samlocal

    samlocal.build(build_dir, samlocal.host_arch(), cache_dir=build_dir.parent / "sam-cache")
    return build_dir


class Runtime:
    """One execution environment: the RIE and, under it, ``awslambdaric`` and the handler."""

    def __init__(self, task: Path, layers: list[Path], handler: str, env: dict[str, str], memory_mb: int) -> None:
        self.port, api_port = free_port(), free_port()
        # Lambda's python3.13 order: /var/task, the layers' site-packages and python/, then the runtime.
        python_path = [str(task)] + [str(p) for layer in layers for p in (layer / "python",)]
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            **env,
            "PYTHONPATH": os.pathsep.join(python_path),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
            "_HANDLER": handler,
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.handler = handler
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - read after
        self.proc = subprocess.Popen(
            [
                str(RIE),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{api_port}",
                sys.executable,
                "-m",
                "awslambdaric",
                handler,
            ],
            cwd=task,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        wait_for(self._listening, timeout=20, what="the RIE to listen")

    def _listening(self) -> bool:
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def invoke(self, event: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        data = json.dumps(event).encode()
        start = time.perf_counter()
        request = urllib.request.Request(self.url, data=data)  # noqa: S310 - http to our own emulator
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = json.loads(response.read())
        return (time.perf_counter() - start) * 1000, body

    def function_log_bytes(self) -> int:
        """Bytes the function wrote to its log so far (the platform's lines left out)."""
        self.log.flush()
        lines = Path(self.log.name).read_text().splitlines(keepends=True)
        return sum(len(line.encode()) for line in lines if not _PLATFORM.search(line))

    def durations(self) -> list[float]:
        self.log.flush()
        return [float(m) for m in _REPORT.findall(Path(self.log.name).read_text())]

    def handler_pid(self) -> int:
        """The awslambdaric process under the RIE."""
        # The emulator is multi-threaded: whichever of its threads started the runtime lists it.
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        raise RuntimeError("the emulator has no runtime process")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.handler_pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def runtime(
    task: Path, handler: str, layers: list[Path], env: dict[str, str], memory_mb: int = 512
) -> Iterator[Runtime]:
    made = Runtime(task, layers, handler, env, memory_mb)
    try:
        yield made
    finally:
        made.stop()


# The floor while we keep Powertools: its HTTP API resolver and one INCR, nothing else (no
# Logger, no Metrics, no history): what the issue measured at 1.07-1.09x warm.
FLOOR = """import os
import redis
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

app = APIGatewayHttpResolver()
_client = None


@app.get("/")
def hello():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return Response(200, "text/plain", f"Hello World! {_client.incr('floor')} times.")


def lambda_handler(event, context):
    return app.resolve(event, context)
"""


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return event


_CLIENTS = itertools.count(1)


def _counted(event: dict[str, Any]) -> dict[str, Any]:
    """The event from a client of its own: each page hit counts (not a reload of the last,
    not past the per-client limit), as GET / does."""
    event["requestContext"]["http"]["sourceIp"] = client_address(next(_CLIENTS))
    return event


def _first(task: Path, handler: str, layers: list[Path], env: dict[str, str], event: dict[str, Any]) -> float:
    """A fresh runtime's first invocation, INIT included."""
    with runtime(task, handler, layers, env) as rt:
        took, answer = rt.invoke(_counted(event))
        assert answer.get("statusCode") == 200, answer
    return took


def _copy(build: Path, dest: Path, bytecode: bool = True) -> Path:
    shutil.copytree(build, dest)
    if not bytecode:
        without_bytecode(dest)
    return dest


# Each first-invocation variant: its copy of the build, and whether Python may write bytecode.
FIRST_VARIANTS = ("deployed", "source", "compiled")
FIRST_CASES = ("ours", "page", "bare")


def measure(redis_url: str, runs: int, warm_n: int = 300) -> dict[str, Any]:
    """Ours (GET / through HitsFunction as built, a page hit, GET /pages/{page}, and a path
    page's, GET /count?path=) vs the bare INCR handler, ``runs`` fresh runtimes each, as
    deployed: first invocation, warm latency, billed Duration (medians, with min-max; ratios
    per run). Then the first invocation alone, as deployed, from source and compiled by Python
    (see the module's notes)."""
    from localapi import template as sam_template

    functions = sam_template.load(ROOT / "template.yaml").functions
    with tempfile.TemporaryDirectory() as tmp:
        build = sam_build(Path(tmp) / "build")
        for name, code in (("BareHandler", BARE), ("FloorHandler", FLOOR)):
            build_like_a_function(code, build / name)
        writable = {
            **functions["HitsFunction"].environment,
            "REDIS_URL": redis_url,
            "KEY_PREFIX": "bench:",
            # What the template's LoggingConfig makes Lambda set (Powertools reads them).
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
        }
        env = {**writable, "PYTHONDONTWRITEBYTECODE": "1"}  # Lambda's file system is read-only
        ours = ("HitsFunction", "app.lambda_handler")
        cases = {
            "ours": (*ours, _event("hits/get-root")),
            "page": (*ours, _event("hits/get-page")),
            "path": (*ours, _event("hits/get-count")),
            "referred": (*ours, referred(_event("hits/get-count"))),
            "floor": ("FloorHandler", "app.lambda_handler", _event("hits/get-root")),
            "bare": ("BareHandler", "app.lambda_handler", _event("hits/get-root")),
        }
        results: dict[str, dict[str, list[float]]] = {
            k: {"first": [], "warm": [], "duration": [], "log_bytes": []} for k in cases
        }
        ratios: dict[str, dict[str, list[float]]] = {
            name: {"first": [], "warm": [], "duration": []} for name in ("ours", "page", "path", "referred", "floor")
        }
        firsts: dict[str, dict[str, list[float]]] = {v: {c: [] for c in FIRST_CASES} for v in FIRST_VARIANTS}
        for run in range(-1, runs):  # run -1 warms the page cache for all and is not counted
            deployed = _copy(build, Path(tmp) / f"deployed{run}")
            before = files_under(deployed)
            layers = built_layers(deployed)
            # The runtimes live at once and take turns, so the machine's drift hits all alike.
            order = list(cases) if run % 2 == 0 else list(reversed(cases))
            with contextlib.ExitStack() as stack:
                rts = {
                    name: stack.enter_context(runtime(deployed / cases[name][0], cases[name][1], layers, env))
                    for name in order
                }
                warm: dict[str, list[float]] = {name: [] for name in cases}
                after_first: dict[str, int] = {}
                for name in order:
                    # The emulator starts the runtime on the first invocation: INIT is inside it.
                    took, answer = rts[name].invoke(_counted(cases[name][2]))
                    assert answer.get("statusCode") == 200, answer
                    results[name]["first"].append(took)
                    after_first[name] = rts[name].function_log_bytes()
                for _ in range(warm_n):
                    for name in order:
                        warm[name].append(rts[name].invoke(_counted(cases[name][2]))[0])
                for name in cases:
                    results[name]["warm"].append(statistics.median(warm[name]))
                    results[name]["duration"].append(statistics.median(rts[name].durations()[1:]))
                    written = rts[name].function_log_bytes() - after_first[name]
                    results[name]["log_bytes"].append(written / warm_n)
            _first_invocations(
                build,
                Path(tmp) / f"first{run}",
                deployed=deployed,
                run=run,
                cases=cases,
                env=env,
                writable=writable,
                firsts=firsts,
            )
            assert files_under(deployed) == before, "a runtime wrote into the deployed build"
            shutil.rmtree(deployed)
            if run < 0:
                for parts in (*results.values(), *firsts.values()):
                    for values in parts.values():
                        values.clear()
                continue
            for name, by_key in ratios.items():
                for key, values in by_key.items():
                    values.append(results[name][key][-1] / results["bare"][key][-1])
    summary: dict[str, Any] = {name: {k: _spread(v) for k, v in parts.items()} for name, parts in results.items()}
    summary["ratio"] = {k: _spread(v) for k, v in ratios["ours"].items()}
    summary["page_ratio"] = {k: _spread(v) for k, v in ratios["page"].items()}
    summary["path_ratio"] = {k: _spread(v) for k, v in ratios["path"].items()}
    summary["referred_ratio"] = {k: _spread(v) for k, v in ratios["referred"].items()}
    summary["floor_ratio"] = {k: _spread(v) for k, v in ratios["floor"].items()}
    summary["first_only"] = {v: {c: _spread(firsts[v][c]) for c in FIRST_CASES} for v in FIRST_VARIANTS}
    summary["first_only_ratio"] = {
        c: {
            # per run: deployed ÷ compiled by Python, from source ÷ deployed, and ÷ the bare handler's
            "deployed_vs_compiled": _spread(_div(firsts["deployed"][c], firsts["compiled"][c])),
            "source_vs_deployed": _spread(_div(firsts["source"][c], firsts["deployed"][c])),
            "deployed_vs_bare": _spread(_div(firsts["deployed"][c], firsts["deployed"]["bare"])),
        }
        for c in FIRST_CASES
    }
    return summary


def _div(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def _first_invocations(
    build: Path,
    where: Path,
    *,
    deployed: Path,
    run: int,
    cases: dict[str, tuple[str, str, dict[str, Any]]],
    env: dict[str, str],
    writable: dict[str, str],
    firsts: dict[str, dict[str, list[float]]],
) -> None:
    """Each of FIRST_CASES' first invocation alone, in each variant, the variants taking turns."""
    source = _copy(build, where / "source", bytecode=False)
    compiled = _copy(build, where / "compiled", bytecode=False)
    for task in {cases[c][0] for c in FIRST_CASES}:  # Python compiles and writes what it imports
        name = next(c for c in FIRST_CASES if cases[c][0] == task)
        _first(compiled / task, cases[name][1], built_layers(compiled), writable, cases[name][2])
    roots = {
        "deployed": (deployed, env),
        "source": (source, env),
        "compiled": (compiled, writable),
    }
    order = list(FIRST_VARIANTS) if run % 2 == 0 else list(reversed(FIRST_VARIANTS))
    for case in FIRST_CASES:
        for variant in order:
            root, variables = roots[variant]
            task, handler, event = cases[case]
            firsts[variant][case].append(_first(root / task, handler, built_layers(root), variables, event))
    shutil.rmtree(where)


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


MEMORY_EVENTS = {
    "HitsFunction": ["hits/get-root", "hits/get-root-json", "hits/get-hits", "hits/get-health-ready"],
    "SessionFunction": ["session/post-session", "session/get-session"],
    "ImportsFunction": ["imports/get-import"],
    "DocsFunction": ["docs/get-openapi"],
}


def memory(redis_url: str, n: int = 1000) -> dict[str, float]:
    """Each HTTP function's peak RSS after ``n`` warm invocations of its events."""
    from localapi import template as sam_template

    functions = sam_template.load(ROOT / "template.yaml").functions
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        build = sam_build(Path(tmp) / "build")
        layers = built_layers(build)
        for name, events in MEMORY_EVENTS.items():
            env = {**functions[name].environment, "REDIS_URL": redis_url, "KEY_PREFIX": "bench:"}
            with runtime(build / name, "app.lambda_handler", layers, env) as rt:
                loaded = [_event(e) for e in events]
                for i in range(n):
                    rt.invoke(loaded[i % len(loaded)])
                peaks[name] = rt.peak_rss_mib()
    return peaks


def import_memory(redis_url: str, log_mb: int = 100) -> float:
    """The import worker's peak RSS, through the local server's worker process (it needs S3),
    importing a generated log of about ``log_mb`` MB."""
    from devtools.accesslogs import generate
    from localapi import template as sam_template
    from localapi.pool import WorkerPool
    from localapi.services import LocalS3

    fn = sam_template.load(ROOT / "template.yaml").functions["ImportWorkerFunction"]
    s3 = LocalS3().start()
    bucket = fn.environment["IMPORTS_BUCKET"]
    try:
        s3.client().create_bucket(Bucket=bucket)
        log = generate(int(log_mb * 1e6 / 86), seed=7)
        s3.client().put_object(Bucket=bucket, Key="logs/bench.log.gz", Body=log.gzipped())
        etag = s3.client().head_object(Bucket=bucket, Key="logs/bench.log.gz")["ETag"].strip('"')
        with tempfile.TemporaryDirectory() as scratch:
            env = {"REDIS_URL": redis_url, "KEY_PREFIX": "bench:", "SCRATCH_DIR": scratch, **s3.env}
            pool = WorkerPool(fn, env)
            try:
                job = {"import": {"id": "0" * 32, "key": "logs/bench.log.gz", "etag": etag}}
                pool.invoke(job)
                for line in Path(f"/proc/{pool.last_pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
            finally:
                pool.close()
    finally:
        s3.stop()
    raise RuntimeError("no VmHWM")


def choose_memory_mb(peak_mib: float) -> int:
    """Lambda sizes in 1 MB steps from 128 MB; leave half again the measured peak, rounded up
    to a multiple of 64 MB, never below 128."""
    wanted = peak_mib * 1.5
    return max(128, int(-(-wanted // 64) * 64))


# AWS Lambda, arm64, us-east-1, list prices as published on the Lambda pricing page
# (checked 2026-11-24): per GB-second of the first 7.5 billion, and per million requests.
ARM64_GB_SECOND_USD = 0.0000133334
REQUESTS_PER_MILLION_USD = 0.20
PRICE_DATE = "2026-11-24"


def cost_per_million(duration_ms: float, memory_mb: int) -> float:
    """The cost of one million invocations: billed in 1 ms steps, at ``memory_mb``."""
    billed_s = max(1.0, float(int(-(-duration_ms // 1)))) / 1000
    return 1e6 * billed_s * memory_mb / 1024 * ARM64_GB_SECOND_USD + REQUESTS_PER_MILLION_USD


def local_loop(redis_url: str) -> dict[str, float]:
    """Seconds from starting ``python -m localapi`` (set-up done) to its first answer, and
    from saving a change in a function to the first response that shows it."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for name in ("template.yaml", "env.json"):
            shutil.copy(ROOT / name, project / name)
        for name in ("functions", "layers"):
            shutil.copytree(ROOT / name, project / name)
        port = free_port()
        env = {**os.environ, "PORT": str(port), "REDIS_URL": redis_url, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "localapi", "--template", str(project / "template.yaml")],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"

        def body() -> str:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    return str(response.read().decode())
            except OSError:
                return ""

        try:
            wait_for(lambda: body().startswith("Hello"), timeout=60, what="the first answer")
            first = time.perf_counter() - started
            source = project / "functions/hits/routers/site.py"
            changed = source.read_text().replace("Hello World!", "Olá Mundo!")
            saved = time.perf_counter()
            source.write_text(changed)
            wait_for(lambda: body().startswith("Olá"), timeout=30, what="the change")
            reload = time.perf_counter() - saved
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return {"first_answer_s": first, "change_visible_s": reload}


if __name__ == "__main__":  # a quick look: python -m bench.runtime
    from localapi.services import RedisServer

    server = RedisServer().start()
    try:
        print(json.dumps(measure(server.url, runs=1, warm_n=50), indent=2))
    finally:
        server.stop()
