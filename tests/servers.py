"""Real servers for the tests: redis-server processes on free loopback ports, and a TCP
proxy that can break connections the way networks and frozen Lambda environments do."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

from localapi.services import RedisServer, free_port, wait_for

__all__ = ["FaultProxy", "RedisCluster3", "RedisServer", "TLSRedisServer", "free_port", "redis_server", "wait_for"]


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


class TLSRedisServer(RedisServer):
    """redis-server serving TLS on ``tls_port`` with a certificate for 127.0.0.1 and
    localhost from a throwaway CA made by trustme (``ca_file``; nothing else trusts it). The
    plain port stays open for the tests' own admin client."""

    def __init__(self, *extra: str) -> None:
        import trustme

        super().__init__(*extra)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(self.dir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        cert.private_key_pem.write_to_path(str(self.dir / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(self.dir / "cert.pem"))
        self.tls_port = free_port()
        self.extra = (
            "--tls-port",
            str(self.tls_port),
            "--tls-cert-file",
            str(self.dir / "cert.pem"),
            "--tls-key-file",
            str(self.dir / "key.pem"),
            "--tls-ca-cert-file",
            self.ca_file,
            "--tls-auth-clients",
            "no",
            *extra,
        )

    @property
    def tls_url(self) -> str:
        return f"rediss://127.0.0.1:{self.tls_port}/0"


class RedisCluster3:
    """Three masters on loopback, slots split by redis-cli: a small real cluster."""

    def __init__(self) -> None:
        self.nodes = [
            RedisServer(
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"
            )
            for _ in range(3)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> RedisCluster3:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

        def ready() -> bool:
            for node in self.nodes:
                raw = node.client().execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                text = raw if isinstance(raw, str) else raw.decode()
                info = dict(line.split(":", 1) for line in text.split() if ":" in line)
                if info.get("cluster_state") != "ok" or info.get("cluster_known_nodes") != "3":
                    return False
            return True

        wait_for(ready, timeout=30, what="the cluster to agree")
        return self

    def client(self) -> Any:
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)

    def flushall(self) -> None:
        for node in self.nodes:
            node.client().flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.dir, ignore_errors=True)
