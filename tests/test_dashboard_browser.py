"""The dashboard in a real browser: headless Chromium (the system's package, installed by
`make test` through `make setup-browser`) loads /dashboard from the local server; the rendered DOM's numbers and chart
points must be /stats's; the screenshot is a real picture of a sane size."""

from __future__ import annotations

import html
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from devtools import browser
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.http import http, http_json, person

# A person's Chrome (headless Chromium otherwise announces itself as HeadlessChrome).
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.find() is None,
        reason="chromium is not installed and could not be installed here (make setup-browser installs it)",
    ),
]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.bars: list[dict[str, str]] = []
        self.svg_roles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "dd" and "id" in found:
            self._in = found["id"]
        if tag == "rect" and "data-hits" in found:
            self.bars.append(found)
        if tag == "svg":
            self.svg_roles.append(found.get("role", ""))

    def handle_data(self, data: str) -> None:
        if self._in:
            self.figures[self._in] = data.strip()
            self._in = None


@pytest.fixture
def api(template: sam_template.Template, redis_url: str) -> Any:
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}})).start()
    yield server
    server.stop()


def test_chromium_renders_the_numbers_and_the_chart_of_stats(api: Any, tmp_path: Path) -> None:
    for i in range(30):
        assert http("GET", f"{api.url}/", {"User-Agent": f"visitor-{i % 7}"})[0] == 200
    for period in ("1h", "48h", "30d"):
        # The page and /stats must be read in the same minute: a minute that turns between
        # them shifts the series (a slow browser makes that likely). Read /stats before and
        # after the page, and compare only a page whose answer held still around it.
        for _ in range(3):
            stats = http_json("GET", f"{api.url}/stats?period={period}")[2]
            dom = _Dom()
            dom.feed(browser.dump_dom(f"{api.url}/dashboard?period={period}"))
            if http_json("GET", f"{api.url}/stats?period={period}")[2] == stats:
                break
        else:
            pytest.fail("the statistics changed around every rendering")
        assert dom.figures == {
            "total": str(stats["total"]),
            "today": str(stats["today"]["hits"]),
            "uniques-today": str(stats["today"]["uniques"]),
            "pages-total": "0",  # no page counted: every page together is named, and 0
            "pages-today": "0",
            "pages-uniques-today": "0",
        }
        assert stats["total"] == 30 and stats["today"]["hits"] == 30
        assert abs(stats["today"]["uniques"] - 7) <= 1  # seven user agents from one address
        assert [int(b["data-hits"]) for b in dom.bars] == [p["hits"] for p in stats["series"]]
        heights = [float(b["height"]) for b in dom.bars]
        tallest = max(range(len(heights)), key=heights.__getitem__)
        assert stats["series"][tallest]["hits"] == max(p["hits"] for p in stats["series"])
        assert dom.svg_roles == ["img"]
    picture = tmp_path / "dashboard.png"
    browser.screenshot(f"{api.url}/dashboard", picture, width=900, height=1000)
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (900, 1000)
    assert 10_000 < len(data) < 1_000_000  # a rendered page, not a blank one


OTHER_ORIGIN_PAGE = """<!doctype html><html><body>
<img id=badge src="{api}/pages/home/badge.svg"
     onload="document.getElementById('img').textContent = 'loaded ' + this.naturalWidth"
     onerror="document.getElementById('img').textContent = 'broken'">
<p id=img>pending</p><p id=read>pending</p>
<script>
fetch("{api}/pages/home", {{headers: {{"Accept": "application/json", "Idempotency-Key": "browser-1"}}}})
  .then(r => r.json()).then(j => document.getElementById("read").textContent = JSON.stringify(j))
  .catch(() => document.getElementById("read").textContent = "blocked");
</script></body></html>"""


@pytest.fixture
def other_origin(api: Any) -> Any:
    """A page served from another origin (another host name and port) that embeds a badge and
    reads a count with fetch(), as a site owner's page would."""
    import http.server
    import threading

    api_url = api.url.replace("127.0.0.1", "localhost")
    html = OTHER_ORIGIN_PAGE.format(api=api_url).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_origin_shows_the_badge_and_reads_the_count(api: Any, other_origin: str) -> None:
    dom = browser.dump_dom(other_origin, wait_ms=5000, user_agent=CHROME)
    # The <img> rendered the SVG (its natural width is the badge's), and fetch() read the count
    # through CORS, its Idempotency-Key header preflighted. One page view by one person:
    # the second request is the same visitor within DEDUPE_SECONDS, so it counts nothing.
    loaded = re.search(r'<p id="img">loaded (\d+)</p>', dom)
    assert loaded and int(loaded[1]) > 40, dom
    read = re.search(r'<p id="read">(.*?)</p>', dom)
    assert read and json.loads(html.unescape(read[1]))["page"] == "home", dom
    assert http("GET", f"{api.url}/pages/home/badge.svg?count=false")[0] == 200
    assert json.loads(html.unescape(read[1]))["hits"] == 1, dom
    another = http("GET", f"{api.url}/pages/home", {**person(1), "Accept": "application/json"})
    assert json.loads(another[2])["hits"] == 2


def test_the_dashboard_renders_a_pages_own_view(api: Any) -> None:
    for i in range(3):
        http("GET", f"{api.url}/pages/blog.post-1", person(i))
    http("GET", f"{api.url}/pages/blog.post-1", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    listing = browser.dump_dom(f"{api.url}/dashboard")
    assert 'href="?page=blog.post-1&amp;period=30d"' in listing
    own = browser.dump_dom(f"{api.url}/dashboard?page=blog.post-1")
    dom = _Dom()
    dom.feed(own)
    assert dom.figures["total"] == "3" and "Hit counter: blog.post-1" in own
    assert dom.figures["bots"] == "1" and 'title="crawler 1"' in own  # counted apart, and shown


def test_the_headline_names_every_page_together_beside_the_site_counter(api: Any) -> None:
    """As a site owner tries it: page hits on four pages (one through a referring site), a
    few hits of the site counter (GET /): the headline shows the pages' own numbers, named,
    beside the site counter's, and the period's referring sites under them."""
    visitor = 0
    for page, hits in (("home", 2), ("about", 3), ("blog.post-1", 4), ("blog.post-2", 5)):
        for _ in range(hits):
            visitor += 1
            assert http("GET", f"{api.url}/pages/{page}", person(visitor))[0] == 200
    referred = f"{api.url}/count?path=/from-hn/&r=https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1"
    assert http("GET", referred, person(visitor + 1))[0] == 200
    for i in range(3):
        assert http("GET", f"{api.url}/", {"User-Agent": f"visitor-{i}"})[0] == 200
    page = browser.dump_dom(f"{api.url}/dashboard")
    dom = _Dom()
    dom.feed(page)
    assert (dom.figures["pages-total"], dom.figures["pages-today"]) == ("15", "15")
    assert abs(int(dom.figures["pages-uniques-today"]) - 15) <= 1  # fifteen visitors, each on one page
    assert (dom.figures["total"], dom.figures["today"]) == ("3", "3")  # the site counter, GET /
    assert "<dt>Page hits, all pages</dt>" in page and "Site counter (<code>GET /</code>)" in page
    assert '<tr><td>news.ycombinator.com</td><td class="n">1</td></tr>' in page
    answer = http_json("GET", f"{api.url}/pages")[2]["all"]
    assert answer["hits"] == 15 and answer["referrers"] == [{"host": "news.ycombinator.com", "hits": 1}]
