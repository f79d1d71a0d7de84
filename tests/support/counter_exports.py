"""Small exports of other counters, built from their documented formats (docs/imports.md names
the sources): GoatCounter's JSON export (a zip of ``info.json`` and JSON Lines files) and
Plausible's CSV export (a zip of ``imported_*`` CSV files). Dates are relative to the day the
test runs, so the numbers always fall within the buckets' retention."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _lines(rows: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def hour_ago(hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


@dataclass
class GoatCounterExport:
    """A GoatCounter JSON export: three paths and an event, four referrers of every scheme,
    and hit_stats per hour (``rows``: hours ago, path id, ref id, count)."""

    rows: list[tuple[int, int, int, int]] = field(
        default_factory=lambda: [
            (24 * 40, 211, 1, 7),  # 40 days ago: its day, not its hour, nor its referrer
            (30, 211, 2176502, 3),  # yesterday-ish, from example.com
            (3, 211, 1, 4),
            (3, 215, 69853, 2),  # "Google": a generated ref, no host
            (2, 215, 2176503, 5),  # from news.ycombinator.com
            (2, 1442298, 1, 9),  # the event: skipped
        ]
    )
    version: str = "1.0"
    extra: dict[str, bytes] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        info = {
            "export_version": self.version,
            "goatcounter_version": "2.7",
            "created_for": "stats.example.org",
            "created_by": "user_id=1 <owner@example.org>",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        paths = [
            {"id": 211, "path": "/", "title": "Home page"},
            {"id": 215, "path": "/2024/05/hello-world/", "title": "Hello"},
            {"id": 216, "path": "/never-hit/", "title": "Quiet"},
            {"id": 1442298, "event": True, "path": "click-banana", "title": "Yellow curvy fruit"},
        ]
        refs = [
            {"id": 1, "ref": "", "ref_scheme": "o"},
            {"id": 69853, "ref": "Google", "ref_scheme": "g"},
            {"id": 2176502, "ref": "example.com/page.html", "ref_scheme": "h"},
            {"id": 2176503, "ref": "news.ycombinator.com/item?id=1", "ref_scheme": "h"},
            {"id": 2176504, "ref": "summer-sale", "ref_scheme": "c"},
        ]
        stats = [
            {"hour": hour_ago(h).strftime("%Y-%m-%dT%H:%M:%SZ"), "path_id": p, "ref_id": r, "count": n}
            for h, p, r, n in sorted(self.rows, key=lambda row: -row[0])  # oldest first, as documented
        ]
        browser_stats = [{"day": hour_ago(3).strftime("%Y-%m-%d"), "path_id": 211, "browser_id": 1, "count": 4}]
        return {
            "info.json": json.dumps(info, indent=2).encode(),
            "paths.jsonl": _lines(paths),
            "refs.jsonl": _lines(refs),
            "hit_stats.jsonl": _lines(stats),
            "browser_stats.jsonl": _lines(browser_stats),
            **self.extra,
        }

    def zipped(self) -> bytes:
        return _zip(self.files())


@dataclass
class PlausibleExport:
    """A Plausible CSV export: visitors, pages and sources per day (``pages``: days ago, page,
    pageviews)."""

    pages: list[tuple[int, str, int]] = field(
        default_factory=lambda: [(10, "/", 12), (10, "/about/", 3), (1, "/", 5), (1, "/blog/post/", 8)]
    )
    sources: list[tuple[int, str, str, int]] = field(
        default_factory=lambda: [(1, "Hacker News", "news.ycombinator.com", 6), (1, "Direct / None", "", 7)]
    )

    def files(self) -> dict[str, bytes]:
        today = datetime.now(UTC).date()

        def day(ago: int) -> str:
            return (today - timedelta(days=ago)).isoformat()

        first, last = (today - timedelta(days=30)).strftime("%Y%m%d"), today.strftime("%Y%m%d")
        totals: dict[str, int] = {}
        for ago, _, views in self.pages:
            totals[day(ago)] = totals.get(day(ago), 0) + views
        visitors = "date,visitors,pageviews,bounces,visits,visit_duration\r\n" + "".join(
            f"{d},{n // 2},{n},1,{n // 2},60\r\n" for d, n in sorted(totals.items())
        )
        pages = "date,hostname,page,visits,visitors,pageviews,total_scroll_depth,total_scroll_depth_visits\r\n"
        pages += "".join(f"{day(a)},example.org,{p},{n},{n},{n},0,0\r\n" for a, p, n in sorted(self.pages))
        sources = "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,"
        sources += "pageviews,visitors,visits,visit_duration,bounces\r\n"
        sources += "".join(f"{day(a)},{s},{r},,,,,,{n},{n},{n},10,1\r\n" for a, s, r, n in self.sources)
        return {
            f"imported_visitors_{first}_{last}.csv": visitors.encode(),
            f"imported_pages_{first}_{last}.csv": pages.encode(),
            f"imported_sources_{first}_{last}.csv": sources.encode(),
            f"imported_browsers_{first}_{last}.csv": b"date,browser,browser_version,visitors,visits\r\n",
        }

    def zipped(self) -> bytes:
        return _zip(self.files())
