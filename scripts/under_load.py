"""``make test-under-load``: run test tiers again and again with every core kept busy.

CI runs on a busy 2-core machine, where a test that waits on time instead of a condition
fails one day in ten. This starts one CPU hog per core (each a bounded busy loop, stopped by
PID at the end whatever happens), then runs pytest on the given tiers ``RUNS`` times and
reports each run. Nothing leaves the machine.

    python scripts/under_load.py [--runs N] [pytest arguments…]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

HOG = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "3")))
    parser.add_argument("--max-seconds", type=int, default=3600, help="the hogs stop by themselves after this")
    args, pytest_args = parser.parse_known_args(argv)
    hogs = [
        subprocess.Popen([sys.executable, "-c", HOG.format(seconds=args.max_seconds)])
        for _ in range(os.cpu_count() or 2)
    ]
    results = []
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            command = [sys.executable, "-m", "pytest", "-q", *pytest_args]
            code = subprocess.run(command, check=False).returncode
            results.append(code)
            print(f"under load, run {run}/{args.runs}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
    finally:
        for hog in hogs:
            hog.send_signal(signal.SIGKILL)
            hog.wait()
    print(f"under load: {results.count(0)} of {len(results)} runs passed", flush=True)
    return 0 if all(code == 0 for code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
