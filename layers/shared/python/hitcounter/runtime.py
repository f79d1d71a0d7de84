"""The one cached factory handlers get their collaborators from.

Kept per execution environment: parsed settings and the Redis client with its pool, both
safe to lose. Nothing here runs at import: the first request builds it, so init opens no
socket (and a SnapStart snapshot holds none).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hitcounter.settings import Settings, load_settings
from hitcounter.store import HitStore, build_client


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    hits: HitStore


@cache
def services() -> Services:
    """Built on first use. A ConfigError is not cached, so a fixed environment recovers."""
    settings = load_settings()
    return Services(settings=settings, hits=HitStore(build_client(settings.redis), settings.key_prefix))


def reset() -> None:
    """Forget everything (connections included); the next request rebuilds lazily."""
    if services.cache_info().currsize:
        services().hits.close()
    services.cache_clear()
