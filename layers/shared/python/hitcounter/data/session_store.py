"""Visitor sessions in Redis: one hash per session, expiring after its last use."""

from __future__ import annotations

import json
import secrets
from typing import Any, NamedTuple

from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import CREATE, REPLACE, VISIT, script
from hitcounter.model import keyspace


class Session(NamedTuple):
    visits: int
    data: dict[str, Any]


class SessionStore:
    """Visitor sessions: one hash per session (visits, data), expiring ``ttl`` seconds after
    the last use."""

    ID_BYTES = 32  # 256 bits from the OS's CSPRNG, drawn per request, never at init

    def __init__(self, handle: RedisHandle, key_prefix: str, ttl: int) -> None:
        self._redis = handle
        self._prefix = key_prefix
        self.ttl = ttl
        self._create = script(CREATE)
        self._visit = script(VISIT)
        self._replace = script(REPLACE)

    def _key(self, sid: str) -> str:
        return keyspace.session(self._prefix, sid)

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
