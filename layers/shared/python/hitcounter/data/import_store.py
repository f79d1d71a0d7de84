"""The import ledger in Redis: summaries, states, content owners, the day's tally, and the
commit that adds an import's count and history in one step.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from hitcounter.data.import_scripts import ADMIT_IMPORT, COMMIT_IMPORT, STAGE_VISITORS
from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import script
from hitcounter.model import history, keyspace
from hitcounter.model.keys import shard_of
from hitcounter.model.keyspace import KeyKind


class ImportStore:
    """Imports in Redis: the summary of each finished one, kept as long as the history it
    added to (``SUMMARY_TTL``: the ledger of what was added, and what makes a second import
    of the same object count nothing), the owner of each content digest for as long, and the
    state of each one under way (pending, running, failed), kept a week. They live under the
    hash tag of the counter shard the import adds to; a content record under its digest's."""

    STATE_TTL = keyspace.JOB_STATE_TTL
    SUMMARY_TTL = history.DAY_TTL  # keyspace.IMPORT_SUMMARY's

    def __init__(self, handle: RedisHandle, key_prefix: str = "", shards: int = 1) -> None:
        self._redis = handle
        self._key_prefix = key_prefix
        self.shards = shards
        self._commit = script(COMMIT_IMPORT)
        self._stage = script(STAGE_VISITORS)
        self._admit = script(ADMIT_IMPORT)

    def admit(self, day: str, per_day: int) -> bool:
        """Count one import started on ``day`` (UTC); False past ``per_day`` of them. What
        bounds the ledger: a bucket writer can upload without limit, the ledger grows by at
        most ``per_day`` summaries a day, each kept ``SUMMARY_TTL``."""
        key = keyspace.site(self._key_prefix, self.shards, 0, keyspace.IMPORTS_DAY, day=day)
        with self._redis.use() as client:
            return bool(self._admit(keys=[key], args=[per_day, keyspace.IMPORTS_DAY_TTL], client=client))

    def claim_content(self, sha256: str, import_id: str) -> str:
        """The import that owns this content: ``import_id`` when it is the first to claim it
        (or claimed it before, on an earlier try), else the one that did. One SET NX GET,
        sent once, so two objects with the same bytes racing each other get one owner."""
        shard = shard_of(sha256, self.shards)
        key = keyspace.site(self._key_prefix, self.shards, shard, keyspace.IMPORT_CONTENT, digest=sha256)
        with self._redis.use() as client:
            before = client.set(key, import_id, nx=True, get=True, ex=self.SUMMARY_TTL)
        return import_id if before is None else before.decode() if isinstance(before, bytes) else str(before)

    def _keys(self, import_id: str) -> list[str]:
        """The counter shard, the summary and the state, under one hash tag chosen by the id."""
        kinds = (keyspace.SITE_COUNT, keyspace.IMPORT_SUMMARY, keyspace.IMPORT_STATE)
        return [self._key(import_id, kind, id=import_id) for kind in kinds]

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

    def _key(self, import_id: str, kind: KeyKind, **fields: object) -> str:
        return keyspace.site(self._key_prefix, self.shards, shard_of(import_id, self.shards), kind, **fields)

    def stage_visitors(self, import_id: str, day: str, digests: list[str], ttl: int) -> None:
        """Add a batch of the import's visitors of ``day`` to its staging HyperLogLog."""
        keys = [
            self._key(import_id, keyspace.SITE_SALT, day=day),
            self._key(import_id, keyspace.IMPORT_VISITORS, id=import_id, day=day),
        ]
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
        keys = [*self._keys(import_id), self._key(import_id, keyspace.IMPORTS_RECENT)]
        args: list[str | int] = [
            counted,
            json.dumps(summary, separators=(",", ":")),
            json.dumps(entry, separators=(",", ":")),
            len(buckets),
        ]
        for name, (hits, ttl) in buckets.items():
            keys.append(keyspace.site_bucket(self._key_prefix, self.shards, shard_of(import_id, self.shards), name))
            args += [hits, ttl]
        days = visitor_days or []
        args += [history.DAY_TTL, self.SUMMARY_TTL, "1" if merge_visitors else "0", len(days)]
        for day in days:
            keys += [
                self._key(import_id, keyspace.SITE_UNIQUES, day=day),
                self._key(import_id, keyspace.IMPORT_VISITORS, id=import_id, day=day),
            ]
        if days and merge_visitors:
            # The unions a reader may hold now: named by today's and yesterday's date (a
            # reader's clock may be on either side of midnight).
            now_ms = time.time_ns() // 1_000_000
            for today in {history.day_id(now_ms), history.day_id(now_ms - 86_400_000)}:
                keys += [
                    self._key(import_id, keyspace.SITE_UNIQUES_UNION, period=p, day=today) for p in history.DAY_PERIODS
                ]
        with self._redis.use() as client:
            stored, created = self._commit(keys=keys, args=args, client=client)
        return dict(json.loads(stored)), bool(created)
