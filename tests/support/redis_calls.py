"""Counting what a client sends Redis: each packed command (a script call, a pipeline's
batch) is one write to the socket, so one count is one round trip."""

from __future__ import annotations

from collections.abc import Callable
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
