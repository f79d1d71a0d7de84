"""Real servers for the tests: redis-server processes on free loopback ports, and a TCP
proxy that can break connections the way networks and frozen Lambda environments do."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Iterator

from localapi.services import RedisServer, free_port, wait_for

__all__ = ["FaultProxy", "RedisServer", "free_port", "redis_server", "wait_for"]


class FaultProxy:
    """A TCP proxy in front of a server. ``freeze()`` makes existing connections go silent
    (as a NAT that forgot them would), ``swallow_replies()`` forwards requests but drops the
    answers on existing connections. New connections always pass normally."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._generation = 0  # connections older than a fault's generation are affected
        self._mode = "pass"
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self.accepted += 1
                born = self._generation
                self._socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, born, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, born, True), daemon=True).start()

    def _affected(self, born: int, reply: bool) -> bool:
        with self._lock:
            if born >= self._generation:
                return False
            return self._mode == "freeze" or (self._mode == "swallow" and reply)

    def _pump(self, src: socket.socket, dst: socket.socket, born: int, reply: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not self._affected(born, reply):
                    dst.sendall(data)

    def _fault(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
            self._generation += 1

    def freeze(self) -> None:
        self._fault("freeze")

    def swallow_replies(self) -> None:
        self._fault("swallow")

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()


@contextlib.contextmanager
def redis_server(*extra: str) -> Iterator[RedisServer]:
    server = RedisServer(*extra).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
