"""``GET /dashboard``: one HTML page, rendered here from ``/stats``'s own numbers.

Readable without JavaScript (there is none), offline (no CDN, no web font, no image: the
chart is inline SVG), accessible (headings, a labelled figure with a text description, the
numbers as a table, colours above WCAG AA contrast in light and dark), and small: every
period's page stays well under 50 KB. Everything that comes from data (an import's key) is
escaped.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any
from urllib.parse import quote

from hitcounter.model.history import PERIODS

_W, _H, _PAD_L, _PAD_B, _PAD_T = 720, 220, 44, 24, 12

_CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1a1a1a;--muted:#4a4a4a;--accent:#0a58a8;--grid:#d0d0d0}
@media (prefers-color-scheme:dark){:root{--bg:#121212;--fg:#ececec;--muted:#bdbdbd;--accent:#7cbcff;--grid:#3a3a3a}}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,sans-serif}
main{max-width:760px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:0 0 1rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
dl{display:flex;gap:1rem;flex-wrap:wrap;margin:0}
dl div{flex:1;min-width:9rem;border:1px solid var(--grid);border-radius:6px;padding:.6rem .8rem}
dt{color:var(--muted);font-size:.9rem}dd{margin:0;font-size:1.8rem;font-weight:600}
nav a{color:var(--accent);margin-right:1rem}nav a[aria-current]{color:var(--fg);font-weight:600;text-decoration:none}
svg{width:100%;height:auto}#bars rect{fill:var(--accent)}
.grid{stroke:var(--grid)}.axis{fill:var(--muted);font-size:11px}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--grid)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}footer{color:var(--muted);font-size:.85rem;margin-top:2rem}
"""

# The page loads nothing and runs nothing, and says so: a policy that allows only its one
# inline stylesheet (by its hash), so injected markup could neither run a script nor load a
# resource, and no other site may frame it.
_STYLE_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _label(point: dict[str, Any], unit: str) -> str:
    start = str(point["start"])
    if unit == "day":
        return start[:10]
    return start[:16].replace("T", " ") if unit == "minute" else start[:13].replace("T", " ") + ":00"


def _chart(stats: dict[str, Any]) -> str:
    series, unit = stats["series"], stats["unit"]
    peak = max([p["hits"] for p in series] + [1])
    inner_w, inner_h = _W - _PAD_L, _H - _PAD_B - _PAD_T
    slot = inner_w / len(series)
    width = max(slot * 0.8, 0.5)
    bars = []
    for i, point in enumerate(series):
        h = inner_h * point["hits"] / peak
        x, y = _PAD_L + i * slot, _PAD_T + inner_h - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
            f'data-start="{_label(point, unit)}" data-hits="{point["hits"]}"/>'
        )
    grid = ""
    for f in (0, 0.5, 1):
        y = _PAD_T + inner_h * (1 - f)
        grid += f'<line class="grid" x1="{_PAD_L}" x2="{_W}" y1="{y:.1f}" y2="{y:.1f}"/>'
        grid += f'<text class="axis" x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{round(peak * f)}</text>'

    first, last = _label(series[0], unit), _label(series[-1], unit)
    busiest = max(series, key=lambda p: p["hits"])
    what = f"Hits per {unit}, {PERIODS[stats['period']].buckets} {unit}s to now (UTC)"
    desc = (
        f"From {first} to {last}: {stats['hits']} hits; "
        f"the busiest {unit} was {_label(busiest, unit)} with {busiest['hits']}."
    )
    return (
        f'<figure><svg viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="chart-title chart-desc">'
        f'<title id="chart-title">{escape(what)}</title><desc id="chart-desc">{escape(desc)}</desc>{grid}'
        f'<g id="bars">{"".join(bars)}</g>'
        f'<text class="axis" x="{_PAD_L}" y="{_H - 6}">{escape(first)}</text>'
        f'<text class="axis" x="{_W}" y="{_H - 6}" text-anchor="end">{escape(last)}</text></svg>'
        f"<figcaption>{escape(desc)}</figcaption></figure>"
    )


def _table(stats: dict[str, Any]) -> str:
    """The chart as text: every hour or day with hits; a year by month (days would make the
    page too long to read, and too large)."""
    unit = stats["unit"]
    if stats["period"] == "1y":
        months: dict[str, int] = {}
        for p in stats["series"]:
            months[p["start"][:7]] = months.get(p["start"][:7], 0) + p["hits"]
        rows = "".join(f"<tr><td>{m}</td><td class=n>{n}</td></tr>" for m, n in reversed(months.items()))
        head, what = "<tr><th>Month (UTC)</th><th class=n>Hits</th></tr>", "month"
    else:
        with_uniques = unit == "day"
        rows = "".join(
            f"<tr><td>{_label(p, unit)}</td><td class=n>{p['hits']}</td>"
            + (f"<td class=n>{p['uniques']}</td>" if with_uniques else "")
            + "</tr>"
            for p in reversed(stats["series"])
            if p["hits"]
        )
        head = f"<tr><th>{unit.capitalize()} (UTC)</th><th class=n>Hits</th>" + (
            "<th class=n>Unique visitors</th></tr>" if with_uniques else "</tr>"
        )
        what = f"every {unit} with hits"
    return f"<details><summary>The numbers ({what})</summary><table>{head}{rows}</table></details>"


def _bots(stats: dict[str, Any]) -> str:
    """A page's requests counted apart as bots over the period, by reason (the site's view
    has none: bots are tallied per page)."""
    bots = stats.get("bots")
    if not bots:
        return ""
    reasons = ", ".join(f"{escape(str(r))} {int(n)}" for r, n in bots["by_reason"].items())
    title = f' title="{reasons}"' if reasons else ""
    label = f"Bots, not counted ({escape(stats['period'])})"
    return f'<div><dt>{label}</dt><dd id="bots"{title}>{int(bots["total"])}</dd></div>'


def _referrers(hosts: list[dict[str, Any]]) -> str:
    """Where the period's readers came from: referring hosts, most first (``other``: the hosts
    past a day's cap), as text; hosts only, never a link (a referrer is not vouched for)."""
    if not hosts:
        return "<p>No referring site in this period.</p>"
    rows = "".join(f"<tr><td>{escape(str(h['host']))}</td><td class=n>{int(h['hits'])}</td></tr>" for h in hosts)
    return f"<table id=referrers><tr><th>Site</th><th class=n>Hits</th></tr>{rows}</table>"


def _imports(imports: list[dict[str, Any]]) -> str:
    if not imports:
        return "<p>No access log imported yet.</p>"
    rows = "".join(
        f"<tr><td>{escape(str(i.get('key', '')))}</td><td class=n>{int(i.get('counted', 0))}</td>"
        f"<td class=n>{int(i.get('lines', 0))}</td><td>{escape(str(i.get('imported_at', '')))}</td></tr>"
        for i in imports
    )
    return (
        "<table id=imports><tr><th>Object</th><th class=n>Counted</th><th class=n>Lines</th>"
        f"<th>Imported (UTC)</th></tr>{rows}</table>"
    )


def _pages(pages: list[dict[str, Any]], period: str, shared: str = "") -> str:
    """The period's top pages, each linking to its own view (a path page by its path, which
    may hold "&" or "%": percent-encoded into the link, escaped in the text)."""
    if not pages:
        return "<p>No page counted in this period.</p>"
    rows = "".join(
        f'<tr><td><a href="?page={escape(quote(p["page"], safe=""))}&amp;period={escape(period)}{shared}">'
        f"{escape(p['page'])}</a></td>"
        f"<td class=n>{int(p['hits'])}</td><td class=n>{int(p['uniques'])}</td></tr>"
        for p in pages
    )
    return f"<table id=pages><tr><th>Page</th><th class=n>Hits</th><th class=n>Unique visitors</th></tr>{rows}</table>"


def _headline(stats: dict[str, Any], all_pages: dict[str, Any] | None) -> str:
    """The numbers at the top, each named by what it counts: a page's own (its view); on the
    site's, every page together and the period's referring sites of all pages, then the site
    counter of ``GET /`` (whose history is the chart below)."""
    own = (
        f'<dl><div><dt>Total hits</dt><dd id="total">{stats["total"]}</dd></div>'
        f'<div><dt>Hits today</dt><dd id="today">{stats["today"]["hits"]}</dd></div>'
        f'<div><dt>Unique visitors today</dt><dd id="uniques-today">{stats["today"]["uniques"]}</dd></div>'
        f"{_bots(stats)}</dl>"
    )
    if all_pages is None:
        return own
    return (
        "<h2>All pages</h2>"
        f'<dl id="all-pages"><div><dt>Page hits, all pages</dt><dd id="pages-total">{int(all_pages["hits"])}</dd></div>'
        f'<div><dt>Page hits today</dt><dd id="pages-today">{int(all_pages["today"]["hits"])}</dd></div>'
        '<div><dt title="a reader of pages in several of the 64 page groups counts once in each">'
        f'Page visitors today, at most</dt><dd id="pages-uniques-today">{int(all_pages["today"]["uniques"])}</dd>'
        "</div></dl>"
        f"<h2>Referring sites, all pages ({escape(stats['period'])})</h2>{_referrers(all_pages['referrers'])}"
        f"<h2>Site counter (<code>GET /</code>)</h2>{own}"
    )


def render(
    stats: dict[str, Any],
    imports: list[dict[str, Any]],
    pages: list[dict[str, Any]] | None = None,
    page: str | None = None,
    *,
    token: str | None = None,
    all_pages: dict[str, Any] | None = None,
) -> str:
    """The site's page (every page together, the site counter, its history, its top pages,
    the latest imports), or with ``page`` one page's own view (its history, its referring
    sites, a link back). ``token``: a share link's (``?token=``), kept in every link, so
    private statistics can be browsed from the link."""
    shared = f"&amp;token={escape(quote(token, safe=''))}" if token else ""
    keep = f"page={escape(quote(page, safe=''))}&amp;" if page else ""
    nav = "".join(
        f'<a href="?{keep}period={name}{shared}"{" aria-current=page" if name == stats["period"] else ""}>{name}</a>'
        for name in PERIODS
    )
    title = f"Hit counter: {escape(page)}" if page else "Hit counter"
    below = (
        f"<h2>Referring sites</h2>{_referrers(stats.get('referrers', []))}"
        f'<p><a id=back href="?period={escape(stats["period"])}{shared}">All pages</a></p>'
        if page
        else f"<h2>Top pages</h2>{_pages(pages or [], stats['period'], shared)}"
        f"<h2>Latest imports</h2>{_imports(imports)}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="color-scheme" content="light dark"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><main><h1>{title}</h1>"
        f"{_headline(stats, all_pages)}"
        f'<h2>Over time</h2><nav aria-label="Period">{nav}</nav>{_chart(stats)}{_table(stats)}'
        f"{below}"
        f"<footer>Unique visitors are HyperLogLog estimates (about 0.81% standard error). "
        f"Period {escape(stats['period'])}: {stats['hits']} hits, about {stats['uniques']} unique visitors.</footer>"
        "</main></body></html>"
    )
