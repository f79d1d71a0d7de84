"""``count.js`` in a real browser: headless Chromium (the system's package) loads a page
served from another origin that embeds the script from the local API, navigates as a
single-page app does, reloads, sets the ignore flag, or meets a 429; what the script sent
(recorded by the host page around ``fetch``) and what the API counted must be what
docs/embed.md promises, and the host page must never see an error."""

from __future__ import annotations

import html
import http.server as http_server
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from devtools import browser
from hitcounter.core.settings import DEDUPE_SECONDS
from hitcounter.model.keys import page_slot
from hitcounter.model.paths import page_of
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.http import http, http_json

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.find() is None,
        reason="chromium is not installed and could not be installed here (make setup-browser installs it)",
    ),
]

# The host page: records each request count.js makes (the query, whether it carried a key),
# any error that reaches the page, then writes them into the DOM for --dump-dom to read.
HOST = """<!doctype html><html><body>
<p>Read <span id=count data-hitcounter>none</span> times.</p><pre id=log>pending</pre>
<script>
var sent = [], errors = 0, realFetch = window.fetch;
window.addEventListener("error", function () {{ errors++; }});
window.addEventListener("unhandledrejection", function () {{ errors++; }});
window.fetch = function (url, init) {{
  var key = init && init.headers && init.headers["Idempotency-Key"];
  sent.push(decodeURIComponent(String(url).split("path=")[1].split("&")[0]) + (key ? " keyed" : " unkeyed"));
  return realFetch.apply(this, arguments);
}};
{before}
// The steps start once count.js has run (its onload), so its first view is the page's own,
// however slowly the script arrives (a busy machine).
var steps = {steps};
function run() {{
  steps.forEach(function (step) {{
    setTimeout(function () {{
      if (step[1] === "back") history.back();
      else if (step[1] === "reload") {{ if (!sessionStorage.getItem("reloaded")) {{
        sessionStorage.setItem("reloaded", "1"); location.reload(); }} }}
      else history.pushState({{}}, "", step[1]);
    }}, step[0]);
  }});
  setTimeout(function () {{
    document.getElementById("log").textContent = JSON.stringify({{sent: sent, errors: errors}});
  }}, 4000);
}}
</script>
<script async src="{api}/count.js" onload="run()" onerror="run()"></script>
</body></html>"""


@pytest.fixture
def api_with(template: sam_template.Template, redis_url: str) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url, **env}})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def host() -> Iterator[Callable[..., str]]:
    """Serves a host page (on 127.0.0.1, another origin than the API's localhost) at any
    path; returns its URL."""
    pages: dict[str, bytes] = {}

    class Handler(http_server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?")[0].split("/")[1], b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def page(api_url: str, steps: str = "[]", before: str = "", name: str = "") -> str:
        name = name or f"p{len(pages)}"
        api = api_url.replace("127.0.0.1", "localhost")
        pages[name] = HOST.format(api=api, steps=steps, before=before).encode()
        return f"http://127.0.0.1:{server.server_address[1]}/{name}/index.html"

    yield page
    server.shutdown()
    server.server_close()


def _run(url: str) -> tuple[dict[str, Any], str]:
    dom = browser.dump_dom(url, wait_ms=8000, user_agent=CHROME)
    log = re.search(r'<pre id="log">(.*?)</pre>', dom, re.S)
    assert log and log[1] != "pending", dom
    counted = re.search(r'<span id="count" data-hitcounter="">(.*?)</span>', dom)
    return json.loads(html.unescape(log[1])), counted[1] if counted else ""


def _hits(api: Server, path: str) -> int | None:
    status, _, body = http_json("GET", f"{api.url}/stats?path={quote(path, safe='')}")
    return int(body["total"]) if status == 200 else None


def test_each_single_page_app_view_is_counted_once(api_with: Callable[..., Server], host: Any) -> None:
    api = api_with(DEDUPE_SECONDS="0")  # every view the script sends is counted: its own rule shows
    steps = [[300, "/spa/a"], [600, "/spa/b"], [900, "/spa/b"], [1200, "back"], [1500, "back"]]
    url = host(api.url, json.dumps(steps))
    start = url.split("127.0.0.1")[1].split("/", 1)[1]
    log, shown = _run(url)
    # The first view, /spa/a, /spa/b; the same path again is no view; back to /spa/b (the same
    # path) is none either; back to /spa/a is one.
    assert log["sent"] == [f"/{start} keyed", "/spa/a keyed", "/spa/b keyed", "/spa/a keyed"], log
    assert log["errors"] == 0
    assert (_hits(api, f"/{start}"), _hits(api, "/spa/a"), _hits(api, "/spa/b")) == (1, 2, 1)
    assert shown == "2"  # /spa/a's count, filled in


def test_a_reload_is_a_view_the_reload_rule_counts_once(api_with: Callable[..., Server], host: Any) -> None:
    api = api_with()  # DEDUPE_SECONDS at its default
    url = host(api.url, json.dumps([[300, "reload"]]))
    log, shown = _run(url)
    path = "/" + url.split("/", 3)[3]
    assert log["sent"] == [f"{path} keyed"] and log["errors"] == 0  # the page after its reload
    assert _hits(api, path) == 1 and shown == "1" and DEDUPE_SECONDS > 0


def test_the_ignore_flag_sends_nothing(api_with: Callable[..., Server], host: Any) -> None:
    api = api_with()
    url = host(api.url, json.dumps([[300, "/spa/a"]]), 'localStorage.setItem("hitcounter:ignore", "1");')
    log, shown = _run(url)
    assert log == {"sent": [], "errors": 0} and shown == "none"
    assert http_json("GET", f"{api.url}/pages")[2]["pages"] == []


def test_a_429_leaves_the_page_alone(api_with: Callable[..., Server], host: Any) -> None:
    api = api_with(DEDUPE_SECONDS="0", RATE_LIMIT_PER_MINUTE="2")
    # The per-client limit is per page slot: the three views go to paths of the first view's
    # slot, so the first two count and the next two are refused.
    start = "/limited/index.html"
    slot = page_slot(page_of(start))
    same = [p for p in (f"/x/{n}" for n in range(5000)) if page_slot(page_of(p)) == slot][:3]
    url = host(api.url, json.dumps([[300 * (i + 1), p] for i, p in enumerate(same)]), name="limited")
    log, shown = _run(url)
    assert log["sent"] == [f"{p} keyed" for p in [start, *same]] and log["errors"] == 0, log
    assert [_hits(api, p) for p in [start, *same]] == [1, 1, None, None]  # refused: nothing stored
    assert shown == "1"  # the last count it was given; the refusals changed nothing


def test_the_script_is_small_cacheable_javascript(api_with: Callable[..., Server]) -> None:
    api = api_with()
    status, headers, body = http("GET", f"{api.url}/count.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "public, max-age=3600" and len(body.encode()) < 2048
