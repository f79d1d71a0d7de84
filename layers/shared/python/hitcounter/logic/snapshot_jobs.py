"""The state of an export or a restore (``hitcounter.logic.snapshots``): pending, running,
done or failed with its reason, kept by the store, shown by ``GET /exports/{id}`` and
``GET /restores/{id}``; and the errors that end one."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hitcounter.core.errors import AppError, BackendUnavailable, NotFound
from hitcounter.data.snapshot_store import SnapshotStore

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
ID = re.compile(r"[0-9a-f]{32}")


class StoreNotEmpty(AppError):
    status = 409
    code = "store_not_empty"
    message = "a restore loads into an empty store only: this one already counts (hits or pages)"


class RestoreRunning(AppError):
    status = 409
    code = "restore_running"
    message = "another restore is running: one at a time (GET /restores/{id} shows its state)"


class SnapshotCrashed(AppError):
    status = 500
    code = "crashed"

    def __init__(self, kind: str) -> None:
        super().__init__(f"stopped on an unexpected error ({kind})")


def now() -> int:
    return int(time.time())


def lookup(store: SnapshotStore, job: str, ident: str, stale_seconds: int = 2**31) -> dict[str, Any]:
    """What ``GET /exports/{id}`` or ``GET /restores/{id}`` shows (the state is kept 7 days).
    A job still ``pending`` or ``running`` past ``stale_seconds`` (the worker's timeout and
    then some) was stopped from outside (a timeout, memory): ``failed``, never ``running``."""
    state = store.state(job, ident) if ID.fullmatch(ident) else None
    if state is None:
        raise NotFound(f"no {job} with that id")
    if state["state"] in (PENDING, RUNNING) and now() - int(state.get("updated_at", 0)) > stale_seconds:
        state |= failed(WorkerStopped())
    return {"id": ident, **state}


class WorkerStopped(AppError):
    status = 500
    code = "worker_stopped"
    message = "the worker stopped without a word (its timeout or memory): start it again"


@contextmanager
def recorded(store: SnapshotStore, job: str, ident: str, record: dict[str, Any]) -> Iterator[None]:
    """Whatever stops the work ends its state ``failed`` with the reason (an unforeseen error
    too, never ``running`` for a week); Redis or S3 away is raised as it is, for Lambda to
    retry the event. ``record`` is read when it fails: updates made meanwhile count."""
    try:
        yield
    except BackendUnavailable:
        raise
    except AppError as err:
        store.set_state(job, ident, record | failed(err))
        raise
    except Exception as exc:
        crashed = SnapshotCrashed(type(exc).__name__)
        store.set_state(job, ident, record | failed(crashed))
        raise crashed from exc


def failed(err: AppError) -> dict[str, Any]:
    return {"state": FAILED, "updated_at": now(), "reason": {"code": err.code, "message": err.message}}
