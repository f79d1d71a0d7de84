"""Counting one hit: the store's step, and the warning a reset count deserves. The Hits
metric comes from API Gateway's access log (template.yaml, ``HitsMetricFilter``), not from
here: nothing is written per hit."""

from __future__ import annotations

from typing import Protocol

from hitcounter.core.observability import count_metric, logger
from hitcounter.data.hit_store import Hit
from hitcounter.model.history import Visit
from hitcounter.model.visitors import Client, site_visit


class HitCounter(Protocol):
    """What counting needs of a store (``hitcounter.data.hit_store.HitStore``; the unit tests
    pass a fake)."""

    def incr(self, visit: Visit) -> Hit: ...
    def incr_once(self, idempotency_key: str, visit: Visit) -> Hit: ...


def count(store: HitCounter, idempotency_key: str | None, client: Client) -> Hit:
    """At most once without a key (never re-sent), exactly once per ``Idempotency-Key``;
    either way the hit's buckets and visitor go in the same step (a replay adds nothing)."""
    visit = site_visit(client)
    hit = store.incr(visit) if idempotency_key is None else store.incr_once(idempotency_key, visit)
    if hit.started:
        # The key was new. That is right once in a store's life, and otherwise means the count
        # was lost: a restart without persistence, an eviction, a flush, a new cache. An
        # operator must hear of it (the metric can alarm); the client still gets its answer.
        logger.warning(
            "the hit counter started again at 1: a new store, or the count was lost "
            "(restart without persistence, eviction, flush)",
            extra={"error_code": "counter_started"},
        )
        count_metric("CounterStarted")
    return hit
