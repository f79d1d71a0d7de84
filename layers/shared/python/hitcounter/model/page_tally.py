"""Another counter's numbers, gathered per page before anything is written (a GoatCounter or
Plausible export: ``hitcounter.logic.counter_imports``): each path page's total, its day and
hour buckets and its referring hosts per day, and the site's referring hosts per day. Bounded
whatever the file: past ``max_pages`` pages or ``max_cells`` numbers held it stops with
``TallyFull``, so an import is refused whole rather than written in part. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from hitcounter.model import history, referrers
from hitcounter.model.paths import normalize

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
MAX_COUNT = 10**12  # hits one row may carry: more is not a count


class TallyFull(ValueError):
    """The export holds more than an import may gather at once."""


@dataclass(slots=True)
class PageCounts:
    """One page's share: its total, hits per day and per hour (ids as the history names
    them), and referring hosts per day."""

    total: int = 0
    days: dict[str, int] = field(default_factory=dict)
    hours: dict[str, int] = field(default_factory=dict)
    referrers: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class Tally:
    """What an import gathers. ``now_ms``: the import's own time: hours older than the hour
    buckets' retention go into days only, days older than the day buckets' into the total
    only, anything after now is skipped."""

    now_ms: int
    max_pages: int
    max_cells: int
    pages: dict[str, PageCounts] = field(default_factory=dict)
    site_referrers: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    counted: int = 0
    cells: int = 0

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def add(self, path: str, at_ms: int, count: int, *, hourly: bool, host: str = "") -> None:
        """``count`` hits of ``path`` in the hour (``hourly``) or the UTC day starting at
        ``at_ms``, from ``host`` ("" for none or unknown)."""
        if count == 0:
            return
        if not 0 < count <= MAX_COUNT:
            raise TallyFull(f"a row counts {count} hits: not a count")
        if at_ms >= self.now_ms:
            self.skip("future")
            return
        shown = _normal(path)
        if shown is None:
            self.skip("paths")
            return
        page = self.pages.get(shown)
        if page is None:
            if len(self.pages) >= self.max_pages:
                raise TallyFull(f"the export names more than {self.max_pages} pages (PAGES_MAX)")
            page = self.pages[shown] = PageCounts()
        page.total += count
        self.counted += count
        age = self.now_ms - at_ms
        day, hour = _ids(at_ms // HOUR_MS)
        if age < history.DAY_TTL * 1000:
            self._bump(page.days, day, count)
        if hourly and age < history.PAGE_TTLS["hour"] * 1000:
            self._bump(page.hours, hour, count)
        if host and age < history.PAGE_TTLS["uniques"] * 1000:
            self._bump(page.referrers.setdefault(day, {}), host, count)

    def add_site_referrer(self, at_ms: int, host: str, count: int) -> None:
        """``count`` visits of the site on the UTC day of ``at_ms`` from ``host``."""
        if not 0 < count <= MAX_COUNT or at_ms >= self.now_ms:
            return
        if self.now_ms - at_ms < history.PAGE_TTLS["uniques"] * 1000:
            self._bump(self.site_referrers.setdefault(history.day_id(at_ms), {}), host, count)

    def _bump(self, cells: dict[str, int], name: str, count: int) -> None:
        if name not in cells:
            self.cells += 1
            if self.cells > self.max_cells:
                raise TallyFull(f"the export holds more than {self.max_cells} numbers to import at once")
            cells[name] = 0
        cells[name] += count


# An export names each path and hour many times (a row per path, referrer and hour): each is
# put in its normal form, or named, once.
@lru_cache(maxsize=65_536)
def _normal(path: str) -> str | None:
    return normalize(path) if path.startswith("/") else None


@lru_cache(maxsize=65_536)
def _ids(hour_number: int) -> tuple[str, str]:
    """The day and hour ids of an epoch hour."""
    at_ms = hour_number * HOUR_MS
    return history.day_id(at_ms), history.hour_id(at_ms)


def capped(hosts: dict[str, int]) -> dict[str, int]:
    """A day's referring hosts as a page keeps them: the HOSTS_PER_DAY most referring (ties:
    the first by name), the rest added up as OTHER."""
    ranked = sorted(hosts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: referrers.HOSTS_PER_DAY])
    rest = sum(n for _, n in ranked[referrers.HOSTS_PER_DAY :])
    if rest:
        kept[referrers.OTHER] = kept.get(referrers.OTHER, 0) + rest
    return kept


def page_ttl(unit: str, bucket_id: str, now_ms: int) -> int:
    """The TTL a page's bucket gets when an import writes it (``history.bucket_ttl`` with a
    page's retention: hour buckets 49 h, day buckets 400 days, a day's referring hosts 35
    days)."""
    prefix = history.UNITS["hour" if unit == "hour" else "day"].prefix
    return history.bucket_ttl(f"{prefix}:{bucket_id}", now_ms, history.PAGE_TTLS[unit])
