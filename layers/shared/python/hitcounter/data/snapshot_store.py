"""Reading every exported key out of Redis, and writing a checked export back in
(``hitcounter.model.snapshot`` says which keys and why), plus the exports' and restores'
state records.

Reads ride pipelines (re-sent safely); writes never do (``hitcounter.data.scripts``): a
restore writes each key by one script call, sent once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import COMMIT_RESTORED, RELEASE_LOCK, RESTORE_KEY, TAKE_LOCK, script
from hitcounter.model import keyspace, snapshot
from hitcounter.model.keys import PAGE_SLOTS, slot_cap

BATCH = 256  # keys per pipeline: bounded replies, few round trips
STATE_TTL = keyspace.JOB_STATE_TTL
STAGED_TTL = keyspace.STAGED_TTL  # a restore's staged keys, if it stops and is not run again
# The version-1 registry (a set) is restored as the registry it became (``reg``).
_TARGET_NAMES = {"legacy_registry": (keyspace.LEGACY_REGISTRY.pattern, keyspace.REGISTRY.pattern)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SnapshotStore:
    def __init__(self, handle: RedisHandle, key_prefix: str, shards: int, pages_max: int) -> None:
        self._redis = handle
        self._prefix = key_prefix
        self.shards = shards
        # A slot's registry holds at most its share of PAGES_MAX (as the page store admits).
        self.slot_cap = slot_cap(pages_max)
        self._restore = script(RESTORE_KEY)
        self._commit = script(COMMIT_RESTORED)
        self._take_lock = script(TAKE_LOCK)
        self._release_lock = script(RELEASE_LOCK)

    # --- state of an export or a restore -------------------------------------------------

    def _state_key(self, job: str, ident: str) -> str:
        return keyspace.site(self._prefix, self.shards, 0, keyspace.JOB_STATE, job=job, id=ident)

    def state(self, job: str, ident: str) -> dict[str, Any] | None:
        with self._redis.use() as client:
            raw = client.get(self._state_key(job, ident))
        return json.loads(raw) if raw else None

    def set_state(self, job: str, ident: str, record: dict[str, Any]) -> None:
        with self._redis.use() as client:
            client.set(self._state_key(job, ident), json.dumps(record, separators=(",", ":")), ex=STATE_TTL)

    # --- the store's contents ------------------------------------------------------------

    def lock(self, ident: str, ttl: int) -> str:
        """Take (or, for the same restore, keep) the one restore's lock: the id holding it."""
        with self._redis.use() as client:
            holder = self._take_lock(keys=[self._lock_key()], args=[ident, ttl], client=client)
        return _text(holder)

    def unlock(self, ident: str) -> None:
        with self._redis.use() as client:
            self._release_lock(keys=[self._lock_key()], args=[ident], client=client)

    def _lock_key(self) -> str:
        return keyspace.site(self._prefix, self.shards, 0, keyspace.RESTORE_LOCK)

    def is_empty(self) -> bool:
        """No counter and no page: every site shard's count and every slot's page registry
        (and the registry of before pages expired) is missing, one pipeline of EXISTS,
        whatever the store holds. Every counted hit, import, page and seed writes one."""
        keys = [keyspace.site(self._prefix, self.shards, s, keyspace.SITE_COUNT) for s in range(self.shards)]
        registries = (keyspace.REGISTRY, keyspace.LEGACY_REGISTRY)
        keys += [keyspace.slot(self._prefix, slot, kind) for slot in range(PAGE_SLOTS) for kind in registries]
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.exists(key)
            return not any(pipe.execute())

    def dump(self) -> Iterator[tuple[str, str, Any, int | None]]:
        """Every exported key: (its name without the prefix, kind, value, expiry in epoch
        ms or None), by SCAN over every primary, read in pipelines of ``BATCH`` keys. Each
        key is read whole; keys written meanwhile may or may not be in (docs/exports.md)."""
        pattern = _glob_escape(self._prefix) + "*"
        with self._redis.use() as client:
            batch: list[tuple[str, str]] = []
            for raw in client.scan_iter(match=pattern, count=1000):
                name = _text(raw)[len(self._prefix) :]
                kind = snapshot.kind(name, self.shards)
                if kind is not None:
                    batch.append((name, kind))
                if len(batch) >= BATCH:
                    yield from self._read(client, batch)
                    batch = []
            if batch:
                yield from self._read(client, batch)

    def _read(self, client: Any, batch: list[tuple[str, str]]) -> Iterator[tuple[str, str, Any, int | None]]:
        pipe = client.pipeline(transaction=False)
        for name, kind in batch:
            key = self._prefix + name
            pipe.pttl(key)
            if kind in ("count", "hll", "summary", "content", "path"):
                pipe.get(key)
            elif kind == "recent":
                pipe.lrange(key, 0, -1)
            elif kind == "legacy_registry":
                pipe.smembers(key)
            else:
                pipe.zrange(key, 0, -1, withscores=True)
        replies = pipe.execute()
        now_ms = int(time.time() * 1000)
        for i, (name, kind) in enumerate(batch):
            ttl, value = replies[2 * i], replies[2 * i + 1]
            if ttl == -2 or not value:
                continue  # gone between the SCAN and the read
            expires = None if ttl < 0 else now_ms + int(ttl)
            yield name, kind, _shape(kind, value), expires

    def stage(self, records: list[snapshot.Record], ident: str) -> None:
        """Write checked records where the store's readers never look: beside each key, under
        its hash tag, a copy named for this restore (``staged``), kept a day. One command (a
        string) or one script call (a collection, per ``LOAD_CHUNK`` members of a large one)
        per key, each sent once, never in a pipeline (a cluster pipeline re-sends). Each call
        sets what the file names, so staging again over what was staged changes nothing."""
        expiry = int(time.time() * 1000) + STAGED_TTL * 1000
        with self._redis.use() as client:
            for record in records:
                key = self._prefix + staged(record.key, ident)
                for mode, values in _writes(record):
                    if mode == "set":  # a string: one command, its expiry with it
                        client.set(key, values[0], pxat=expiry)
                    else:
                        self._restore(keys=[key], args=[mode, expiry, *values], client=client)

    def commit(self, records: list[snapshot.Record], ident: str) -> None:
        """Merge each staged record into its key (``COMMIT_RESTORED``): one script call per
        key, sent once; a key merged already is left alone, so a commit run again finishes
        the job without adding anything twice."""
        with self._redis.use() as client:
            for record in records:
                target = _target(record)
                expiry = "" if record.expires_at is None else record.expires_at
                kind = "registry" if record.kind == "legacy_registry" else record.kind
                keys = [self._prefix + target, self._prefix + staged(record.key, ident)]
                self._commit(keys=keys, args=[kind, expiry], client=client)

    def unstage(self, records: list[snapshot.Record], ident: str) -> None:
        """Drop the staged copies of ``records`` (a restore that stopped before its commit)."""
        with self._redis.use() as client:
            for record in records:
                client.delete(self._prefix + staged(record.key, ident))


def staged(key: str, ident: str) -> str:
    """Where a restore stages ``key`` (a name without the prefix): under the same hash tag, so
    the commit's merge is one step in one slot; named by the restore, so two never mix. A
    version-1 registry is staged as the registry it becomes."""
    return keyspace.staged(_rename(key), ident)


def _rename(key: str) -> str:
    for old, new in _TARGET_NAMES.values():
        if key.endswith("}:" + old):
            return key[: -len(old)] + new
    return key


def _target(record: snapshot.Record) -> str:
    return _rename(record.key) if record.kind in _TARGET_NAMES else record.key


LOAD_CHUNK = 1000  # members per call: Lua's unpack() takes at most a few thousand


def _writes(record: snapshot.Record) -> Iterator[tuple[str, list[Any]]]:
    """The ``RESTORE_KEY`` calls that write ``record``: (mode, values)."""
    value = record.value
    if record.kind in ("count", "hll", "content", "path"):
        yield "set", [value]
    elif record.kind == "summary":
        yield "set", [json.dumps(value, separators=(",", ":"))]
    elif record.kind == "recent":
        yield "list", [json.dumps(item, separators=(",", ":")) for item in value]
    elif record.kind == "legacy_registry":  # staged as the registry: counted at the restore's time
        now_ms = int(time.time() * 1000)
        pairs = [part for member in value for part in (now_ms, member)]
        for start in range(0, len(pairs), 2 * LOAD_CHUNK):
            yield "zadd", pairs[start : start + 2 * LOAD_CHUNK]
    else:  # registry, top, bots, referrers: score, member pairs
        pairs = [part for member, score in value.items() for part in (score, member)]
        for start in range(0, len(pairs), 2 * LOAD_CHUNK):
            yield "zadd", pairs[start : start + 2 * LOAD_CHUNK]


_SHAPES: dict[str, Any] = {
    "count": int,
    "hll": bytes,
    "summary": json.loads,
    "content": _text,
    "path": _text,
    "recent": lambda items: [json.loads(item) for item in items],
    "registry": lambda pairs: {_text(member): int(score) for member, score in pairs},
    "legacy_registry": lambda members: sorted(_text(member) for member in members),
    "top": lambda pairs: {_text(member): int(score) for member, score in pairs},
    "bots": lambda pairs: {_text(member): int(score) for member, score in pairs},
    "referrers": lambda pairs: {_text(member): int(score) for member, score in pairs},
}


def _shape(kind: str, value: Any) -> Any:
    """A value as the export writes it (``hitcounter.model.snapshot``)."""
    return _SHAPES[kind](value)


def _glob_escape(text: str) -> str:
    """``text`` as a SCAN MATCH pattern that matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
