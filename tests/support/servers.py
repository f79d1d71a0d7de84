"""Real servers for the tests: redis-server processes on free loopback ports, and a TCP
proxy that can break connections the way networks and frozen Lambda environments do."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from localapi.services import RedisServer, free_port, wait_for

__all__ = [
    "FaultProxy",
    "RedisCluster3",
    "RedisClusterN",
    "RedisServer",
    "TLSRedisServer",
    "free_port",
    "redis_server",
    "wait_for",
]


class FaultProxy:
    """A TCP proxy in front of a server. ``freeze()`` makes existing connections go silent
    (as a NAT that forgot them would), ``swallow_replies()`` forwards requests but drops the
    answers on existing connections. New connections always pass normally."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port  # new connections go here; retarget() moves it
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._generation = 0  # connections older than a fault's generation are affected
        self._mode = "pass"
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.accepted = 0
        # Request bytes read from clients and written upstream: equal when every request the
        # proxy took has reached the server (``drained``).
        self._requests_in = self._requests_out = 0
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
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:  # the server is down: the client sees its connection closed
                client.close()
                continue
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
                if not reply:
                    with self._lock:
                        self._requests_in += len(data)
                if not self._affected(born, reply):
                    dst.sendall(data)
                if not reply:
                    with self._lock:
                        self._requests_out += len(data)

    def drained(self) -> bool:
        """Every request read from a client has been passed on (or, frozen, dropped): a
        client that gave up waiting may otherwise see its command land afterwards, on a
        busy host."""
        with self._lock:
            return self._requests_in == self._requests_out

    def _fault(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
            self._generation += 1

    def freeze(self) -> None:
        self._fault("freeze")

    def swallow_replies(self) -> None:
        self._fault("swallow")

    def passthrough(self) -> None:
        self._fault("pass")

    def retarget(self, upstream_port: int) -> None:
        """New connections go to another server; existing ones stay where they are, as
        clients of a DNS endpoint that moved to a promoted replica (ElastiCache's primary
        endpoint after a failover)."""
        self.upstream_port = upstream_port

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

    def __init__(self, *extra: str, not_after: Any = None) -> None:
        import trustme

        super().__init__(*extra)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", not_after=not_after)
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


def _info(node: RedisServer, section: str) -> dict[str, str]:
    raw = node.client().execute_command(section.upper(), "INFO") if section == "cluster" else None  # type: ignore[no-untyped-call]
    text = raw if isinstance(raw, str) else (raw or b"").decode()
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


class RedisClusterN:
    """A real cluster on loopback: ``masters`` masters with ``replicas`` replicas each, a short
    node timeout so failovers take seconds. ``proxied`` puts a FaultProxy in front of every
    node and makes each node announce its proxy's port, so every client connection (the
    topology redis-py discovers included) goes through a proxy that can swallow replies."""

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 0,
        *,
        proxied: bool = False,
        node_timeout_ms: int = 1000,
        tls_dir: Path | None = None,
    ) -> None:
        """``tls_dir``: a directory holding ``cert.pem``, ``key.pem`` and ``ca.pem``. Every
        node then also serves TLS on ``tls_ports`` (the plain port stays for the tests' admin
        clients) and the cluster bus runs over TLS, so TLS clients discover TLS ports."""
        self.proxies: list[FaultProxy] = []
        self.nodes: list[RedisServer] = []
        self.tls_ports: list[int] = []
        for _ in range(masters * (1 + replicas)):
            port, bus = free_port(), free_port()
            extra = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms), "--cluster-port", str(bus),
                # A replica may take over however far behind it is: the test decides what is lost.
                "--cluster-replica-validity-factor", "0",
                # Redis waits 5 s for more replicas before a diskless first sync; nothing comes.
                "--repl-diskless-sync-delay", "0",
            ]  # fmt: skip
            if proxied:
                proxy = FaultProxy(port)
                self.proxies.append(proxy)
                extra += ["--cluster-announce-port", str(proxy.port), "--cluster-announce-bus-port", str(bus)]
            if tls_dir is not None:
                self.tls_ports.append(free_port())
                extra += [
                    "--tls-port", str(self.tls_ports[-1]), "--tls-cluster", "yes", "--tls-replication", "yes",
                    "--tls-cert-file", str(tls_dir / "cert.pem"), "--tls-key-file", str(tls_dir / "key.pem"),
                    "--tls-ca-cert-file", str(tls_dir / "ca.pem"), "--tls-auth-clients", "no",
                ]  # fmt: skip
            node = RedisServer(*extra)
            node.port = port
            self.nodes.append(node)
        self.masters, self.replicas = masters, replicas

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.proxies[0].port if self.proxies else self.nodes[0].port}/0"

    def seeds(self) -> str:
        """Every node but the first, as REDIS_CLUSTER_SEEDS wants them."""
        ports = [p.port for p in self.proxies] if self.proxies else [n.port for n in self.nodes]
        return ",".join(f"127.0.0.1:{port}" for port in ports[1:])

    def start(self) -> Self:
        try:
            for node in self.nodes:
                self._start_node(node)
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{n.port}" for n in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            wait_for(self.healthy, timeout=30, what="the cluster to agree")
            wait_for(self.replicas_in_sync, timeout=30, what="every replica to finish its first sync")
        except BaseException:
            # A cluster that does not come up (a node that did not start, one that never
            # agreed): every node started so far is stopped, none left behind.
            self.stop()
            raise
        return self

    @staticmethod
    def _start_node(node: RedisServer) -> None:
        """Start a node; its cluster bus port is fixed by its arguments, and another process
        can take that port between the probe and the bind (RedisServer's own retries only
        move the client port): a failed start tries again with a fresh bus port."""
        for attempt in range(3):
            try:
                node.start()
                return
            except RuntimeError:
                if attempt == 2:
                    raise
                extra = list(node.extra)
                bus = str(free_port())
                for flag in ("--cluster-port", "--cluster-announce-bus-port"):
                    if flag in extra:
                        extra[extra.index(flag) + 1] = bus
                node.extra = tuple(extra)
                node.port = free_port()

    def replicas_in_sync(self) -> bool:
        """Every replica the cluster should have is one, and has finished its first sync."""
        synced = 0
        for node in self.alive():
            info = node.client().info("replication")
            if info.get("role") == "slave":
                if info.get("master_link_status") != "up" or int(info.get("master_sync_in_progress", 0)):
                    return False
                synced += 1
        return synced == self.masters * self.replicas

    def replicas_caught_up(self) -> bool:
        """Every replica in sync and at its master's replication offset: every write the
        masters acknowledged is on a replica (what the failover guarantee assumes; Redis
        replicates asynchronously, and on a busy host a replica can lag by many writes)."""
        if not self.replicas_in_sync():
            return False
        offsets = {}
        for node in self.alive():
            info = node.client().info("replication")
            if info.get("role") == "master":
                offsets[node.port] = int(info.get("master_repl_offset", 0))
        for node in self.alive():
            info = node.client().info("replication")
            if info.get("role") == "slave":
                master = offsets.get(int(info.get("master_port", 0)))
                if master is None or int(info.get("slave_repl_offset", -1)) < master:
                    return False
        return True

    def alive(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def healthy(self) -> bool:
        """Every live node says cluster_state:ok and knows every node."""
        for node in self.alive():
            try:
                info = _info(node, "cluster")
            except Exception:
                return False
            if info.get("cluster_state") != "ok" or info.get("cluster_known_nodes") != str(len(self.nodes)):
                return False
        return True

    def master_of(self, key: str) -> RedisServer:
        """The live node that is master for ``key``'s slot, asked of the node itself."""
        for node in self.alive():
            client = node.client()
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
            raw = client.execute_command("CLUSTER", "NODES")  # type: ignore[no-untyped-call]
            mine = next(line for line in str(raw).splitlines() if "myself" in line).split()
            if "master" not in mine[2]:
                continue
            for part in mine[8:]:
                low, _, high = part.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return node
        raise AssertionError(f"no live master serves {key!r}")

    def kill(self, node: RedisServer) -> None:
        """kill -9: no goodbye to clients or to the cluster."""
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait(timeout=10)
        node.proc = None

    def flushall(self) -> None:
        for node in self.alive():
            node.client().flushall()

    def client(self) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        seeds = [ClusterNode("127.0.0.1", n.port) for n in self.alive()]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=seeds, decode_responses=True)

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.dir, ignore_errors=True)


class RedisCluster3(RedisClusterN):
    """Three masters, no replicas: the cluster most tests share (one per session)."""

    def __init__(self) -> None:
        super().__init__(masters=3, replicas=0, node_timeout_ms=2000)
