"""Stateless by construction: the answers do not depend on which process serves a request.

Each function runs in worker processes arranged as Lambda arranges them (CodeUri, then the
layer, the template's environment). Warm mode reuses one process; recycle mode gives every
request a process that has served nothing before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localapi.pool import WorkerPool
from localapi.template import Template
from tests.support.events import load_event
from tests.support.servers import RedisServer

SEQUENCE = [
    "hits/get-root",
    "hits/get-root-json",
    "hits/get-hits",
    "hits/get-health",
    "hits/get-health-ready",
    "hits/get-root",
    "hits/get-hits",
]


def _answer(response: dict[str, Any]) -> tuple[int, str]:
    body = response["body"]
    if body.startswith("{"):
        parsed = json.loads(body)
        parsed.pop("redis_ms", None)  # a latency, different on every run
        body = json.dumps(parsed, sort_keys=True)
    return response["statusCode"], body


@pytest.fixture
def pools(template: Template, redis_url: str) -> Iterator[dict[str, WorkerPool]]:
    fn = template.functions["HitsFunction"]
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": "stateless:"}
    made = {"warm": WorkerPool(fn, env), "recycle": WorkerPool(fn, env, recycle=True)}
    yield made
    for pool in made.values():
        pool.close()


def test_same_answers_warm_and_recycled(pools: dict[str, WorkerPool], shared_redis: RedisServer) -> None:
    answers = {}
    for mode, pool in pools.items():
        shared_redis.client().flushall()
        answers[mode] = [_answer(pool.invoke(load_event(name))) for name in SEQUENCE]
    assert answers["warm"] == answers["recycle"]
    assert answers["warm"][0] == (200, "Hello World! 1 times.")
    assert answers["warm"][-1] == (200, '{"hits": 3}')


def test_recycle_mode_really_uses_a_new_process_each_time(pools: dict[str, WorkerPool]) -> None:
    for mode, expected in (("warm", 1), ("recycle", 4)):
        pids = set()
        for _ in range(4):
            pools[mode].invoke(load_event("hits/get-health"))
            pids.add(pools[mode].last_pid)
        assert len(pids) == expected, mode


@pytest.mark.slow
def test_n_processes_times_m_hits_give_n_times_m_distinct_counts(template: Template, redis_url: str) -> None:
    n, m = 4, 25
    fn = template.functions["HitsFunction"]
    workers = [WorkerPool(fn, {"REDIS_URL": redis_url}) for _ in range(n)]
    try:

        def hammer(pool: WorkerPool) -> list[int]:
            return [json.loads(pool.invoke(load_event("hits/get-root-json"))["body"])["hits"] for _ in range(m)]

        with ThreadPoolExecutor(n) as executor:
            counts = [c for batch in executor.map(hammer, workers) for c in batch]
    finally:
        for pool in workers:
            pool.close()
    assert sorted(counts) == list(range(1, n * m + 1))
