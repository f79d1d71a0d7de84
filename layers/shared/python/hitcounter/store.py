"""The Redis stores: the only code that sends commands to Redis.

Each store gets the environment's ``RedisHandle`` (``hitcounter.redis_client``: how the
client is built, and why nothing is ever re-sent) and runs every command inside
``handle.use()``, which maps any redis-py failure to ``BackendUnavailable`` with a cause
(``hitcounter.redis_faults``).

Rules every command here keeps:

* A write is one command or one script, sent once. No write rides in a pipeline: redis-py's
  ``ClusterPipeline`` re-sends its commands after a ConnectionError or TimeoutError whatever
  the client's ``Retry`` says. Pipelines carry reads only (the sharded total).
* Every script that writes starts with a ``#!lua`` shebang and no ``allow-oom`` flag: Redis 7
  then refuses it before it runs when memory is over ``maxmemory`` (an undeclared script
  whose first command is one Redis allows under OOM, such as EXPIRE, may then go on to
  write), and refuses it on a replica (READONLY) instead of failing half-way.
* Multi-key scripts touch keys under one hash tag, so they work on cluster mode and
  ElastiCache Serverless.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import ClusterDownError

from hitcounter.redis_client import RedisHandle


def _script(source: str) -> Script:
    """A script run by EVALSHA on whichever client it is given; its sha is computed here, with
    no client and no I/O. redis-py loads it on NOSCRIPT (the script did not run then, so that
    second send is not a re-send of a write)."""
    text = source.strip()
    assert text.startswith("#!lua"), "a script that writes declares its flags"
    return Script(None, text.encode())  # type: ignore[arg-type]


# Dedupe and count in one server-side step: a replay finds the record and returns the N
# the first request got; the counter and the record share the {hits} slot.
_INCR_ONCE = """
#!lua
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


# Sharded variant: the record is first a placeholder, then the total the caller reported;
# it answers the shard's own new value (1 means the shard started afresh).
_INCR_ONCE_SHARD = """
#!lua
local seen = redis.call('GET', KEYS[2])
if seen then return {tonumber(seen), 1} end
local n = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1])
return {n, 0}
"""


@dataclass(frozen=True, slots=True)
class Hit:
    """One counted (or replayed) hit: the total the client sees, whether it is a replay of an
    earlier request, and whether the key it incremented was new (its INCR answered 1): the
    first hit of a new store, or a count that was lost (a restart without persistence, an
    eviction, a flush)."""

    total: int
    replayed: bool = False
    started: bool = False


class HitStore:
    """The hit counter. Keys share the ``{hits}`` hash tag so that multi-key steps (the
    idempotency record and the counter) stay in one slot on cluster mode and ElastiCache
    Serverless.

    With ``shards`` > 1 (``HITS_SHARDS``) the count is spread over that many keys, each with
    its own hash tag and so its own slot: increments of a hot counter spread over cluster
    shards. The price is the read: the increment is one command, then the total is the sum
    of every shard (one pipelined GET per shard, reads only), so a counted hit costs two
    round trips, and the N a request sees is the total just after its increment, which
    concurrent requests can share.
    """

    def __init__(
        self, handle: RedisHandle, key_prefix: str = "", idempotency_ttl: int = 86400, shards: int = 1
    ) -> None:
        self._redis = handle
        self.shards = shards
        self.shard_keys = [hits_key(key_prefix, shards, i, "count") for i in range(shards)]
        self.hits_key = self.shard_keys[0]
        self._prefix = key_prefix
        self.idempotency_ttl = idempotency_ttl
        self._incr_once = _script(_INCR_ONCE)
        self._incr_once_shard = _script(_INCR_ONCE_SHARD)

    def _total(self) -> int:
        """The sum of every shard, read in one pipeline: GETs only, so a re-send is harmless."""
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for key in self.shard_keys:
                pipe.get(key)
            return sum(int(v) for v in pipe.execute() if v is not None)

    def incr(self) -> Hit:
        """Count one hit; the new total comes from INCR's own reply: one round trip."""
        if self.shards == 1:
            with self._redis.use() as client:
                n = int(client.incr(self.hits_key))
            return Hit(n, started=n == 1)
        # A random shard from the OS's CSPRNG: SnapStart clones do not share a sequence.
        with self._redis.use() as client:
            mine = int(client.incr(self.shard_keys[secrets.randbelow(self.shards)]))
        return Hit(self._total(), started=mine == 1)

    def incr_once(self, idempotency_key: str) -> Hit:
        """Count one hit per key. One EVALSHA; the client's key is hashed so its length and
        characters never shape a Redis key."""
        digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        shard = shard_of(digest, self.shards)
        counter = self.shard_keys[shard]
        record = hits_key(self._prefix, self.shards, shard, f"idem:{digest}")
        if self.shards == 1:
            with self._redis.use() as client:
                n, replayed = self._incr_once(keys=[counter, record], args=[self.idempotency_ttl], client=client)
            return Hit(int(n), bool(replayed), started=int(n) == 1 and not replayed)
        with self._redis.use() as client:
            value, replayed = self._incr_once_shard(keys=[counter, record], args=[self.idempotency_ttl], client=client)
        if replayed and int(value) > 0:
            return Hit(int(value), True)
        total = self._total()
        if not replayed:
            with self._redis.use() as client:
                # Idempotent (same value, only if the record exists): sent once all the same.
                client.set(record, total, xx=True, keepttl=True)
        return Hit(total, bool(replayed), started=not replayed and int(value) == 1)

    def count(self) -> int:
        if self.shards > 1:
            return self._total()
        with self._redis.use() as client:
            raw = client.get(self.hits_key)
        return int(raw) if raw is not None else 0

    def ping_ms(self) -> float:
        """Round-trip time of the readiness check, in milliseconds. Standalone: one PING.
        Cluster: CLUSTER INFO from the master of each counter shard's slot, which must say
        ``cluster_state:ok`` (a cluster that lost a slot's master without a failover, or
        that lost its majority, refuses writes: not ready)."""
        with self._redis.use() as client:
            start = time.perf_counter()
            if isinstance(client, RedisCluster):
                nodes = {key: client.get_node_from_key(key) for key in self.shard_keys}  # type: ignore[no-untyped-call]
                for node in {node.name: node for node in nodes.values()}.values():
                    info = client.cluster_info(target_nodes=node)
                    if not isinstance(info, dict) or info.get("cluster_state") != "ok":
                        raise ClusterDownError("cluster_state is not ok")
            else:
                client.ping()
            return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        """Drop every pooled socket (e.g. after a SnapStart restore); reconnects lazily."""
        self._redis.close()


@dataclass(frozen=True, slots=True)
class Session:
    visits: int
    data: dict[str, Any]


# EXPIRE answers 0 for a missing (or expired) key: the existence check and the TTL slide
# are one command, and the script keeps the visit, the slide and the read in one round trip.
_VISIT = """
#!lua
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
local visits = redis.call('HINCRBY', KEYS[1], 'visits', 1)
return {visits, redis.call('HGET', KEYS[1], 'data')}
"""
_CREATE = """
#!lua
redis.call('HSET', KEYS[1], 'visits', 0, 'data', '{}')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
_REPLACE = """
#!lua
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return redis.call('HGET', KEYS[1], 'visits')
"""


class SessionStore:
    """Visitor sessions: one hash per session (visits, data), expiring ``ttl`` seconds after
    the last use."""

    ID_BYTES = 32  # 256 bits from the OS's CSPRNG, drawn per request, never at init

    def __init__(self, handle: RedisHandle, key_prefix: str, ttl: int) -> None:
        self._redis = handle
        self._prefix = f"{key_prefix}session:"
        self.ttl = ttl
        self._create = _script(_CREATE)
        self._visit = _script(_VISIT)
        self._replace = _script(_REPLACE)

    def _key(self, sid: str) -> str:
        return self._prefix + sid

    def create(self) -> str:
        sid = secrets.token_urlsafe(self.ID_BYTES)
        with self._redis.use() as client:
            self._create(keys=[self._key(sid)], args=[self.ttl], client=client)
        return sid

    def visit(self, sid: str) -> Session | None:
        """Count a visit and slide the TTL; None when there is no live session."""
        with self._redis.use() as client:
            found = self._visit(keys=[self._key(sid)], args=[self.ttl], client=client)
        if found is None:
            return None
        visits, data = found
        return Session(int(visits), json.loads(data))

    def replace_data(self, sid: str, data: dict[str, Any]) -> Session | None:
        stored = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        with self._redis.use() as client:
            visits = self._replace(keys=[self._key(sid)], args=[self.ttl, stored], client=client)
        return None if visits is None else Session(int(visits), data)

    def delete(self, sid: str) -> bool:
        with self._redis.use() as client:
            return bool(client.delete(self._key(sid)))


# An import adds its count and stores its summary in one step, keyed by the object's key and
# ETag, on the counter's {hits} slot: a second import of the same object (also one running
# at the same time) finds the summary and adds nothing.
_COMMIT_IMPORT = """
#!lua
local existing = redis.call('GET', KEYS[2])
if existing then return {existing, 0} end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
return {ARGV[2], 1}
"""


class ImportStore:
    """Imports in Redis: the summary of each finished one, kept for good (the ledger of what
    was added), and the state of each one under way (pending, running, failed), kept a week.
    Both live under the hash tag of the counter shard the import adds to."""

    STATE_TTL = 7 * 86400

    def __init__(self, handle: RedisHandle, key_prefix: str = "", shards: int = 1) -> None:
        self._redis = handle
        self._key_prefix = key_prefix
        self.shards = shards
        self._commit = _script(_COMMIT_IMPORT)

    def _keys(self, import_id: str) -> list[str]:
        """The counter shard, the summary and the state, under one hash tag chosen by the id."""
        shard = shard_of(import_id, self.shards)
        return [
            hits_key(self._key_prefix, self.shards, shard, "count"),
            hits_key(self._key_prefix, self.shards, shard, f"import:{import_id}"),
            hits_key(self._key_prefix, self.shards, shard, f"import:{import_id}:state"),
        ]

    def read(self, import_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The summary and the state record, read together by one MGET (the keys share a
        slot). Read one after the other, a commit landing between the two reads (it stores
        the summary and deletes the state) made a running import look unknown."""
        _, summary_key, state_key = self._keys(import_id)
        with self._redis.use() as client:
            summary, state = client.mget([summary_key, state_key])
        return (
            None if summary is None else dict(json.loads(summary)),
            None if state is None else dict(json.loads(state)),
        )

    def get(self, import_id: str) -> dict[str, Any] | None:
        """The stored summary of a finished import."""
        with self._redis.use() as client:
            raw = client.get(self._keys(import_id)[1])
        return None if raw is None else dict(json.loads(raw))

    def set_state(self, import_id: str, record: dict[str, Any]) -> None:
        with self._redis.use() as client:
            client.set(self._keys(import_id)[2], json.dumps(record, separators=(",", ":")), ex=self.STATE_TTL)

    def commit(self, import_id: str, counted: int, summary: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add ``counted`` to the hits and store ``summary`` unless this import is already
        stored; returns the stored summary and whether this call created it. The state
        record goes in the same step: a finished import has none."""
        with self._redis.use() as client:
            stored, created = self._commit(
                keys=self._keys(import_id),
                args=[counted, json.dumps(summary, separators=(",", ":"))],
                client=client,
            )
        return dict(json.loads(stored)), bool(created)
