"""Another counter's numbers gathered before anything is written (``hitcounter.model.page_tally``):
into which buckets each row goes by its age, what is skipped, and the bounds that refuse an
export whole."""

from __future__ import annotations

import pytest

from hitcounter.model import history, referrers
from hitcounter.model.page_tally import DAY_MS, HOUR_MS, Tally, TallyFull, capped, page_ttl

NOW = 1_796_600_000_000


def test_rows_go_to_the_buckets_their_age_allows() -> None:
    tally = Tally(NOW, max_pages=10, max_cells=100)
    tally.add("/a/", NOW - 2 * HOUR_MS, 3, hourly=True, host="example.com")
    tally.add("/a/./", NOW - 40 * DAY_MS, 4, hourly=True, host="example.com")  # the same page: its day only
    tally.add("/a/", NOW - 500 * DAY_MS, 5, hourly=True)  # past the day buckets: the total only
    page = tally.pages["/a/"]
    assert page.total == 12 and tally.counted == 12
    assert page.days == {history.day_id(NOW - 2 * HOUR_MS): 3, history.day_id(NOW - 40 * DAY_MS): 4}
    assert page.hours == {history.hour_id(NOW - 2 * HOUR_MS): 3}
    assert page.referrers == {history.day_id(NOW - 2 * HOUR_MS): {"example.com": 3}}  # 40 days: past 35


def test_what_is_not_a_page_or_not_yet_is_skipped() -> None:
    tally = Tally(NOW, max_pages=10, max_cells=100)
    tally.add("click-banana", NOW - HOUR_MS, 2, hourly=True)
    tally.add("/%FF", NOW - HOUR_MS, 2, hourly=True)
    tally.add("/later/", NOW + HOUR_MS, 2, hourly=True)
    assert tally.pages == {} and tally.skipped == {"paths": 2, "future": 1}


@pytest.mark.parametrize(("pages", "cells"), [(2, 1000), (1000, 5)])
def test_an_export_past_its_bounds_is_refused_whole(pages: int, cells: int) -> None:
    tally = Tally(NOW, max_pages=pages, max_cells=cells)
    with pytest.raises(TallyFull):
        for i in range(10):
            tally.add(f"/p{i}/", NOW - i * DAY_MS - HOUR_MS, 1, hourly=False)
    with pytest.raises(TallyFull):
        Tally(NOW, 10, 10).add("/a/", NOW - HOUR_MS, 10**13, hourly=False)


def test_a_days_hosts_are_capped_as_the_hit_script_caps_them() -> None:
    hosts = {f"h{i:03d}.example": 1000 - i for i in range(referrers.HOSTS_PER_DAY + 10)}
    kept = capped(hosts)
    assert len(kept) == referrers.HOSTS_PER_DAY + 1 and sum(kept.values()) == sum(hosts.values())
    assert kept[referrers.OTHER] == sum(1000 - i for i in range(referrers.HOSTS_PER_DAY, referrers.HOSTS_PER_DAY + 10))


def test_an_imported_bucket_lives_its_retention_from_its_end() -> None:
    hour = history.hour_id(NOW - 2 * HOUR_MS)
    assert page_ttl("hour", hour, NOW) == pytest.approx(history.PAGE_TTLS["hour"] - 3600, abs=3600)
    assert page_ttl("day", "20000101", NOW) == 1  # long gone: the least Redis takes
