"""What one client may do to the pages, through the handler on a real redis-server and
through make dev: a sliding one-minute limit (no double burst at a minute's turn), reloads
counted once under DNT and GPC too, a budget of new pages per client across every slot, and
pages that expire when nobody counts them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from hitcounter.model.keys import page_slot
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.events import Invoke, body_json, header, invoker, page_event
from tests.support.http import http_from, person
from tests.support.servers import RedisServer

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1"
DAY_MS = 86_400_000


def at(event: dict[str, Any], epoch_ms: int) -> dict[str, Any]:
    event["requestContext"]["timeEpoch"] = epoch_ms
    return event


def minute_start() -> int:
    """A minute's first millisecond, after the events' own request time."""
    template_time: int = page_event("x")["requestContext"]["timeEpoch"]
    return (template_time // 60_000 + 1) * 60_000


@pytest.mark.parametrize("signal", [{"dnt": "1"}, {"sec_gpc": "1"}])
def test_reloads_under_dnt_or_gpc_count_once_and_add_no_visitor(invoke_hits: Invoke, signal: dict[str, str]) -> None:
    # A privacy browser reloading every 300 ms for 9 s: counted at 0 s and 5 s (DEDUPE_SECONDS)
    # later, as anyone's reloads are; and no unique visitor.
    start = minute_start()

    def reload(i: int) -> int:
        event = page_event("post", source_ip="198.51.100.1")
        event["headers"].update({k.replace("_", "-"): v for k, v in signal.items()})
        return int(body_json(invoke_hits(at(event, start + i * 300)))["hits"])

    answers = [reload(i) for i in range(30)]
    assert answers == [1] * 17 + [2] * 13
    stats = body_json(invoke_hits(at(page_event("post", "/stats", {"period": "48h"}), start + 10_000)))
    assert stats["uniques"] == 0 and stats["total"] == 2


def test_the_limit_is_a_sliding_minute_with_no_double_burst_at_its_turn(invoke_hits: Invoke) -> None:
    # 60 hits in the last second of a minute, then 60 in the first two seconds of the next:
    # a fixed window would count all 120; a sliding one counts no more than 60 in any 60 s.
    start = minute_start()
    times = [start - 1000 + i * 16 for i in range(60)] + [start + i * 30 for i in range(60)]
    codes = [
        invoke_hits(at(page_event("p", source_ip="192.0.2.9", user_agent=f"{BROWSER} {i}"), t))["statusCode"]
        for i, t in enumerate(times)
    ]
    assert codes == [200] * 60 + [429] * 60
    refused = invoke_hits(at(page_event("p", source_ip="192.0.2.9", user_agent="r"), start + 2000))
    # The oldest counted hit leaves the minute 59 s later: that is when one more may count.
    assert header(refused, "Retry-After") == header(refused, "RateLimit-Reset") == "57"
    # Just inside the oldest hit's minute: still refused; just past it: counted.
    assert invoke_hits(at(page_event("p", source_ip="192.0.2.9", user_agent="a"), start + 58_999))["statusCode"] == 429
    later = invoke_hits(at(page_event("p", source_ip="192.0.2.9", user_agent="b"), start + 59_001))
    assert later["statusCode"] == 200 and header(later, "RateLimit-Remaining") == "0"


def test_the_limit_holds_across_midnight(invoke_hits: Invoke) -> None:
    # The window's records are salted with a salt that does not turn at midnight (the day's
    # uniques salt does): a client cannot double its minute there either.
    template_time: int = page_event("x")["requestContext"]["timeEpoch"]
    midnight = (template_time // DAY_MS + 1) * DAY_MS
    codes = [
        invoke_hits(at(page_event("p", source_ip="192.0.2.9", user_agent=f"u{i}"), midnight - 30_000 + i * 500))[
            "statusCode"
        ]
        for i in range(120)
    ]
    assert codes.count(200) == 60 and codes[:60] == [200] * 60


def test_one_client_creates_at_most_its_budget_of_new_pages_and_others_still_can(
    invoke_hits: Invoke, shared_redis: RedisServer
) -> None:
    start = minute_start()

    def hit(page: str, ip: str, t: int) -> dict[str, Any]:
        return invoke_hits(at(page_event(page, source_ip=ip, user_agent=f"{BROWSER} {t}"), t))

    # 30 new ids in a minute from one client: its first 10 (NEW_PAGES_PER_CLIENT_MINUTE) are made.
    codes = [hit(f"junk-{i}", "203.0.113.66", start + i * 100)["statusCode"] for i in range(30)]
    assert codes == [200] * 10 + [429] * 20
    refused = hit("junk-99", "203.0.113.66", start + 3100)
    assert body_json(refused)["error"]["code"] == "new_pages_limited"
    assert header(refused, "Retry-After") == "57"  # the first new page leaves the minute then
    assert shared_redis.client().keys("*page:junk-99:*") == []  # nothing stored for it
    badge = invoke_hits(at(page_event("junk-99", "/badge.svg", source_ip="203.0.113.66"), start + 3200))
    assert badge["statusCode"] == 200 and "–" in badge["body"]  # its badge still renders
    # Its existing pages count on, and another client creates pages at once.
    assert hit("junk-0", "203.0.113.66", start + 3300)["statusCode"] == 200
    assert hit("real-page", "203.0.113.67", start + 3400)["statusCode"] == 200
    # Ten a minute, then a hundred a day (NEW_PAGES_PER_CLIENT_DAY) at the most.
    made = 10
    for minute in range(1, 12):
        for i in range(10):
            made += hit(f"junk-{minute}-{i}", "203.0.113.66", start + minute * 60_000 + i)["statusCode"] == 200
    assert made == 100
    late = hit("junk-late", "203.0.113.66", start + 12 * 60_000)
    assert late["statusCode"] == 429 and int(header(late, "Retry-After") or 0) > 22 * 3600
    # A day after its first new page, the client may make one more.
    assert hit("junk-next-day", "203.0.113.66", start + DAY_MS + 1)["statusCode"] == 200


def test_a_bot_or_a_full_slot_takes_nothing_of_a_clients_budget(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", PAGES_MAX="64")  # one page a slot
    invoke = invoker(hits_module)
    start = minute_start()
    slot_of_a = page_slot("a")
    same_slot = [f"b{i}" for i in range(2000) if page_slot(f"b{i}") == slot_of_a][:15]
    assert invoke(at(page_event("a", source_ip="192.0.2.1"), start))["statusCode"] == 200
    for i, page in enumerate(same_slot):  # the slot is full: refused 507, no budget taken
        assert invoke(at(page_event(page, source_ip="192.0.2.2"), start + i))["statusCode"] == 507
    for i in range(15):  # bots never create pages, nor spend a budget
        invoke(at(page_event(f"bot-{i}", source_ip="192.0.2.2", user_agent="Googlebot/2.1"), start + 100 + i))
    fresh = [f"c{i}" for i in range(500) if page_slot(f"c{i}") != slot_of_a][:10]
    codes = [
        invoke(at(page_event(page, source_ip="192.0.2.2"), start + 200 + i))["statusCode"]
        for i, page in enumerate(fresh)
    ]
    assert codes == [200] * 10  # the whole minute's budget was still there


def test_a_page_nobody_counted_for_page_idle_days_frees_its_share(
    hits_module: ModuleType, function_env: Callable[..., None], redis_url: str, shared_redis: RedisServer
) -> None:
    function_env(REDIS_URL=redis_url, KEY_PREFIX="t:", PAGES_MAX="64", PAGE_IDLE_DAYS="1")
    invoke = invoker(hits_module)
    start = minute_start()
    slot = page_slot("old")
    other = next(f"n{i}" for i in range(5000) if page_slot(f"n{i}") == slot)
    assert body_json(invoke(at(page_event("old"), start)))["hits"] == 1
    client = shared_redis.client()
    assert 0 < client.ttl(f"t:{{pg:{slot}}}:page:old:count") <= 86400  # its count goes with it
    # Just inside the day since its last hit: the slot is full.
    assert invoke(at(page_event(other), start + DAY_MS - 1))["statusCode"] == 507
    # Just past it: "old" leaves the registry, and the new page takes its share.
    assert body_json(invoke(at(page_event(other), start + DAY_MS + 1)))["hits"] == 1
    assert [m for m in client.zrange(f"t:{{pg:{slot}}}:reg", 0, -1)] == [other]
    # A page counted again is not idle: its last hit moves (once a day at most: idleness is
    # counted in days, and the registry is not written on every hit).
    assert invoke(at(page_event(other), start + 2 * DAY_MS))["statusCode"] == 200
    assert client.zscore(f"t:{{pg:{slot}}}:reg", other) == start + DAY_MS + 1
    assert invoke(at(page_event(other), start + 2 * DAY_MS + 1))["statusCode"] == 200
    assert client.zscore(f"t:{{pg:{slot}}}:reg", other) == start + 2 * DAY_MS + 1


@pytest.fixture
def dev_api(template: sam_template.Template, redis_url: str) -> Iterator[Server]:
    """make dev's gateway, route throttles on, on a clean Redis."""
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}}, throttle=True)).start()
    yield server
    server.stop()


def test_one_client_through_make_dev_cannot_take_the_pages_from_others(dev_api: Server) -> None:
    # A flood of new ids from 127.0.0.5, alternating the page and badge routes as the attack
    # that once filled PAGES_MAX in four minutes did.
    codes = []
    for i in range(60):
        route = "" if i % 2 else "/badge.svg"
        status, _, body = http_from("127.0.0.5", "GET", f"{dev_api.url}/pages/junk-{i}{route}", person(i))
        codes.append((route, status, body))
    made = [c for c in codes if c[0] == "" and c[1] == 200] + [c for c in codes if c[0] and ">1<" in c[2]]
    assert len(made) == 10  # its minute's budget, whatever the route
    # Meanwhile another client's new pages count at once.
    for i in range(5):
        status, _, body = http_from("127.0.0.6", "GET", f"{dev_api.url}/pages/real-{i}", person(100 + i))
        assert status == 200, body


def test_a_clients_concurrent_first_hits_of_one_page_take_one_page_of_its_budget(
    shared_redis: RedisServer, redis_url: str
) -> None:
    # Each of a burst's first hits may find the page not yet made and ask for the budget
    # (make dev's concurrent burst did, and was refused past ten): the page asked again is
    # granted again without a second entry.
    from hitcounter.data.page_scripts import TAKE_NEW_PAGE
    from hitcounter.data.scripts import script

    take = script(TAKE_NEW_PAGE)
    client = shared_redis.client()
    start = minute_start()

    def ask(page: str, i: int) -> int:
        args: list[str | int] = ["ab" * 16, "c" * 64, start + i, 10, 100, "{pg:9}:nb:", page]
        return int(take(keys=["{pg:9}:wsalt"], args=args, client=client)[0])

    assert [ask("burst", i) for i in range(15)] == [1] * 15
    assert [ask(f"other-{i}", 20 + i) for i in range(10)] == [1] * 9 + [0]  # nine more, the tenth refused
