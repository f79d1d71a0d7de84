"""The Redis store: the only module that talks to Redis.

Retry policy, and why it never re-sends a write that may have reached the server
(FIELD-NOTES: redis-py#261, #977; redis-py 8 retries 10 times by default):

* Commands run with ``Retry(NoBackoff(), 0)``: redis-py sends each command once. If the
  reply is lost (timeout, connection dropped after the write), the INCR may or may not
  have run, so the request fails with 503 instead of risking a double count: at most once.
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
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.connection import Connection, SSLConnection
from redis.credentials import CredentialProvider
from redis.retry import Retry

from hitcounter.errors import BackendUnavailable
from hitcounter.redis_auth import ElastiCacheIAMProvider, RefreshableCredentials, SecretsManagerProvider
from hitcounter.settings import RedisSettings

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
    """A client whose pool opens sockets lazily: building it does no I/O.

    TLS (``rediss://``) verifies the server certificate and host name, against
    ``REDIS_CA_FILE`` or the system CA bundle; nothing here can turn verification off.
    Cluster mode (``REDIS_MODE=cluster``, and ElastiCache Serverless) follows MOVED/ASK
    redirections, which are safe (the command did not run), and, like standalone, never
    re-sends a command after a connection error or timeout (``retry=_NO_RETRY``).
    """
    kwargs: dict[str, Any] = {
        "connection_class": _TLSConnection if settings.tls else _PlainConnection,
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.command_timeout,
        "socket_keepalive": True,
        "health_check_interval": settings.health_check_interval,
        "retry": _NO_RETRY,
    }
    provider = credential_provider(settings)
    if provider is not None:
        kwargs["credential_provider"] = provider
    if settings.tls and settings.ca_file:
        kwargs["ssl_ca_certs"] = settings.ca_file
    if settings.cluster:
        return RedisCluster.from_url(settings.url, **kwargs)
    # One request at a time per Lambda environment: one socket is the steady state.
    pool = redis.ConnectionPool.from_url(settings.url, max_connections=8, **kwargs)
    return redis.Redis(connection_pool=pool)


@contextmanager
def _redis_errors() -> Iterator[None]:
    """Turn redis-py errors into typed app errors, without their text (it names hosts)."""
    try:
        yield
    except redis.RedisError as exc:
        # ConnectionError (incl. auth, loading), TimeoutError, READONLY after a failover,
        # OOM: all are the store being unable to serve; the client may retry later.
        raise BackendUnavailable() from exc


# Dedupe and count in one server-side step: a replay finds the record and returns the N
# the first request got; the counter and the record share the {hits} slot.
_INCR_ONCE = """
local seen = redis.call('GET', KEYS[2])
if seen then return {tonumber(seen), 1} end
local n = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], n, 'EX', ARGV[1])
return {n, 0}
"""


def hits_tag(shards: int, shard: int) -> str:
    """The hash tag of a counter shard: ``{hits}`` unsharded, ``{hits:i}`` for shard i."""
    return "{hits}" if shards == 1 else f"{{hits:{shard}}}"


def hits_key(prefix: str, shards: int, shard: int, name: str) -> str:
    """Every key that lives beside a counter shard, under its hash tag: the count itself,
    idempotency records, import summaries. One place, so multi-key steps share a slot."""
    return f"{prefix}{hits_tag(shards, shard)}:{name}"


def shard_of(value: str, shards: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) % shards


# Sharded variant: the record is first a placeholder, then the total the caller reported.
_INCR_ONCE_SHARD = """
local seen = redis.call('GET', KEYS[2])
if seen then return {tonumber(seen), 1} end
redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1])
return {0, 0}
"""


class HitStore:
    """The hit counter. Keys share the ``{hits}`` hash tag so that multi-key steps (the
    idempotency record and the counter) stay in one slot on cluster mode and ElastiCache
    Serverless.

    With ``shards`` > 1 (``HITS_SHARDS``) the count is spread over that many keys, each with
    its own hash tag and so its own slot: increments of a hot counter spread over cluster
    shards. The price is the read: the total is the sum of every shard (one pipelined GET
    per shard, one round trip per node), and the N a request sees is the total just after
    its increment, which concurrent requests can share.
    """

    def __init__(self, client: Client, key_prefix: str = "", idempotency_ttl: int = 86400, shards: int = 1) -> None:
        self._client = client
        self.shards = shards
        self.shard_keys = [hits_key(key_prefix, shards, i, "count") for i in range(shards)]
        self.hits_key = self.shard_keys[0]
        self._prefix = key_prefix
        self.idempotency_ttl = idempotency_ttl
        self._incr_once = client.register_script(_INCR_ONCE)  # sha computed locally: no I/O
        self._incr_once_shard = client.register_script(_INCR_ONCE_SHARD)

    def _total(self, first: str | None = None) -> tuple[int, list[Any]]:
        pipe = self._client.pipeline(transaction=False)
        if first:
            pipe.incr(first)
        for key in self.shard_keys:
            pipe.get(key)
        replies = pipe.execute()
        values = replies[1:] if first else replies
        return sum(int(v) for v in values if v is not None), replies

    def incr(self) -> int:
        """Count one hit; the new total comes from INCR's own reply: one round trip."""
        with _redis_errors():
            if self.shards == 1:
                return int(self._client.incr(self.hits_key))
            # A random shard from the OS's CSPRNG: SnapStart clones do not share a sequence.
            total, _ = self._total(first=self.shard_keys[secrets.randbelow(self.shards)])
            return total

    def incr_once(self, idempotency_key: str) -> tuple[int, bool]:
        """Count one hit per key: ``(N, replayed)``. One EVALSHA; the client's key is hashed
        so its length and characters never shape a Redis key."""
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        shard = shard_of(digest, self.shards)
        counter = self.shard_keys[shard]
        record = hits_key(self._prefix, self.shards, shard, f"idem:{digest}")
        with _redis_errors():
            if self.shards == 1:
                n, replayed = self._incr_once(keys=[counter, record], args=[self.idempotency_ttl])
                return int(n), bool(replayed)
            stored, replayed = self._incr_once_shard(keys=[counter, record], args=[self.idempotency_ttl])
            if replayed and int(stored) > 0:
                return int(stored), True
            total, _ = self._total()
            if not replayed:
                self._client.set(record, total, xx=True, keepttl=True)
            return total, bool(replayed)

    def count(self) -> int:
        with _redis_errors():
            if self.shards == 1:
                raw = self._client.get(self.hits_key)
                return int(raw) if raw is not None else 0
            return self._total()[0]

    def ping_ms(self) -> float:
        """Round-trip time of one PING, in milliseconds."""
        with _redis_errors():
            start = time.perf_counter()
            self._client.ping()
            return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        """Drop every pooled socket (e.g. after a SnapStart restore); reconnects lazily."""
        if isinstance(self._client, RedisCluster):
            self._client.disconnect_connection_pools()  # type: ignore[no-untyped-call]
        else:
            self._client.connection_pool.disconnect()


@dataclass(frozen=True, slots=True)
class Session:
    visits: int
    data: dict[str, Any]


# EXPIRE answers 0 for a missing (or expired) key: the existence check and the TTL slide
# are one command, and the script keeps the visit, the slide and the read in one round trip.
_VISIT = """
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
local visits = redis.call('HINCRBY', KEYS[1], 'visits', 1)
return {visits, redis.call('HGET', KEYS[1], 'data')}
"""
_CREATE = """
redis.call('HSET', KEYS[1], 'visits', 0, 'data', '{}')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
_REPLACE = """
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return redis.call('HGET', KEYS[1], 'visits')
"""


class SessionStore:
    """Visitor sessions: one hash per session (visits, data), expiring ``ttl`` seconds after
    the last use. Scripts run by EVALSHA; redis-py loads them on NOSCRIPT (the script did not
    run, so that second send is not a re-send of a write)."""

    ID_BYTES = 32  # 256 bits from the OS's CSPRNG, drawn per request, never at init

    def __init__(self, client: Client, key_prefix: str, ttl: int) -> None:
        self._client = client
        self._prefix = f"{key_prefix}session:"
        self.ttl = ttl
        self._create = client.register_script(_CREATE)  # sha computed locally: no I/O here
        self._visit = client.register_script(_VISIT)
        self._replace = client.register_script(_REPLACE)

    def _key(self, sid: str) -> str:
        return self._prefix + sid

    def create(self) -> str:
        sid = secrets.token_urlsafe(self.ID_BYTES)
        with _redis_errors():
            self._create(keys=[self._key(sid)], args=[self.ttl])
        return sid

    def visit(self, sid: str) -> Session | None:
        """Count a visit and slide the TTL; None when there is no live session."""
        with _redis_errors():
            found = self._visit(keys=[self._key(sid)], args=[self.ttl])
        if found is None:
            return None
        visits, data = found
        return Session(int(visits), json.loads(data))

    def replace_data(self, sid: str, data: dict[str, Any]) -> Session | None:
        with _redis_errors():
            visits = self._replace(keys=[self._key(sid)], args=[self.ttl, json.dumps(data, separators=(",", ":"))])
        return None if visits is None else Session(int(visits), data)

    def delete(self, sid: str) -> bool:
        with _redis_errors():
            return bool(self._client.delete(self._key(sid)))


# An import adds its count and stores its summary in one step, keyed by the object's key and
# ETag, on the counter's {hits} slot: a second import of the same object (also one running
# at the same time) finds the summary and adds nothing.
_COMMIT_IMPORT = """
local existing = redis.call('GET', KEYS[2])
if existing then return {existing, 0} end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {ARGV[2], 1}
"""


class ImportStore:
    """Summaries of access-log imports, kept for good: they are the ledger of what was added."""

    def __init__(self, client: Client, key_prefix: str = "", shards: int = 1) -> None:
        self._client = client
        self._key_prefix = key_prefix
        self.shards = shards
        self._commit = client.register_script(_COMMIT_IMPORT)

    def _keys(self, import_id: str) -> list[str]:
        """The counter shard and the summary key, under one hash tag chosen by the id."""
        shard = shard_of(import_id, self.shards)
        return [
            hits_key(self._key_prefix, self.shards, shard, "count"),
            hits_key(self._key_prefix, self.shards, shard, f"import:{import_id}"),
        ]

    def get(self, import_id: str) -> dict[str, Any] | None:
        with _redis_errors():
            raw = self._client.get(self._keys(import_id)[1])
        return None if raw is None else dict(json.loads(raw))

    def commit(self, import_id: str, counted: int, summary: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add ``counted`` to the hits and store ``summary`` unless this import is already
        stored; returns the stored summary and whether this call created it."""
        with _redis_errors():
            stored, created = self._commit(
                keys=self._keys(import_id),
                args=[counted, json.dumps(summary, separators=(",", ":"))],
            )
        return dict(json.loads(stored)), bool(created)
