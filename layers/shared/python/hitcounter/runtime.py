"""The one cached factory handlers get their collaborators from.

Kept per execution environment: parsed settings and the Redis client with its pool, both
safe to lose. Nothing here runs at import: the first request builds it, so init opens no
socket (and a SnapStart snapshot holds none).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

from hitcounter.core.errors import ConfigError
from hitcounter.core.settings import Settings, load_settings
from hitcounter.data.hit_store import HitStore
from hitcounter.data.import_store import ImportStore
from hitcounter.data.page_store import PageStore
from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.session_store import SessionStore
from hitcounter.model import owners
from hitcounter.web import contract

if TYPE_CHECKING:
    from hitcounter.data.jobs import LambdaJobs
    from hitcounter.data.objects import ObjectStore
    from hitcounter.data.snapshot_store import SnapshotStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: RedisHandle
    hits: HitStore
    sessions: SessionStore
    imports: ImportStore
    pages: PageStore
    # What the site's owner says counts (ALLOWED_ORIGINS, EXCLUDE_CIDRS).
    owner: owners.OwnerRules

    @cached_property
    def objects(self) -> ObjectStore:
        """The imports bucket, built on first use: boto3 is imported only by functions that
        need it."""
        from hitcounter.data import objects

        if not self.settings.imports_bucket:
            raise ConfigError("IMPORTS_BUCKET is not set")
        return objects.ObjectStore(objects.build_client(), self.settings.imports_bucket)

    @cached_property
    def snapshots(self) -> SnapshotStore:
        """Exports and restores (built on first use: only the imports function and the
        worker need them)."""
        from hitcounter.data.snapshot_store import SnapshotStore

        s = self.settings
        return SnapshotStore(self.redis, s.key_prefix, s.hits_shards, s.pages.pages_max)

    @cached_property
    def jobs(self) -> LambdaJobs:
        """The import worker, reached by an asynchronous invoke (built on first use)."""
        from hitcounter.data import jobs

        return jobs.LambdaJobs(jobs.build_client(), self.settings.imports.worker_function)


@cache
def services() -> Services:
    """Built on first use. A ConfigError is not cached, so a fixed environment recovers."""
    settings = load_settings()
    # One client and pool, shared by every store, built by the first command (not here:
    # building a cluster client is network I/O, and it belongs inside the fault mapping).
    client = RedisHandle(settings.redis)
    return Services(
        settings=settings,
        redis=client,
        hits=HitStore(client, settings.key_prefix, settings.idempotency_ttl_seconds, settings.hits_shards),
        sessions=SessionStore(client, settings.key_prefix, settings.session_ttl_seconds),
        imports=ImportStore(client, settings.key_prefix, settings.hits_shards),
        pages=PageStore(
            client,
            settings.key_prefix,
            settings.pages.pages_max,
            settings.idempotency_ttl_seconds,
            settings.hits_shards,
            dedupe_seconds=settings.pages.dedupe_seconds,
            rate_limit=settings.pages.rate_limit_per_minute,
            idle_days=settings.pages.page_idle_days,
            new_per_minute=settings.pages.new_pages_per_minute,
            new_per_day=settings.pages.new_pages_per_day,
            proxy_per_minute=settings.pages.proxy_hits_per_minute,
        ),
        owner=owners.OwnerRules(
            owners.parse_hosts(settings.pages.allowed_origins),
            owners.parse_networks(settings.pages.exclude_cidrs),
            listed=settings.pages.pages_create == "listed",
            allow=owners.parse_allow(settings.pages.pages_allow),
        ),
    )


def reset() -> None:
    """Forget everything (connections included); the next request rebuilds lazily."""
    contract.reported_misconfigurations.clear()
    if services.cache_info().currsize:
        services().redis.close()
    services.cache_clear()


def _register_snapstart_hook() -> None:
    """With SnapStart, a restored environment must not reuse sockets (or anything unique)
    made before the snapshot (aws-lambda-web-adapter PR #671): drop them on restore. The
    library ships in Lambda's Python runtimes; elsewhere there is nothing to restore."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return
    register_after_restore(reset)


_register_snapstart_hook()
