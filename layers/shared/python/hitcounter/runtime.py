"""The one cached factory handlers get their collaborators from.

Kept per execution environment: parsed settings and the Redis client with its pool, both
safe to lose. Nothing here runs at import: the first request builds it, so init opens no
socket (and a SnapStart snapshot holds none).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hitcounter.settings import Settings, load_settings
from hitcounter.store import HitStore, SessionStore, build_client


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    hits: HitStore
    sessions: SessionStore


@cache
def services() -> Services:
    """Built on first use. A ConfigError is not cached, so a fixed environment recovers."""
    settings = load_settings()
    client = build_client(settings.redis)  # one pool, shared by every store
    return Services(
        settings=settings,
        hits=HitStore(client, settings.key_prefix, settings.idempotency_ttl_seconds),
        sessions=SessionStore(client, settings.key_prefix, settings.session_ttl_seconds),
    )


def reset() -> None:
    """Forget everything (connections included); the next request rebuilds lazily."""
    if services.cache_info().currsize:
        services().hits.close()
    services.cache_clear()
