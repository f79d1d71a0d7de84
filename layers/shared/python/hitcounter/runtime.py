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
from hitcounter.data.redis_client import RedisHandle
from hitcounter.model import owners
from hitcounter.web import contract

if TYPE_CHECKING:
    from hitcounter.data.hit_store import HitStore
    from hitcounter.data.import_store import ImportStore
    from hitcounter.data.jobs import LambdaJobs
    from hitcounter.data.objects import ObjectStore
    from hitcounter.data.page_store import PageStore
    from hitcounter.data.session_store import SessionStore
    from hitcounter.data.snapshot_store import SnapshotStore


@dataclass(frozen=True)
class Services:
    """The environment's settings, its one Redis handle and the owner's rules, built with it;
    each store built (and its module imported) on first use, so a function imports only the
    stores its routes use: the session function no page, hit or import store (5 ms less of
    its cold start), the hits function no import store and its page store on the first page
    route (2 ms less for `GET /`). With SnapStart the snapshot holds them all
    (``import_stores``)."""

    settings: Settings
    redis: RedisHandle
    # What the site's owner says counts (ALLOWED_ORIGINS, EXCLUDE_CIDRS).
    owner: owners.OwnerRules

    @cached_property
    def hits(self) -> HitStore:
        from hitcounter.data.hit_store import HitStore

        s = self.settings
        return HitStore(self.redis, s.key_prefix, s.idempotency_ttl_seconds, s.hits_shards)

    @cached_property
    def sessions(self) -> SessionStore:
        from hitcounter.data.session_store import SessionStore

        return SessionStore(self.redis, self.settings.key_prefix, self.settings.session_ttl_seconds)

    @cached_property
    def imports(self) -> ImportStore:
        from hitcounter.data.import_store import ImportStore

        return ImportStore(self.redis, self.settings.key_prefix, self.settings.hits_shards)

    @cached_property
    def pages(self) -> PageStore:
        from hitcounter.data.page_store import PageStore

        s, p = self.settings, self.settings.pages
        return PageStore(
            self.redis,
            s.key_prefix,
            p.pages_max,
            s.idempotency_ttl_seconds,
            s.hits_shards,
            dedupe_seconds=p.dedupe_seconds,
            rate_limit=p.rate_limit_per_minute,
            idle_days=p.page_idle_days,
            new_per_minute=p.new_pages_per_minute,
            new_per_day=p.new_pages_per_day,
            proxy_per_minute=p.proxy_hits_per_minute,
        )

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


def import_stores() -> None:
    """Import every store's module, building nothing (no socket): what SnapStart's snapshot
    should hold, so a restored environment pays no import on its first request."""
    import hitcounter.data.hit_store
    import hitcounter.data.import_store
    import hitcounter.data.page_store
    import hitcounter.data.session_store  # noqa: F401


def _register_snapstart_hook() -> None:
    """With SnapStart, a restored environment must not reuse sockets (or anything unique)
    made before the snapshot (aws-lambda-web-adapter PR #671): drop them on restore; and
    the stores' modules, imported on first use otherwise, go into the snapshot. The library
    ships in Lambda's Python runtimes; elsewhere there is nothing to restore."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return
    register_before_snapshot(import_stores)
    register_after_restore(reset)


_register_snapstart_hook()
