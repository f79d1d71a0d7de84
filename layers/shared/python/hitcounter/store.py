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

from hitcounter import history
from hitcounter.history import Visit
from hitcounter.redis_client import RedisHandle


def _script(source: str) -> Script:
    """A script run by EVALSHA on whichever client it is given; its sha is computed here, with
    no client and no I/O. redis-py loads it on NOSCRIPT (the script did not run then, so that
    second send is not a re-send of a write)."""
    text = source.strip()
    assert text.startswith("#!lua"), "a script that writes declares its flags"
    return Script(None, text.encode())  # type: ignore[arg-type]


# One counted hit, in one server-side step: dedupe (with an Idempotency-Key), count, and add
# the hit to its minute, hour and day buckets and its visitor to the day's HyperLogLog. Every
# key is under the counter shard's hash tag. A replay returns the N the first request got
# and adds nothing.
#   KEYS: counter, record, minute, hour, day, uniques, salt
#   ARGV: record TTL ("0": no Idempotency-Key), "n" to record the count or "0" a placeholder
#         (sharded: the caller records the total), minute/hour/day TTLs, a fresh salt (used
#         only if the day has none), the salt's TTL, the visitor's digest ("" for none)
_COUNT_HIT = """
#!lua
local keyed = ARGV[1] ~= '0'
if keyed then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {tonumber(seen), 1} end
end
local n = redis.call('INCR', KEYS[1])
if keyed then
  local value = 0
  if ARGV[2] == 'n' then value = n end
  redis.call('SET', KEYS[2], value, 'EX', ARGV[1])
end
for i = 3, 5 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[i])
end
if ARGV[8] ~= '' then
  local salt = redis.call('GET', KEYS[7])
  if not salt then
    salt = ARGV[6]
    redis.call('SET', KEYS[7], salt, 'EX', ARGV[7])
  end
  redis.call('PFADD', KEYS[6], redis.sha1hex(salt .. ARGV[8]))
  redis.call('EXPIRE', KEYS[6], ARGV[5])
end
return {n, 0}
"""


# The unique visitors of a period's closed days (every day but today), merged once per day
# per period and kept until the next: a multi-key PFCOUNT merges every HyperLogLog it names
# on Redis's one thread on every call and cannot cache the result (365 dense days: 10-18 ms
# of server CPU per read). With this, a read merges two: the closed days' union and today.
# Idempotent (a re-send merges the same days again), so it may be retried or raced; an
# import that adds visitors to a past day deletes the unions (``_COMMIT_IMPORT``).
#   KEYS: the union, then the closed days' HyperLogLogs   ARGV: the union's TTL
_PERIOD_UNION = """
#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('PFMERGE', KEYS[1], unpack(KEYS, 2))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 1
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
        self._count_hit = _script(_COUNT_HIT)
        self._period_union = _script(_PERIOD_UNION)

    def _total(self) -> int:
        """The sum of every shard, read in one pipeline: GETs only, so a re-send is harmless."""
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for key in self.shard_keys:
                pipe.get(key)
            return sum(int(v) for v in pipe.execute() if v is not None)

    def _history_keys(self, shard: int, visit: Visit) -> list[str]:
        """The buckets, the day's HyperLogLog and the day's salt of this visit, on ``shard``."""
        day = history.day_id(visit.at_ms)
        return [
            hits_key(self._prefix, self.shards, shard, f"m:{history.minute_id(visit.at_ms)}"),
            hits_key(self._prefix, self.shards, shard, f"h:{history.hour_id(visit.at_ms)}"),
            hits_key(self._prefix, self.shards, shard, f"d:{day}"),
            hits_key(self._prefix, self.shards, shard, f"u:{day}"),
            hits_key(self._prefix, self.shards, shard, f"salt:{day}"),
        ]

    def _step(self, shard: int, record: str | None, mode: str, visit: Visit) -> tuple[int, bool]:
        """One EVALSHA: (the shard's new value or the recorded N, replayed)."""
        keys = [self.shard_keys[shard], record or self.shard_keys[shard], *self._history_keys(shard, visit)]
        args: list[str | int] = [
            self.idempotency_ttl if record else 0,
            mode,
            history.MINUTE_TTL,
            history.HOUR_TTL,
            history.DAY_TTL,
            secrets.token_hex(16),  # the day's salt if this is its first hit (CSPRNG: no clone shares it)
            history.SALT_TTL,
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
        record = hits_key(self._prefix, self.shards, shard, f"idem:{digest}")
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

    def history(self, period: history.Period, now_ms: int, recent_imports: int = 0) -> dict[str, Any]:
        """The period's buckets, unique visitors and the total, in one pipeline of reads
        (per shard: one MGET of the buckets, one PFCOUNT per day and one over the whole
        period, one GET of the count; a re-send is harmless). The work is bounded by the
        period (at most 365 buckets) times HITS_SHARDS."""
        starts = history.bucket_starts(period, now_ms)
        prefix = history.UNITS[period.unit].prefix
        ids = [history.bucket_id(period.unit, start) for start in starts]
        days = history.days_of(period, now_ms)
        today = history.day_id(now_ms)
        # Day periods: the closed days' union is made once a day (``_PERIOD_UNION``); hour and
        # minute periods touch at most three days, merged directly.
        cached = period.unit == "day" and len(days) > 1
        with self._redis.use() as client:
            if cached:
                self._make_unions(client, period.name, days, today)
            pipe = client.pipeline(transaction=False)
            for shard in range(self.shards):
                # redis-py's cluster pipeline blocks its mget()/pfcount() helpers (they could
                # span slots); these keys share the shard's hash tag, so the commands are sent
                # as they are, and the pipeline routes each by its keys' one slot.
                buckets = [hits_key(self._prefix, self.shards, shard, f"{prefix}:{i}") for i in ids]
                pipe.execute_command("MGET", *buckets)
                day_hlls = [hits_key(self._prefix, self.shards, shard, f"u:{d}") for d in days]
                # PFCOUNT may cache its estimate in the HyperLogLog's header, nothing more: a
                # re-send (a cluster pipeline's) changes no count. Single-key PFCOUNTs of
                # closed days answer from that cache; the period's union merges two keys.
                if cached:
                    today_hll = hits_key(self._prefix, self.shards, shard, f"u:{today}")
                    pipe.execute_command("PFCOUNT", self._union_key(shard, period.name, today), today_hll)
                else:
                    pipe.execute_command("PFCOUNT", *day_hlls)
                for key in day_hlls:
                    pipe.execute_command("PFCOUNT", key)
                pipe.get(self.shard_keys[shard])
                if recent_imports:
                    pipe.lrange(hits_key(self._prefix, self.shards, shard, "imports:recent"), 0, recent_imports - 1)
            replies = pipe.execute()
        hits = [0] * len(ids)
        per_day = dict.fromkeys(days, 0)
        uniques = total = 0
        step = 3 + len(days) + (1 if recent_imports else 0)
        imports: list[dict[str, Any]] = []
        for shard in range(self.shards):
            chunk = replies[shard * step : (shard + 1) * step]
            if recent_imports:
                imports += [json.loads(raw) for raw in chunk.pop()]
            buckets, union, *day_counts, count = chunk
            hits = [h + int(v or 0) for h, v in zip(hits, buckets, strict=True)]
            # Each visitor lands on one shard (or, with Idempotency-Keys, may on several):
            # the shards' estimates add up (docs/history.md).
            uniques += int(union)
            for day, n in zip(days, day_counts, strict=True):
                per_day[day] += int(n)
            total += int(count or 0)
        series = []
        today_hits = 0
        for start, n in zip(starts, hits, strict=True):
            point: dict[str, Any] = {"start": start.isoformat().replace("+00:00", "Z"), "hits": n}
            day = history.bucket_id("day", start)
            if period.unit == "day":
                point["uniques"] = per_day[day]
            today_hits += n if day == today else 0
            series.append(point)
        result = {
            "period": period.name,
            "unit": period.unit,
            "total": total,
            "hits": sum(hits),
            "uniques": uniques,
            "today": {"hits": today_hits, "uniques": per_day.get(today, 0)},
            "series": series,
        }
        if recent_imports:
            imports.sort(key=lambda i: str(i.get("imported_at", "")), reverse=True)
            result["imports"] = imports[:recent_imports]
        return result

    def _make_unions(self, client: Any, period: str, days: list[str], today: str) -> None:
        """Each shard's union of the period's closed days, unless today's is made already."""
        for shard in range(self.shards):
            closed = [hits_key(self._prefix, self.shards, shard, f"u:{d}") for d in days if d != today]
            keys = [self._union_key(shard, period, today), *closed]
            self._period_union(keys=keys, args=[history.UNION_TTL], client=client)

    def _union_key(self, shard: int, period: str, today: str) -> str:
        return hits_key(self._prefix, self.shards, shard, f"uq:{period}:{today}")

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
# The same step adds the log's hits to the minute, hour and day buckets of each line's own time
# (ARGV: bucket count, then increment and TTL per bucket key) and merges the visitors staged
# per day (hitcounter.store.ImportStore.stage_visitors) into that day's HyperLogLog.
# A duplicate (content another import already counted) merges no visitors: its staging keys
# are only deleted. The summary expires with the history it added to (the day buckets').
# Visitors merged into past days make the periods' cached unions (``_PERIOD_UNION``) stale:
# the step deletes them, and the next read merges them again.
#   KEYS: counter, summary, state, recent imports, bucket keys…, then (day HLL, staging) pairs,
#         then the period unions to delete
#   ARGV: counted, summary, recent entry, bucket count, (increment, TTL)…, day TTL, summary TTL,
#         "1" to merge the staged visitors or "0" to drop them, the number of (day, staging) pairs
_COMMIT_IMPORT = """
#!lua
local existing = redis.call('GET', KEYS[2])
if existing then return {existing, 0} end
local buckets = tonumber(ARGV[4])
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[6 + 2 * buckets])
redis.call('DEL', KEYS[3])
redis.call('LPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], 0, 9)
for i = 1, buckets do
  local key = KEYS[4 + i]
  redis.call('INCRBY', key, ARGV[3 + 2 * i])
  redis.call('EXPIRE', key, ARGV[4 + 2 * i])
end
local day_ttl = ARGV[5 + 2 * buckets]
local merge = ARGV[7 + 2 * buckets] == '1'
local last_pair = 4 + buckets + 2 * tonumber(ARGV[8 + 2 * buckets])
for i = 5 + buckets, last_pair, 2 do
  if merge then
    redis.call('PFMERGE', KEYS[i], KEYS[i], KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i], day_ttl)
  end
  redis.call('DEL', KEYS[i + 1])
end
for i = last_pair + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return {ARGV[2], 1}
"""

# Stage a batch of an import's visitors for one day, salted with that day's salt (made if the
# day has none): PFADD only, so a retried batch adds nothing new. The staging key expires on
# its own if the import never commits.
#   KEYS: the day's salt, the staging HyperLogLog   ARGV: a fresh salt, salt TTL, staging TTL, digests…
_STAGE_VISITORS = """
#!lua
local salt = redis.call('GET', KEYS[1])
if not salt then
  salt = ARGV[1]
  redis.call('SET', KEYS[1], salt, 'EX', ARGV[2])
end
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = redis.sha1hex(salt .. ARGV[i]) end
redis.call('PFADD', KEYS[2], unpack(ids))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return #ids
"""


# Admit one more import today, up to a cap: the day's tally expires with the day (+1 h).
#   KEYS: the day's tally   ARGV: the cap, the tally's TTL
_ADMIT_IMPORT = """
#!lua
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1
"""


class ImportStore:
    """Imports in Redis: the summary of each finished one, kept as long as the history it
    added to (``SUMMARY_TTL``: the ledger of what was added, and what makes a second import
    of the same object count nothing), the owner of each content digest for as long, and the
    state of each one under way (pending, running, failed), kept a week. They live under the
    hash tag of the counter shard the import adds to; a content record under its digest's."""

    STATE_TTL = 7 * 86400
    SUMMARY_TTL = history.DAY_TTL

    def __init__(self, handle: RedisHandle, key_prefix: str = "", shards: int = 1) -> None:
        self._redis = handle
        self._key_prefix = key_prefix
        self.shards = shards
        self._commit = _script(_COMMIT_IMPORT)
        self._stage = _script(_STAGE_VISITORS)
        self._admit = _script(_ADMIT_IMPORT)

    def admit(self, day: str, per_day: int) -> bool:
        """Count one import started on ``day`` (UTC); False past ``per_day`` of them. What
        bounds the ledger: a bucket writer can upload without limit, the ledger grows by at
        most ``per_day`` summaries a day, each kept ``SUMMARY_TTL``."""
        key = hits_key(self._key_prefix, self.shards, 0, f"imports:day:{day}")
        with self._redis.use() as client:
            return bool(self._admit(keys=[key], args=[per_day, 86400 + 3600], client=client))

    def claim_content(self, sha256: str, import_id: str) -> str:
        """The import that owns this content: ``import_id`` when it is the first to claim it
        (or claimed it before, on an earlier try), else the one that did. One SET NX GET,
        sent once, so two objects with the same bytes racing each other get one owner."""
        key = hits_key(self._key_prefix, self.shards, shard_of(sha256, self.shards), f"content:{sha256}")
        with self._redis.use() as client:
            before = client.set(key, import_id, nx=True, get=True, ex=self.SUMMARY_TTL)
        return import_id if before is None else before.decode() if isinstance(before, bytes) else str(before)

    def _keys(self, import_id: str) -> list[str]:
        """The counter shard, the summary and the state, under one hash tag chosen by the id."""
        return [self._key(import_id, name) for name in ("count", f"import:{import_id}", f"import:{import_id}:state")]

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

    def _key(self, import_id: str, name: str) -> str:
        return hits_key(self._key_prefix, self.shards, shard_of(import_id, self.shards), name)

    def stage_visitors(self, import_id: str, day: str, digests: list[str], ttl: int) -> None:
        """Add a batch of the import's visitors of ``day`` to its staging HyperLogLog."""
        keys = [self._key(import_id, f"salt:{day}"), self._key(import_id, f"import:{import_id}:u:{day}")]
        args: list[str | int] = [secrets.token_hex(16), history.SALT_TTL, ttl, *digests]
        with self._redis.use() as client:
            self._stage(keys=keys, args=args, client=client)

    def commit(
        self,
        import_id: str,
        counted: int,
        summary: dict[str, Any],
        buckets: dict[str, tuple[int, int]] | None = None,
        visitor_days: list[str] | None = None,
        *,
        merge_visitors: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """Add ``counted`` to the hits and store ``summary`` unless this import is already
        stored; returns the stored summary and whether this call created it. The state
        record goes in the same step: a finished import has none. So do the history:
        ``buckets`` maps a bucket name (``m:…``, ``h:…``, ``d:…``) to (hits, TTL), and each
        day of ``visitor_days`` has its staged visitors merged into that day's uniques."""
        buckets = buckets or {}
        entry = {k: summary.get(k) for k in ("id", "key", "counted", "lines", "imported_at")}
        keys = [*self._keys(import_id), self._key(import_id, "imports:recent")]
        args: list[str | int] = [
            counted,
            json.dumps(summary, separators=(",", ":")),
            json.dumps(entry, separators=(",", ":")),
            len(buckets),
        ]
        for name, (hits, ttl) in buckets.items():
            keys.append(self._key(import_id, name))
            args += [hits, ttl]
        days = visitor_days or []
        args += [history.DAY_TTL, self.SUMMARY_TTL, "1" if merge_visitors else "0", len(days)]
        for day in days:
            keys += [self._key(import_id, f"u:{day}"), self._key(import_id, f"import:{import_id}:u:{day}")]
        if days and merge_visitors:
            # The unions a reader may hold now: named by today's and yesterday's date (a
            # reader's clock may be on either side of midnight).
            now_ms = time.time_ns() // 1_000_000
            for today in {history.day_id(now_ms), history.day_id(now_ms - 86_400_000)}:
                keys += [self._key(import_id, f"uq:{p}:{today}") for p in history.DAY_PERIODS]
        with self._redis.use() as client:
            stored, created = self._commit(keys=keys, args=args, client=client)
        return dict(json.loads(stored)), bool(created)
