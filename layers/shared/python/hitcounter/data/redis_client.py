"""Building the environment's one Redis client, and the policy it runs with.

Retry policy, and why it never re-sends a write that may have reached the server
(FIELD-NOTES: redis-py#261, #977; redis-py 8 retries 10 times by default):

* Commands run with ``Retry(NoBackoff(), 0)``: redis-py sends each command once. If the
  reply is lost (timeout, connection dropped after the write), the INCR may or may not
  have run, so the request fails with 503 instead of risking a double count: at most once.
  ``RedisCluster`` reads the same object for its own command loop: with 0 retries it
  refreshes its topology after a connection error but does not send the command again.
* Dead sockets are replaced *before* a command is written, which is the only time a
  retry is safe:
  - the pool checks a pooled socket for EOF before lending it (redis-py's own
    ``ConnectionPool.get_connection``), which catches sockets the server closed while the
    Lambda environment was frozen (idle timeout, failover, ``CLIENT KILL``);
  - ``health_check_interval`` makes redis-py send a PING before the first command on a
    connection idle that long, catching sockets that died silently (a NAT or ENI that
    forgot the flow). ``_PingOnceMore`` lets that PING, and only that PING, reconnect and
    go again once: the command itself has not been written yet.
* Connect and command timeouts are bounded (settings), so the worst case for a request is
  one connect plus one health check plus one command, a few hundred ms, far under the
  function timeout.

Building a ``RedisCluster`` is network I/O (CLUSTER SLOTS, then COMMAND), and its failures
are ``RedisClusterException``, which is not a ``RedisError`` (redis-py#2310). So nothing
builds it at import or in the services factory: ``RedisHandle.client()`` builds it on first
use, inside the same fault mapping as every command (``hitcounter.data.redis_faults``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection
from redis.credentials import CredentialProvider
from redis.driver_info import DriverInfo
from redis.retry import Retry

from hitcounter.core.settings import RedisSettings
from hitcounter.data import redis_faults
from hitcounter.data.redis_auth import ElastiCacheIAMProvider, RefreshableCredentials, SecretsManagerProvider

Client = redis.Redis | RedisCluster

_NO_RETRY = Retry(NoBackoff(), 0)
_HEALTH_CHECK_RETRY = Retry(NoBackoff(), 1)


class _PlainConnection(Connection):
    """Health-check PING with one reconnect-and-retry; commands keep ``_NO_RETRY``."""

    def check_health(self) -> None:
        # redis-py calls this from send_packed_command before the command's bytes go out.
        if self.health_check_interval and time.monotonic() > self.next_health_check:
            _HEALTH_CHECK_RETRY.call_with_retry(self._send_ping, self._ping_failed, with_failure_count=True)

    def on_connect_check_health(self, check_health: bool = True) -> None:
        try:
            super().on_connect_check_health(check_health=check_health)
        except redis.AuthenticationError:
            # Rotated secret or expired token: the next connection asks for fresh credentials.
            if isinstance(self.credential_provider, RefreshableCredentials):
                self.credential_provider.invalidate()
            raise


class _TLSConnection(_PlainConnection, SSLConnection):
    """The same health check over TLS (MRO: this check, then SSLConnection's socket)."""


def credential_provider(settings: RedisSettings) -> CredentialProvider | None:
    if settings.auth == "iam":
        assert settings.username
        return ElastiCacheIAMProvider(
            settings.username, settings.iam_cache_name, settings.region, serverless=settings.iam_serverless
        )
    if settings.auth == "secret":
        return SecretsManagerProvider(settings.secret_id)
    return None  # no auth, or a password in REDIS_URL


def build_client(settings: RedisSettings) -> Client:
    """A client for ``settings``. Standalone: the pool opens sockets lazily, so this does no
    I/O. Cluster: redis-py asks a seed node for the topology here (network I/O): call it
    inside the fault mapping, as ``RedisHandle`` does.

    TLS (``rediss://``) verifies the server certificate and host name, against
    ``REDIS_CA_FILE`` or the system CA bundle; nothing here can turn verification off.
    """
    kwargs: dict[str, Any] = {
        "connection_class": _TLSConnection if settings.tls else _PlainConnection,
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.command_timeout,
        "socket_keepalive": True,
        "health_check_interval": settings.health_check_interval,
        "retry": _NO_RETRY,
        # What CLIENT SETINFO reports, as redis-py would: given here, each new connection skips
        # redis-py's importlib.metadata lookup of its own version, a scan of sys.path (12 ms
        # of a cold start's first connection, measured by make bench).
        "driver_info": DriverInfo(lib_version=redis.__version__),
    }
    provider = credential_provider(settings)
    if provider is not None:
        kwargs["credential_provider"] = provider
    if settings.tls and settings.ca_file:
        kwargs["ssl_ca_certs"] = settings.ca_file
    if settings.cluster:
        return _cluster(settings, kwargs)
    # One request at a time per Lambda environment: one socket is the steady state.
    pool = redis.ConnectionPool.from_url(settings.url, max_connections=8, **kwargs)
    return redis.Redis(connection_pool=pool, driver_info=kwargs["driver_info"])


def _cluster(settings: RedisSettings, kwargs: dict[str, Any]) -> RedisCluster:
    """Cluster mode, with every seed node the configuration names.

    ``REDIS_URL`` is the first seed (on ElastiCache, the configuration endpoint, whose DNS
    name always resolves to live nodes); ``REDIS_CLUSTER_SEEDS`` adds more, so a cold start
    succeeds while any of them answers (a self-managed cluster whose first node is down).
    ``dynamic_startup_nodes`` is off where the only seed is a DNS name: redis-py would
    otherwise replace it with the node IPs it discovered, and a later topology refresh after
    a failover could find none of those alive while the endpoint itself still answers. With
    explicit node seeds it stays on: discovered nodes are then better seeds than the list.
    """
    first = urlsplit(settings.url)
    extra = [ClusterNode(host, port) for host, port in settings.cluster_seeds]  # type: ignore[no-untyped-call]
    # The URL goes in as redis://: redis-py would swap a rediss:// URL's connection class for
    # its own SSLConnection, dropping our health check; TLS (and its CA) come from ours.
    # Passing a URL also makes redis-py hand these options to each node's pool unchanged.
    url = urlunsplit(("redis", first.netloc, "", "", ""))
    return RedisCluster(url=url, startup_nodes=extra, dynamic_startup_nodes=bool(extra), **kwargs)


class RedisHandle:
    """The environment's one client, built on first use, dropped after a fault that a new
    connection fixes (a demoted primary behind a stable endpoint: redis-py#1764)."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._lock = threading.Lock()

    def _get(self) -> Client:
        client = self._client
        if client is not None:  # every command after the first: no lock on the hot path
            return client
        with self._lock:
            if self._client is None:
                self._client = build_client(self.settings)
            return self._client

    @contextmanager
    def use(self) -> Iterator[Client]:
        """The client, with every redis-py failure (construction included) turned into
        ``BackendUnavailable`` carrying a sanitised cause."""
        try:
            yield self._get()
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            fault = redis_faults.classify(exc, cluster=self.settings.cluster)
            if fault.drop_pool:
                # The command was refused, not run: nothing is re-sent. The next request
                # opens a new connection and so resolves the endpoint again.
                self.close()
            raise redis_faults.unavailable(fault) from exc

    def close(self) -> None:
        """Drop every pooled socket (e.g. after a SnapStart restore); reconnects lazily."""
        with self._lock:
            client, self._client = self._client, None
        if isinstance(client, RedisCluster):
            client.close()
        elif client is not None:
            client.connection_pool.disconnect()
