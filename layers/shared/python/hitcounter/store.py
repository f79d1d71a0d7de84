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
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from hitcounter.errors import BackendUnavailable
from hitcounter.settings import RedisSettings

_NO_RETRY = Retry(NoBackoff(), 0)
_HEALTH_CHECK_RETRY = Retry(NoBackoff(), 1)


class _PlainConnection(Connection):
    """Health-check PING with one reconnect-and-retry; commands keep ``_NO_RETRY``."""

    def check_health(self) -> None:
        # redis-py calls this from send_packed_command before the command's bytes go out.
        if self.health_check_interval and time.monotonic() > self.next_health_check:
            _HEALTH_CHECK_RETRY.call_with_retry(self._send_ping, self._ping_failed, with_failure_count=True)


class _TLSConnection(_PlainConnection, SSLConnection):
    """The same health check over TLS (MRO: this check, then SSLConnection's socket)."""


def build_client(settings: RedisSettings) -> redis.Redis:
    """A client whose pool opens sockets lazily: building it does no I/O.

    TLS (``rediss://``) verifies the server certificate against the system CA bundle;
    nothing here can turn verification off.
    """
    pool = redis.ConnectionPool.from_url(
        settings.url,
        connection_class=_TLSConnection if settings.tls else _PlainConnection,
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.command_timeout,
        socket_keepalive=True,
        health_check_interval=settings.health_check_interval,
        retry=_NO_RETRY,
        # One request at a time per Lambda environment: one socket is the steady state.
        max_connections=8,
    )
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


class HitStore:
    """The hit counter. Keys share the ``{hits}`` hash tag so that multi-key steps (the
    idempotency record and the counter) stay in one slot on cluster mode and ElastiCache
    Serverless."""

    def __init__(self, client: redis.Redis, key_prefix: str = "", idempotency_ttl: int = 86400) -> None:
        self._client = client
        self.hits_key = f"{key_prefix}{{hits}}:count"
        self._idem_prefix = f"{key_prefix}{{hits}}:idem:"
        self.idempotency_ttl = idempotency_ttl
        self._incr_once = client.register_script(_INCR_ONCE)  # sha computed locally: no I/O

    def incr(self) -> int:
        """Count one hit; the new total comes from INCR's own reply: one round trip."""
        with _redis_errors():
            return int(self._client.incr(self.hits_key))

    def incr_once(self, idempotency_key: str) -> tuple[int, bool]:
        """Count one hit per key: ``(N, replayed)``. One EVALSHA; the client's key is hashed
        so its length and characters never shape a Redis key."""
        record = self._idem_prefix + hashlib.sha256(idempotency_key.encode()).hexdigest()
        with _redis_errors():
            n, replayed = self._incr_once(keys=[self.hits_key, record], args=[self.idempotency_ttl])
        return int(n), bool(replayed)

    def count(self) -> int:
        with _redis_errors():
            raw = self._client.get(self.hits_key)
        return int(raw) if raw is not None else 0

    def ping_ms(self) -> float:
        """Round-trip time of one PING, in milliseconds."""
        with _redis_errors():
            start = time.perf_counter()
            self._client.ping()
            return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        """Drop every pooled socket (e.g. after a SnapStart restore); reconnects lazily."""
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

    def __init__(self, client: redis.Redis, key_prefix: str, ttl: int) -> None:
        self._client = client
        self._prefix = f"{key_prefix}session:"
        self.ttl = ttl
        self._visit = client.register_script(_VISIT)  # sha computed locally: no I/O here
        self._replace = client.register_script(_REPLACE)

    def _key(self, sid: str) -> str:
        return self._prefix + sid

    def create(self) -> str:
        sid = secrets.token_urlsafe(self.ID_BYTES)
        with _redis_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._key(sid), mapping={"visits": 0, "data": "{}"})
            pipe.expire(self._key(sid), self.ttl)
            pipe.execute()
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

    def __init__(self, client: redis.Redis, key_prefix: str = "") -> None:
        self._client = client
        self._hits_key = f"{key_prefix}{{hits}}:count"
        self._prefix = f"{key_prefix}{{hits}}:import:"
        self._commit = client.register_script(_COMMIT_IMPORT)

    def get(self, import_id: str) -> dict[str, Any] | None:
        with _redis_errors():
            raw = self._client.get(self._prefix + import_id)
        return None if raw is None else dict(json.loads(raw))

    def commit(self, import_id: str, counted: int, summary: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add ``counted`` to the hits and store ``summary`` unless this import is already
        stored; returns the stored summary and whether this call created it."""
        with _redis_errors():
            stored, created = self._commit(
                keys=[self._hits_key, self._prefix + import_id],
                args=[counted, json.dumps(summary, separators=(",", ":"))],
            )
        return dict(json.loads(stored)), bool(created)
