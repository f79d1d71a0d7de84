"""Worker processes for one function: warm (reused, like Lambda environments) or recycle
(every invocation gets a process that has served nothing before)."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from localapi.template import Function

WORKER = Path(__file__).with_name("worker.py")
LogSink = Callable[[str, str], None]  # (function, line)
# Lambda gives a runtime about this long after SIGTERM before it kills an environment.
SHUTDOWN_GRACE_SECONDS = 2.0


class InvokeError(Exception):
    """The function failed (unhandled error, timeout, crash): API Gateway answers 500."""


class _Worker:
    def __init__(
        self,
        fn: Function,
        env: Mapping[str, str],
        log: IO[str] | int | None,
        generation: int,
        *,
        fork: bool,
        sink: LogSink | None = None,
    ) -> None:
        self.generation = generation
        mode = ["--fork"] if fork else []
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), *mode, str(fn.code_dir), fn.handler, *map(str, fn.layer_dirs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if sink else log,
            env=dict(env),
            text=True,
            # Its own process group: a timed-out invocation's forked child is killed with it.
            start_new_session=True,
        )
        if sink is not None:
            threading.Thread(target=self._relay, args=(fn.name, sink), daemon=True).start()
        self.ready = False
        self.idle_since = time.monotonic()
        assert self.proc.stdout is not None
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def _relay(self, function: str, sink: LogSink) -> None:
        """What the function writes (its CloudWatch log), line by line, to ``sink``."""
        assert self.proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.proc.stderr:
                sink(function, line.rstrip("\n"))

    def _readline(self, deadline: float) -> str:
        assert self.proc.stdout is not None
        if not self._selector.select(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError
        return line

    def invoke(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        # INIT has its own 10 s budget on Lambda, apart from the invocation's timeout.
        if not self.ready:
            self._readline(time.monotonic() + 10 + timeout)
            self.ready = True
        request_id = str(event.get("requestContext", {}).get("requestId") or uuid.uuid4())
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        self.proc.stdin.write(json.dumps({"event": event, "request_id": request_id, "deadline_ms": deadline_ms}) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self._readline(time.monotonic() + timeout))
        return reply

    def stop(self) -> None:
        self._selector.close()
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        if self.proc.stdout:
            self.proc.stdout.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def shut_down(self, grace: float) -> None:
        """What Lambda does to an environment it shuts down: SIGTERM, ``grace`` seconds, then
        SIGKILL, for the whole process group (a recycle-mode child included)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self.kill()


def _code_stamp(fn: Function) -> float:
    """Newest modification time of the Python files under the function's code and layers."""
    newest = 0.0
    for root in (fn.code_dir, *fn.layer_dirs):
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


class WorkerPool:
    def __init__(
        self,
        fn: Function,
        env: Mapping[str, str] | None = None,
        *,
        recycle: bool = False,
        log: IO[str] | int | None = None,
        max_workers: int = 32,
        idle_seconds: float = 60.0,
        sink: LogSink | None = None,
    ) -> None:
        self.sink = sink
        self.fn = fn
        # Lambda retires environments nobody uses; so does this, and with them their Redis
        # connections: a burst must not hold connection slots (and memory) until stop.
        self.idle_seconds = idle_seconds
        self.recycle = recycle
        self.log = log
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_HANDLER"))}
        self.env = {
            **base,
            **fn.environment,
            **(env or {}),
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(fn.code_dir),
            "_HANDLER": fn.handler,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_workers)
        self._closed = False
        self.last_pid = 0  # the process that served the latest invocation
        # Edits are live without a restart or `sam build`: a watcher bumps the generation
        # when code changes, and workers of an older generation are retired, not reused.
        self._generation = 0
        self._stamp = _code_stamp(fn)
        self._stop_watch = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self, interval: float = 0.25) -> None:
        while not self._stop_watch.wait(interval):
            stamp = _code_stamp(self.fn)
            if stamp != self._stamp:
                self._stamp = stamp
                with self._lock:
                    self._generation += 1
            self._retire_idle()

    def _retire_idle(self) -> None:
        if self.idle_seconds <= 0:
            return
        cutoff = time.monotonic() - self.idle_seconds
        with self._lock:
            retired = [w for w in self._idle if w.idle_since < cutoff]
            self._idle = [w for w in self._idle if w.idle_since >= cutoff]
        for worker in retired:
            worker.stop()

    @property
    def idle_workers(self) -> int:
        with self._lock:
            return len(self._idle)

    @property
    def generation(self) -> int:
        """Bumped on each code change (warm mode); tests wait on it."""
        return self._generation

    def _spawn(self) -> _Worker:
        return _Worker(self.fn, self.env, self.log, self._generation, fork=self.recycle, sink=self.sink)

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.generation == self._generation:
                    return worker
                threading.Thread(target=worker.stop, daemon=True).start()
        return self._spawn()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run one invocation; returns the handler's result or raises InvokeError."""
        with self._slots:
            worker = self._take()
            with self._lock:
                if self._closed:
                    threading.Thread(target=worker.stop, daemon=True).start()
                    raise InvokeError("the local server is stopping")
                self._busy.add(worker)
            keep = False
            try:
                reply = worker.invoke(event, self.fn.timeout)
                keep = True
            except TimeoutError:
                worker.kill()
                raise InvokeError(f"Task timed out after {self.fn.timeout:.2f} seconds") from None
            except (EOFError, OSError, ValueError):
                raise InvokeError("Runtime exited without providing a reason") from None
            finally:
                with self._lock:
                    self._busy.discard(worker)
                    if keep and not self._closed:
                        worker.idle_since = time.monotonic()
                        self._idle.append(worker)
                    else:
                        threading.Thread(target=worker.stop, daemon=True).start()
        self.last_pid = int(reply.get("pid", 0))
        if "error" in reply:
            err = reply["error"]
            raise InvokeError(f"{err['errorType']}: {err['errorMessage']}")
        response: dict[str, Any] = reply["response"]
        return response

    def sweep_scratch(self) -> None:
        """Remove what killed invocations of this function left in its scratch root, with the
        layer's own sweep (only its prefix, only directories no live process holds), run as
        the function's next invocation would run it: in a process with the layers on its path."""
        code = (
            "import sys; from pathlib import Path; from hitcounter.data.scratch import sweep; sweep(Path(sys.argv[1]))"
        )
        root = self.env.get("SCRATCH_DIR") or "/tmp"  # noqa: S108 - Lambda's default
        layers = os.pathsep.join(str(d) for d in self.fn.layer_dirs)
        env = {**self.env, "PYTHONPATH": os.pathsep.join(filter(None, [layers, self.env.get("PYTHONPATH", "")]))}
        subprocess.run([sys.executable, "-c", code, root], env=env, check=False, timeout=30, capture_output=True)

    def close(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop every worker: idle ones at once, busy ones (an import under way) after the
        grace a Lambda shutdown gives, then killed."""
        self._stop_watch.set()
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        stoppers = [threading.Thread(target=w.stop) for w in idle]
        stoppers += [threading.Thread(target=w.shut_down, args=(grace,)) for w in busy]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
