"""The key scheme: every key beside a counter shard lives under that shard's hash tag, so a
multi-key step (a script, an MGET) stays in one slot on cluster mode and ElastiCache
Serverless. Pure functions: no I/O."""

from __future__ import annotations

import hashlib


def hits_tag(shards: int, shard: int) -> str:
    """The hash tag of a counter shard: ``{hits}`` unsharded, ``{hits:i}`` for shard i."""
    return "{hits}" if shards == 1 else f"{{hits:{shard}}}"


def hits_key(prefix: str, shards: int, shard: int, name: str) -> str:
    """Every key that lives beside a counter shard, under its hash tag: the count itself,
    idempotency records, import summaries. One place, so multi-key steps share a slot."""
    return f"{prefix}{hits_tag(shards, shard)}:{name}"


def shard_of(value: str, shards: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) % shards
