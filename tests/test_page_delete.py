"""An operator deletes a page (``DELETE /pages/{page}``, ``DELETE /count?path=``) through the
handler, on a real redis-server and a 3-master cluster: nothing of the page is left (every key
read), its share of PAGES_MAX is free, the top pages forget it, a new hit starts at 1, and a
hit racing the delete leaves either the old page or a new one, never a mix."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hitcounter.model import keyspace
from hitcounter.model.keys import page_slot
from hitcounter.model.paths import page_of
from tests.support.events import Invoke, body_json, invoker, load_event, page_event, path_event, stats_event
from tests.support.servers import RedisServer, wait_for


def _delete(page: str) -> dict[str, Any]:
    event = load_event("hits/delete-page")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/pages/{page}"
    event["pathParameters"] = {"page": page}
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)  # as API Gateway stamps it
    return event


def _delete_path(path: str) -> dict[str, Any]:
    event = load_event("hits/delete-path-page")
    event["queryStringParameters"] = {"path": path}
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    return event


def _keys_of(client: Any, page: str) -> list[str]:
    """Every key that names the page, and every index (a sorted set, a set) that holds it, but
    a client's new-page log: that is the client's budget (who made which page, for a day, on
    the client's own slot), not the page's."""
    found = []
    for name in client.keys("*"):
        matched = keyspace.match(name.split(":", 1)[1] if name.startswith("test:") else name)
        if matched is not None and matched.kind is keyspace.NEW_PAGE_LOG:
            continue
        kind = client.type(name)
        in_index = (kind == "zset" and client.zscore(name, page) is not None) or (
            kind == "set" and client.sismember(name, page)
        )
        if (matched is not None and matched.page == page) or in_index:
            found.append(name)
    return found


def test_a_deleted_page_leaves_nothing_and_starts_again_at_one(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    now = int(time.time() * 1000)
    for i in range(3):
        invoke_hits(page_event("junk", user_agent=f"agent-{i}"))
    invoke_hits(page_event("junk", idempotency_key="k-1"))
    invoke_hits(page_event("junk", user_agent="Googlebot/2.1"))
    invoke_hits(page_event("keep"))
    for period in ("30d", "1y"):  # the day's unions and the kept top lists, made by reads
        invoke_hits(stats_event(now, period, "/pages"))
        invoke_hits(page_event("junk", "/stats", {"period": period}))
    client = shared_redis.client()
    assert _keys_of(client, "junk")
    response = invoke_hits(_delete("junk"))
    assert response["statusCode"] == 204 and response["body"] in ("", None)
    assert _keys_of(client, "junk") == []
    assert [p["page"] for p in body_json(invoke_hits(stats_event(now, "30d", "/pages")))["pages"]] == ["keep"]
    assert invoke_hits(page_event("junk", "/stats"))["statusCode"] == 404
    assert body_json(invoke_hits(page_event("junk")))["hits"] == 1
    assert invoke_hits(_delete("never-was"))["statusCode"] == 404
    assert body_json(invoke_hits(page_event("keep")))["hits"] == 2  # the others untouched


def test_a_path_page_is_deleted_by_its_path(invoke_hits: Invoke, shared_redis: RedisServer) -> None:
    for spelling in ("/a/b/", "//a/./b/"):
        invoke_hits(path_event(spelling))
    assert invoke_hits(_delete_path("/a//b/"))["statusCode"] == 204
    assert invoke_hits(path_event("/a/b/", "/stats"))["statusCode"] == 404
    assert body_json(invoke_hits(path_event("/a/b/")))["hits"] == 1
    assert invoke_hits(_delete_path("no-slash"))["statusCode"] == 404


def test_deleting_frees_a_full_slots_share(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> None:
    from hitcounter.model.keys import page_slot

    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", PAGES_MAX="64")  # one page a slot
    invoke = invoker(hits_module)
    same = [f"p{i}" for i in range(3000) if page_slot(f"p{i}") == page_slot("junk")][:2]
    assert invoke(page_event("junk"))["statusCode"] == 200
    assert invoke(page_event(same[0]))["statusCode"] == 507  # the slot is full
    assert invoke(_delete("junk"))["statusCode"] == 204
    assert invoke(page_event(same[0]))["statusCode"] == 200


def test_a_hit_racing_a_delete_on_a_cluster_leaves_one_state_or_the_other(
    cluster: Any, hits_module: ModuleType, function_env: Callable[..., None]
) -> None:
    cluster.flushall()
    function_env(REDIS_URL=cluster.url, REDIS_MODE="cluster", KEY_PREFIX="", NEW_PAGES_PER_CLIENT_MINUTE="0",
                 NEW_PAGES_PER_CLIENT_DAY="0", RATE_LIMIT_PER_MINUTE="0", DEDUPE_SECONDS="0")  # fmt: skip
    invoke = invoker(hits_module)
    for round_ in range(5):
        for i in range(20):
            invoke(page_event("raced", user_agent=f"a{i}"))
        answers: list[int] = []
        stop = threading.Event()

        def hammer(answers: list[int] = answers, stop: threading.Event = stop) -> None:
            n = 0
            while not stop.is_set():
                answers.append(body_json(invoke(page_event("raced", user_agent=f"h{n}")))["hits"])
                n += 1

        thread = threading.Thread(target=hammer)
        thread.start()
        wait_for(lambda: len(answers) >= 3, timeout=30, what="hits before the delete")  # noqa: B023 - called here
        assert invoke(_delete("raced"))["statusCode"] == 204, round_
        after = len(answers)
        wait_for(lambda: len(answers) >= after + 3, timeout=30, what="hits after the delete")  # noqa: B023 - called here
        stop.set()
        thread.join(timeout=30)
        # After the delete, the page's count is exactly the hits that started after it: the
        # answers fall into an old run (21, 22, …) and a new one (1, 2, …), and the stored
        # total is the new run's last, with its history holding just as many.
        restart = answers.index(1) if 1 in answers else len(answers)
        old, new = answers[:restart], answers[restart:]
        assert old == list(range(21, 21 + len(old))), answers
        assert new == list(range(1, len(new) + 1)), answers
        stats = body_json(invoke(page_event("raced", "/stats", {"period": "48h"})))
        assert stats["total"] == len(new) and stats["hits"] == len(new), (stats, answers)
        invoke(_delete("raced"))


def _admin(query: dict[str, str]) -> dict[str, Any]:
    event = load_event("hits/get-admin-pages")
    event["queryStringParameters"] = query
    return event


def test_an_operator_finds_junk_filling_pages_max_and_deletes_it(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", PAGES_MAX="64", NEW_PAGES_PER_CLIENT_MINUTE="0",
                 NEW_PAGES_PER_CLIENT_DAY="0")  # fmt: skip
    invoke = invoker(hits_module)
    statuses = [invoke(page_event(f"junk-{i}"))["statusCode"] for i in range(300)]
    assert 507 in statuses  # full: real pages are refused
    invoke(path_event("/real/post/"))
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:  # a cursor at a time, every page exactly once
        answer = body_json(invoke(_admin({"limit": "7", **({"cursor": cursor} if cursor else {})})))
        assert len(answer["pages"]) <= 7
        listed += answer["pages"]
        cursor = answer["next"]
        if cursor is None:
            break
    names = [p["page"] for p in listed]
    assert len(names) == len(set(names)) == statuses.count(200) + (1 if "/real/post/" in names else 0)
    assert all(p["hits"] == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["last_counted"]) for p in listed)
    for name in names:
        if name.startswith("junk-"):
            assert invoke(_delete(name))["statusCode"] == 204
    # One page a slot: ten real pages in ten slots the path page does not hold.
    slots = {page_slot(page_of("/real/post/"))}
    real: list[str] = []
    for i in range(1000):
        if page_slot(f"real-{i}") not in slots and len(real) < 10:
            slots.add(page_slot(f"real-{i}"))
            real.append(f"real-{i}")
    assert [invoke(page_event(page))["statusCode"] for page in real] == [200] * 10
    assert invoke(_admin({"cursor": "99.0"}))["statusCode"] == 400


def test_in_listed_mode_junk_stores_nothing_and_seeded_or_allowed_pages_count(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str, shared_redis: RedisServer
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", PAGES_CREATE="listed", PAGES_ALLOW="post-*,/blog/")
    invoke = invoker(hits_module)
    refused = invoke(page_event("junk"))
    assert refused["statusCode"] == 404 and body_json(refused)["error"]["message"] == "no such page"
    assert invoke(path_event("/elsewhere/"))["statusCode"] == 404
    badge = invoke(page_event("junk", "/badge.svg"))
    assert badge["statusCode"] == 200 and ">–<" in badge["body"]  # a dash, nothing stored
    assert shared_redis.client().keys("t:*page:*") == []
    assert body_json(invoke(page_event("post-1")))["hits"] == 1  # PAGES_ALLOW's glob
    assert body_json(invoke(path_event("/blog/2024/hello/")))["hits"] == 1  # its path prefix
    seed = load_event("hits/put-page-count")
    seed["rawPath"] = seed["requestContext"]["http"]["path"] = "/pages/about/count"
    seed["pathParameters"] = {"page": "about"}
    seed["body"] = '{"hits": 0}'
    assert invoke(seed)["statusCode"] == 201
    assert body_json(invoke(page_event("about")))["hits"] == 1  # seeded by the operator: it counts
