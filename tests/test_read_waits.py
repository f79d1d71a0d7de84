"""Each read route waits on Redis at most twice in steady state (issue 33, docs/history.md), on
a standalone Redis and on a 3-master cluster, counted by what redis-py sends: a command, or a
pipeline (on a cluster, one per node, sent together and read together: one wait)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from tests.support.events import Invoke, invoker
from tests.support.read_routes import read_routes
from tests.support.redis_calls import pipelined, waits


@pytest.fixture(params=["standalone", "cluster"])
def on(
    request: pytest.FixtureRequest, hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> Callable[..., Invoke]:
    """The hits function on a standalone Redis or on a clean 3-master cluster, with extra
    settings."""

    def start(**env: str) -> Invoke:
        if request.param == "cluster":
            cluster = request.getfixturevalue("cluster")
            cluster.flushall()
            function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", KEY_PREFIX="", **env)
        else:
            function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", **env)
        return invoker(hits_module)

    return start


def test_every_read_waits_on_redis_at_most_twice(on: Callable[..., Invoke]) -> None:
    invoke = on()
    measured = {}
    for name, read in read_routes(invoke).items():
        read()  # the day's unions made, the top list kept: the steady state after
        measured[name] = waits(read)
    print(measured)
    assert all(n <= 2 for n in measured.values()), measured


# What a pipeline may carry: reads. PFCOUNT may keep its estimate in the HyperLogLog's header,
# nothing a re-send could count twice.
READS = {"GET", "MGET", "EXISTS", "PFCOUNT", "ZRANGE", "ZREVRANGE", "ZSCORE", "ZCARD", "LRANGE", "TTL"}


def test_no_write_rides_in_a_pipeline(on: Callable[..., Invoke]) -> None:
    """Every page hit (with a referrer), every read, its day's first (the unions made) and
    its steady state: a cluster pipeline re-sends after a connection error, so nothing
    queued in one may write."""
    invoke = on(HITS_SHARDS="4")

    def walk() -> None:
        for read in read_routes(invoke).values():
            read()
            read()

    queued = pipelined(walk)
    assert queued and queued <= READS, queued - READS


def test_the_days_first_read_makes_its_unions_in_one_call_per_slot(
    on: Callable[..., Invoke], request: pytest.FixtureRequest
) -> None:
    """The day's first read makes the period's unions (docs/history.md): one script call per
    hash slot, bounded in keys (tests/unit: union_calls), never one per union. On one Redis
    the 64 page slots' unions of `GET /pages` (the top pages' and the referring hosts') take a
    few calls, not 128; on a cluster each slot is its own call, as a script cannot cross
    slots."""
    invoke = on()
    first = {name: waits(read) for name, read in read_routes(invoke).items()}
    print(first)
    if "cluster" in request.node.callspec.id:
        assert max(first.values()) <= 2 * 64 + 16, first
    else:
        assert max(first.values()) <= 16, first
