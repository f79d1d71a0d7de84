"""What every part of a page store shares (``hitcounter.data.page_store``'s ``PageStore``
puts the parts together: its reads, top pages, every page together, operator steps and
imports): its Redis handle, key prefix, shards and limits, the union scripts, and the one way
it names a page's keys and a slot's."""

from __future__ import annotations

from redis.commands.core import Script

from hitcounter.data.redis_client import RedisHandle
from hitcounter.model import keyspace
from hitcounter.model.keyspace import KeyKind


class PageParts:
    """The members ``PageStore`` sets, declared once for every part that reads them."""

    _redis: RedisHandle
    _prefix: str
    _period_union: Script
    _top_union: Script
    shards: int
    slot_cap: int
    idle_seconds: int

    def _key(self, page: str, kind: KeyKind, shard: int = 0, **fields: object) -> str:
        return keyspace.page(self._prefix, page, kind, shard, **fields)

    def _slot_key(self, slot: int, kind: KeyKind, **fields: object) -> str:
        return keyspace.slot(self._prefix, slot, kind, **fields)
