"""The site counter's, the history's and the sessions' logic against fakes of their stores
(the ``Protocol`` each logic module declares): which store call a request makes, with what,
and what the answer is, without Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hitcounter.core.errors import Unauthorized
from hitcounter.data.history_reads import HistoryCounts
from hitcounter.data.hit_store import Hit
from hitcounter.data.session_store import Session
from hitcounter.logic import counting, sessions, stats
from hitcounter.model import history
from hitcounter.model.history import Visit
from hitcounter.model.visitors import Client, site_visit

CLIENT = Client(1_765_100_000_000, "203.0.113.7", "Mozilla/5.0", "en")


@dataclass
class FakeCounter:
    answer: Hit = field(default_factory=lambda: Hit(41))
    calls: list[tuple[str, str | None, Visit]] = field(default_factory=list)

    def incr(self, visit: Visit) -> Hit:
        self.calls.append(("incr", None, visit))
        return self.answer

    def incr_once(self, idempotency_key: str, visit: Visit) -> Hit:
        self.calls.append(("incr_once", idempotency_key, visit))
        return self.answer


def test_a_hit_without_a_key_is_one_increment_with_its_visit() -> None:
    store = FakeCounter()
    assert counting.count(store, None, CLIENT).total == 41
    assert store.calls == [("incr", None, site_visit(CLIENT))]


def test_a_keyed_hit_goes_once_by_its_key() -> None:
    store = FakeCounter(Hit(7, replayed=True))
    hit = counting.count(store, "k-1", CLIENT)
    assert (hit.total, hit.replayed) == (7, True)
    assert store.calls == [("incr_once", "k-1", site_visit(CLIENT))]


def test_a_counter_that_starts_again_still_answers() -> None:
    assert counting.count(FakeCounter(Hit(1, started=True)), None, CLIENT).total == 1


@dataclass
class FakeHistory:
    asked: list[tuple[str, int, int]] = field(default_factory=list)

    def history(self, period: history.Period, now_ms: int, recent_imports: int = 0) -> HistoryCounts:
        self.asked.append((period.name, now_ms, recent_imports))
        days = history.days_of(period, now_ms)
        hits = [1] * period.buckets
        imports = [
            {"id": "a", "imported_at": "2025-12-01T00:00:00Z"},
            {"id": "b", "imported_at": "2025-12-07T00:00:00Z"},
        ]
        return HistoryCounts(hits, dict.fromkeys(days, 2), uniques=3, total=99, imports=imports)


def test_the_stats_are_the_stores_counts_shaped_newest_imports_first() -> None:
    store = FakeHistory()
    now = 1_765_100_000_000
    body = stats.read_stats(store, history.PERIODS["30d"], now, recent_imports=1)
    assert store.asked == [("30d", now, 1)]
    assert (body["period"], body["total"], body["hits"], body["uniques"]) == ("30d", 99, 30, 3)
    assert len(body["series"]) == 30 and body["series"][-1]["uniques"] == 2
    assert body["today"] == {"hits": 1, "uniques": 2}
    assert [i["id"] for i in body["imports"]] == ["b"]


SID = [c * 43 for c in "abcdef"]


@dataclass
class FakeSessions:
    live: dict[str, Session] = field(default_factory=dict)
    ttl: int = 1800
    tried: list[str] = field(default_factory=list)

    def visit(self, sid: str) -> Session | None:
        self.tried.append(sid)
        return self.live.get(sid)

    def replace_data(self, sid: str, data: dict[str, Any]) -> Session | None:
        self.tried.append(sid)
        if sid not in self.live:
            return None
        self.live[sid] = Session(self.live[sid].visits, data)
        return self.live[sid]

    def delete(self, sid: str) -> bool:
        self.tried.append(sid)
        return self.live.pop(sid, None) is not None


def test_the_first_live_session_among_the_cookies_wins() -> None:
    store = FakeSessions({SID[1]: Session(3, {"k": 1})})
    cookies = [f"__Host-sid={SID[0]}; theme=dark", f"__Host-sid={SID[1]}"]
    assert sessions.visit(store, cookies) == {"visits": 3, "data": {"k": 1}, "expires_in": 1800}
    assert store.tried == [SID[0], SID[1]]


def test_malformed_ids_cost_no_store_call_and_at_most_four_are_tried() -> None:
    store = FakeSessions()
    with pytest.raises(Unauthorized):
        sessions.visit(store, ["__Host-sid=short", "sid=" + SID[0]])
    assert store.tried == []
    with pytest.raises(Unauthorized):
        sessions.end(store, [f"__Host-sid={sid}" for sid in SID])
    assert store.tried == SID[:4]


def test_replace_writes_only_a_live_session() -> None:
    store = FakeSessions({SID[2]: Session(1, {})})
    assert sessions.replace(store, [f"__Host-sid={SID[2]}"], {"x": True})["data"] == {"x": True}
    with pytest.raises(Unauthorized):
        sessions.replace(store, [f"__Host-sid={SID[3]}"], {"x": True})
