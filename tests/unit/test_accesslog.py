"""The access-log parser on files it is given: what counts, what is untimed, what is refused."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitcounter.core.errors import Unprocessable
from hitcounter.logic.accesslog import History, Limits, TooLarge, line_time_ms, summarize

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def line(when: datetime | str, path: str = "/", status: int = 200, method: str = "GET") -> str:
    stamp = when if isinstance(when, str) else when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'192.0.2.1 - - [{stamp}] "{method} {path} HTTP/1.1" {status} 12 "-" "curl/8"'


@pytest.fixture
def log(tmp_path: Path) -> Callable[..., Path]:
    def write(lines: list[str], gz: bool = False) -> Path:
        data = "\n".join(lines).encode() + b"\n"
        path = tmp_path / "access.log"
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        return path

    return write


def _history() -> Limits:
    return Limits(history=History(int(NOW.timestamp() * 1000)))


def test_counts_get_root_2xx_only(log: Callable[..., Path]) -> None:
    lines = [line(NOW), line(NOW, "/?utm=x"), line(NOW, "/about"), line(NOW, status=404), line(NOW, method="POST")]
    summary = summarize(log(lines))
    assert (summary.lines, summary.counted, summary.malformed) == (5, 2, 0)


def test_gzip_is_told_by_its_magic_bytes(log: Callable[..., Path]) -> None:
    assert summarize(log([line(NOW)] * 3, gz=True)).counted == 3


def test_binary_content_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(Unprocessable):
        summarize(path)


def test_a_long_line_is_malformed_and_never_held(log: Callable[..., Path]) -> None:
    summary = summarize(log(["x" * 100_000, line(NOW)]), Limits(max_line=8192))
    assert (summary.long_lines, summary.malformed, summary.counted) == (1, 1, 1)


def test_past_the_decompressed_bound_nothing_counts(log: Callable[..., Path]) -> None:
    with pytest.raises(TooLarge):
        summarize(log([line(NOW)] * 1000, gz=True), Limits(max_decompressed=10_000))


@pytest.mark.parametrize(
    "stamp",
    ["31/Dec/9999:23:59:59 -0100", "01/Jan/1969:12:00:00 +0000", "10/Oct/2026:10:00:00 +9959"],
)
def test_instants_no_bucket_can_hold_are_untimed_not_errors(log: Callable[..., Path], stamp: str) -> None:
    summary = summarize(log([line(stamp), line(NOW)]), _history())
    assert (summary.counted, summary.untimed) == (2, 1)


def test_a_future_line_is_untimed_and_makes_no_bucket(log: Callable[..., Path]) -> None:
    summary = summarize(log([line(NOW + timedelta(days=365)), line(NOW + timedelta(minutes=4))]), _history())
    assert summary.untimed == 1
    assert all(not name.startswith("d:2027") for name in summary.buckets)


def test_buckets_follow_each_lines_own_offset(log: Callable[..., Path]) -> None:
    local = (NOW - timedelta(hours=2)).astimezone(__import__("datetime").timezone(timedelta(hours=5, minutes=30)))
    summary = summarize(log([line(local)]), _history())
    assert summary.buckets[f"h:{(NOW - timedelta(hours=2)):%Y%m%d%H}"] == 1


def test_the_furthest_zones_are_real_and_past_them_is_not() -> None:
    assert line_time_ms(b"10/Oct/2026:10:00:00 +1400") is not None
    assert line_time_ms(b"10/Oct/2026:10:00:00 -1200") is not None
    assert line_time_ms(b"10/Oct/2026:10:00:00 +1401") is None
    assert line_time_ms(b"31/Feb/2026:10:00:00 +0000") is None
