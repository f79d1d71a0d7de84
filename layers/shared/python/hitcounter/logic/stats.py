"""``GET /stats`` and the dashboard's numbers: a period's counts shaped into the answer."""

from __future__ import annotations

from typing import Any, Protocol

from hitcounter.data.history_reads import HistoryCounts
from hitcounter.model import history


class HistoryReader(Protocol):
    """What the site's history needs of a store (``hitcounter.data.hit_store.HitStore``)."""

    def history(self, period: history.Period, now_ms: int, recent_imports: int = 0) -> HistoryCounts: ...


def read_stats(store: HistoryReader, period: history.Period, now_ms: int, recent_imports: int = 0) -> dict[str, Any]:
    """The site's history: ``shape`` of its counts; with ``recent_imports``, the latest
    imports, newest first."""
    return shape(store.history(period, now_ms, recent_imports), period, now_ms, recent_imports)


def shape(counts: HistoryCounts, period: history.Period, now_ms: int, recent_imports: int = 0) -> dict[str, Any]:
    """The period's series (each bucket's start and hits, and for days their uniques), its
    totals, and today's."""
    today = history.day_id(now_ms)
    series = []
    today_hits = 0
    for start, n in zip(history.bucket_starts(period, now_ms), counts.hits, strict=True):
        point: dict[str, Any] = {"start": start.isoformat().replace("+00:00", "Z"), "hits": n}
        day = history.bucket_id("day", start)
        if period.unit == "day":
            point["uniques"] = counts.day_uniques[day]
        today_hits += n if day == today else 0
        series.append(point)
    result: dict[str, Any] = {
        "period": period.name,
        "unit": period.unit,
        "total": counts.total,
        "hits": sum(counts.hits),
        "uniques": counts.uniques,
        "today": {"hits": today_hits, "uniques": counts.day_uniques.get(today, 0)},
        "series": series,
    }
    if recent_imports:
        newest_first = sorted(counts.imports, key=lambda i: str(i.get("imported_at", "")), reverse=True)
        result["imports"] = newest_first[:recent_imports]
    return result
