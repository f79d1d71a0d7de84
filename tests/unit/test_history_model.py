"""The hit history's arithmetic: bucket ids, retention, periods, visitor digests, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hitcounter.model import history
from hitcounter.model.keys import hits_key, hits_tag, shard_of


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_bucket_ids_are_utc_minute_hour_and_day() -> None:
    at = ms("2025-12-31T23:59:59.999")
    assert (history.minute_id(at), history.hour_id(at), history.day_id(at)) == (
        "202512312359",
        "2025123123",
        "20251231",
    )
    assert history.day_id(at + 1) == "20260101"


@pytest.mark.parametrize(
    ("name", "retention"), [("m:202601011200", history.MINUTE_TTL), ("d:20260101", history.DAY_TTL)]
)
def test_a_buckets_ttl_counts_its_retention_from_the_buckets_end(name: str, retention: int) -> None:
    unit = history.UNITS["minute" if name.startswith("m") else "day"]
    start = ms("2026-01-01T12:00:00") if name.startswith("m") else ms("2026-01-01T00:00:00")
    assert history.bucket_ttl(name, start) == unit.seconds + retention


def test_a_period_is_its_buckets_ending_now_oldest_first() -> None:
    now = ms("2026-03-01T10:30:00")
    starts = history.bucket_starts(history.PERIODS["48h"], now)
    assert len(starts) == 48 and starts[-1].hour == 10 and starts[0] < starts[-1]
    assert history.days_of(history.PERIODS["30d"], now)[-1] == "20260301"
    assert len(history.days_of(history.PERIODS["1y"], now)) == 365


def test_day_periods_are_the_ones_whose_unions_are_cached() -> None:
    assert set(history.DAY_PERIODS) == {"30d", "1y"}


def test_a_visitor_is_a_digest_never_the_address() -> None:
    digest = history.visitor_key("203.0.113.7", "curl/8")
    assert len(digest) == 64 and "203.0.113.7" not in digest
    assert digest == history.visitor_key("203.0.113.7", "curl/8") != history.visitor_key("203.0.113.8", "curl/8")


def test_every_key_of_a_shard_shares_its_hash_tag() -> None:
    assert hits_tag(1, 0) == "{hits}" and hits_tag(4, 3) == "{hits:3}"
    assert hits_key("dev:", 1, 0, "count") == "dev:{hits}:count"
    assert hits_key("dev:", 4, 2, "d:20260101") == "dev:{hits:2}:d:20260101"


def test_shards_are_chosen_evenly_and_stably() -> None:
    picks = [shard_of(f"visitor-{i}", 4) for i in range(4000)]
    assert all(800 < picks.count(s) < 1200 for s in range(4))
    assert shard_of("visitor-1", 4) == shard_of("visitor-1", 4)


def test_the_refused_key_ranges_are_exactly_those_unicode_categories() -> None:
    import unicodedata

    from hitcounter.model.keys import REFUSED_KEY_RANGES

    refused = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
    in_ranges = {cp for a, b in REFUSED_KEY_RANGES for cp in range(a, b + 1)}
    by_category = {cp for cp in range(0x110000) if unicodedata.category(chr(cp)) in refused}
    assert in_ranges == by_category, f"Unicode {unicodedata.unidata_version}: update REFUSED_KEY_RANGES"
