"""``make bench``: the project's speed as ratios to floors measured in the same run.

Every figure is a median over several runs on this machine, with a Redis this script
starts itself; nothing here is a pass/fail test. The goals are one table
(``bench.goals``); the report (``bench.report``) fills the numbers into BENCHMARKS.md's
generated block, and the prose around it is written by hand. The run's report and its raw
figures go to ``.bench/``; ``BENCH_WRITE=1`` also rewrites the committed BENCHMARKS.md and
BENCHMARKS.png.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import inprocess, report, runtime, workloads
from bench.common import ROOT, RUNS
from localapi.services import RedisServer


def measure() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(data_dir=Path(data)).start()
        try:
            steps: tuple[tuple[str, str, Callable[[], Any]], ...] = (
                (
                    "runtime",
                    "through the Lambda runtime (RIE + awslambdaric)",
                    lambda: runtime.measure(server.url, RUNS),
                ),
                ("peaks", "memory after 1,000 invocations", lambda: runtime.memory(server.url)),
                ("worker_peak", "the import worker's memory", lambda: runtime.import_memory(server.url)),
                ("loop", "the local loop", lambda: runtime.local_loop(server.url)),
                ("warm", "warm, in process", lambda: inprocess.warm(server)),
                ("round_trips", "round trips", lambda: inprocess.round_trips(server)),
                ("read_waits", "waits per read", lambda: inprocess.read_waits(server)),
                ("hiredis", "hiredis, and without it", lambda: inprocess.hiredis_saving(server)),
                ("badge", "the badge", inprocess.badge_render),
                ("bots", "telling bots from people", inprocess.bot_classification),
                ("cold", "cold", lambda: inprocess.cold(server)),
                ("local", "the local server", lambda: workloads.local_server(server)),
            )
            for key, what, run in steps:
                print(f"{what}…", file=sys.stderr)
                results[key] = run()
        finally:
            server.stop()
    results["peaks"]["ImportWorkerFunction"] = results.pop("worker_peak")
    rest: tuple[tuple[str, str, Callable[[], Any]], ...] = (
        ("imports", "imports", workloads.imports_parse),
        ("hostile", "hostile imports", workloads.hostile_imports),
        ("hot_key", "hot key (three-master cluster)", workloads.hot_key),
        ("sizes", "sizes (sam build)", workloads.sizes),
    )
    for key, what, run in rest:
        print(f"{what}…", file=sys.stderr)
        results[key] = run()
    return results


def main() -> None:
    results = measure()
    block = report.tables(results)
    out = ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    filled = report.fill((ROOT / "BENCHMARKS.md").read_text(), block)
    (out / "BENCHMARKS.md").write_text(filled)
    report.plot(report.plot_rows(results), out / "BENCHMARKS.png")
    if os.environ.get("BENCH_WRITE") == "1":
        # The committed report changes only when asked; its prose is edited by hand.
        (ROOT / "BENCHMARKS.md").write_text(filled)
        report.plot(report.plot_rows(results), ROOT / "BENCHMARKS.png")
    print("\n".join(block))
    print(f"\nwritten to {out} (BENCH_WRITE=1: the committed BENCHMARKS.md too)", file=sys.stderr)


if __name__ == "__main__":
    main()
