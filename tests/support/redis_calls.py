"""Counting what a client sends Redis: each packed command (a script call, a pipeline's
batch) is one write to the socket, so one count is one round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def round_trips(action: Callable[[], object]) -> int:
    """How many times redis-py wrote to a server while ``action`` ran."""
    from redis.connection import AbstractConnection

    sent = [0]
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)  # type: ignore[no-untyped-call]

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        action()
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
    return sent[0]


def _run_wrapped(action: Callable[[], object], hooks: Sequence[tuple[type, str]], wrap: Callable[[Any], Any]) -> None:
    """Run ``action`` with each hooked method replaced by ``wrap(original)``, then put the
    originals back, whatever happens."""
    originals = {(cls, name): getattr(cls, name) for cls, name in hooks}
    for (cls, name), original in originals.items():
        setattr(cls, name, wrap(original))
    try:
        action()
    finally:
        for (cls, name), original in originals.items():
            setattr(cls, name, original)


def waits(action: Callable[[], object]) -> int:
    """How many times the client waited on Redis while ``action`` ran: one command or one
    pipeline each. A cluster pipeline writes to each node its commands go to and then reads
    every reply: one wait, however many nodes (what ``round_trips`` counts per node)."""
    from redis.client import Pipeline, Redis
    from redis.cluster import ClusterPipeline, RedisCluster

    count = [0]

    def counted(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            # A pipeline's own execute_command only queues: not a wait.
            if not isinstance(self, (Pipeline, ClusterPipeline)) or original.__name__ == "execute":
                count[0] += 1
            return original(self, *args, **kwargs)

        return wrapper

    hooks = [
        (Redis, "execute_command"),
        (RedisCluster, "execute_command"),
        (Pipeline, "execute"),
        (ClusterPipeline, "execute"),
    ]
    _run_wrapped(action, hooks, counted)
    return count[0]


def pipelined(action: Callable[[], object]) -> set[str]:
    """The names of the commands redis-py queued in pipelines while ``action`` ran (a
    standalone pipeline's or a cluster pipeline's, which re-sends them after a connection
    error: what must never hold a write)."""
    from redis.client import Pipeline
    from redis.cluster import ClusterPipeline

    names: set[str] = set()
    # A standalone pipeline queues through pipeline_execute_command, a cluster pipeline
    # through its execute_command (its strategy queues).
    hooks = [(Pipeline, "pipeline_execute_command"), (ClusterPipeline, "execute_command")]

    def recording(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **options: Any) -> Any:
            names.add(str(args[0]).upper())
            return original(self, *args, **options)

        return wrapper

    _run_wrapped(action, hooks, recording)
    return names
