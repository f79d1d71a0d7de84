"""The hit counter's store: the count, its history and its visitors, the only code that sends
the counter's commands to Redis.

Every command runs inside ``handle.use()`` (``hitcounter.data.redis_client``), which maps any
redis-py failure to ``BackendUnavailable`` with a cause (``hitcounter.data.redis_faults``);
the scripts and the rules they keep are in ``hitcounter.data.scripts``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import NamedTuple

from redis.cluster import RedisCluster
from redis.exceptions import ClusterDownError

from hitcounter.data.history_reads import HistoryCounts, read_history
from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import COUNT_HIT, PERIOD_UNION, script
from hitcounter.model import history, keyspace
from hitcounter.model.history import Visit
from hitcounter.model.keys import shard_of


class Hit(NamedTuple):
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
        self.shard_keys = [keyspace.site(key_prefix, shards, i, keyspace.SITE_COUNT) for i in range(shards)]
        self.hits_key = self.shard_keys[0]
        self._prefix = key_prefix
        self.idempotency_ttl = idempotency_ttl
        self._count_hit = script(COUNT_HIT)
        self._period_union = script(PERIOD_UNION)
        # The last minute's key names (shard, minute) → keys: safe to lose, rebuilt on a miss.
        self._minute_keys: tuple[tuple[int, int], list[str]] = ((-1, -1), [])

    def _total(self) -> int:
        """The sum of every shard, read in one pipeline: GETs only, so a re-send is harmless."""
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for key in self.shard_keys:
                pipe.get(key)
            return sum(int(v) for v in pipe.execute() if v is not None)

    def _history_keys(self, shard: int, visit: Visit) -> list[str]:
        """The buckets, the day's HyperLogLog and the day's salt of this visit, on ``shard``:
        the same five names for a whole minute, so they are made once a minute per shard
        (three date formats and five strings per hit, otherwise)."""
        minute = (shard, visit.at_ms // 60_000)
        if self._minute_keys[0] != minute:
            day = history.day_id(visit.at_ms)
            prefix, shards = self._prefix, self.shards
            keys = [
                keyspace.site(prefix, shards, shard, keyspace.SITE_MINUTE, minute=history.minute_id(visit.at_ms)),
                keyspace.site(prefix, shards, shard, keyspace.SITE_HOUR, hour=history.hour_id(visit.at_ms)),
                keyspace.site(prefix, shards, shard, keyspace.SITE_DAY, day=day),
                keyspace.site(prefix, shards, shard, keyspace.SITE_UNIQUES, day=day),
                keyspace.site(prefix, shards, shard, keyspace.SITE_SALT, day=day),
            ]
            self._minute_keys = (minute, keys)
        return self._minute_keys[1]

    def _step(self, shard: int, record: str | None, mode: str, visit: Visit) -> tuple[int, bool]:
        """One EVALSHA: (the shard's new value or the recorded N, replayed)."""
        keys = [self.shard_keys[shard], record or self.shard_keys[shard], *self._history_keys(shard, visit)]
        args: list[str | int] = [
            self.idempotency_ttl if record else 0,
            mode,
            secrets.token_hex(16),  # the day's salt if this is its first hit (CSPRNG: no clone shares it)
            visit.visitor,
        ]
        with self._redis.use() as client:
            value, replayed = self._count_hit(keys=keys, args=args, client=client)
        return int(value), bool(replayed)

    def _visitor_shard(self, visit: Visit) -> int:
        """Without a key, a visitor always lands on one shard (so each shard's uniques are
        disjoint and add up); without a visitor, any shard (the OS's CSPRNG: SnapStart
        clones do not share a sequence)."""
        if visit.visitor:
            return shard_of(visit.visitor, self.shards)
        return secrets.randbelow(self.shards)

    def incr(self, visit: Visit) -> Hit:
        """Count one hit, its buckets and its visitor: one EVALSHA; the new total is the
        script's own INCR reply. Sharded: the script, then the total (a read pipeline)."""
        if self.shards == 1:
            n, _ = self._step(0, None, "0", visit)
            return Hit(n, started=n == 1)
        mine, _ = self._step(self._visitor_shard(visit), None, "0", visit)
        return Hit(self._total(), started=mine == 1)

    def incr_once(self, idempotency_key: str, visit: Visit) -> Hit:
        """Count one hit per key, in the same one EVALSHA; the client's key is hashed so its
        length and characters never shape a Redis key."""
        digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        shard = shard_of(digest, self.shards)
        record = keyspace.site(self._prefix, self.shards, shard, keyspace.SITE_RECORD, digest=digest)
        if self.shards == 1:
            n, replayed = self._step(shard, record, "n", visit)
            return Hit(n, replayed, started=n == 1 and not replayed)
        value, replayed = self._step(shard, record, "0", visit)
        if replayed and value > 0:
            return Hit(value, True)
        total = self._total()
        if not replayed:
            with self._redis.use() as client:
                # Idempotent (same value, only if the record exists): sent once all the same.
                client.set(record, total, xx=True, keepttl=True)
        return Hit(total, replayed, started=not replayed and value == 1)

    def history(self, period: history.Period, now_ms: int, recent_imports: int = 0) -> HistoryCounts:
        """The period's buckets, unique visitors and the total, summed over the shards (one
        pipeline of reads: ``hitcounter.data.history_reads``)."""

        def key(shard: int, kind: keyspace.KeyKind, **fields: object) -> str:
            return keyspace.site(self._prefix, self.shards, shard, kind, **fields)

        with self._redis.use() as client:
            return read_history(
                client,
                self._period_union,
                key,
                keyspace.SITE_HISTORY,
                self.shards,
                period,
                now_ms,
                recent_imports=recent_imports,
            )

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
