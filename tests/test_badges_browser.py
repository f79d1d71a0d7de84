"""Badges in a real browser: every style and metric, with labels in Latin, wide capitals,
CJK, Japanese and emoji, drawn by the local API and laid out by headless Chromium; each text
must sit inside its own box (the badge sets ``textLength`` from its own measure), and that
measure must be near what the browser would draw unconstrained."""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devtools import browser
from localapi import template as sam_template
from localapi.server import LocalApi, Server
from tests.support.http import http, person

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        browser.find() is None,
        reason="chromium is not installed and could not be installed here (make setup-browser installs it)",
    ),
]

LABELS = ["hits", "W" * 16, "visitors", "訪問者数", "ページビュー", "🔥 views", "Ünïcödé ßtraße"]
STYLES = ["flat", "flat-square", "plastic", "for-the-badge"]
METRICS = ["hits", "today", "uniques"]

# For each badge: each text (its shadow aside) against the box its x falls in, and the width
# the browser gives the same text without textLength.
MEASURE = """<script>
var out = [];
document.querySelectorAll("svg").forEach(function (svg, i) {
  var rects = Array.from(svg.querySelectorAll("rect[fill^='#']"));
  svg.querySelectorAll("text:not([aria-hidden])").forEach(function (t) {
    var box = t.getBBox(), scale = 0.1, left = box.x * scale, right = (box.x + box.width) * scale;
    var mid = parseFloat(t.getAttribute("x")) * scale;
    var rect = rects.find(function (r) {
      var x = parseFloat(r.getAttribute("x") || "0"); return mid >= x && mid <= x + parseFloat(r.getAttribute("width"));
    });
    var free = t.cloneNode(true); free.removeAttribute("textLength"); t.parentNode.appendChild(free);
    var natural = free.getComputedTextLength() * scale; free.remove();
    out.push({badge: svg.getAttribute("data-name"), text: t.textContent, left: left, right: right,
              box: [parseFloat(rect.getAttribute("x") || "0"), parseFloat(rect.getAttribute("x") || "0")
                    + parseFloat(rect.getAttribute("width"))],
              set: parseFloat(t.getAttribute("textLength")) * scale, natural: natural});
  });
});
document.getElementById("out").textContent = JSON.stringify(out);
</script>"""


@pytest.fixture
def api(template: sam_template.Template, redis_url: str) -> Iterator[Server]:
    server = Server(LocalApi(template, {"Parameters": {"REDIS_URL": redis_url}})).start()
    yield server
    server.stop()


def test_every_style_and_metric_keeps_each_text_inside_its_box(api: Server, tmp_path: Path) -> None:
    for i in range(3):  # a page with hits today and a few visitors
        http("GET", f"{api.url}/pages/readme", person(i))
    svgs = []
    for style in STYLES:
        for metric in METRICS:
            for label in LABELS:
                query = f"style={style}&metric={metric}&label={quote(label)}&count=false&abbreviate=true"
                status, headers, body = http("GET", f"{api.url}/pages/readme/badge.svg?{query}")
                assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
                svgs.append(body.replace("<svg ", f'<svg data-name="{style} {metric} {html.escape(label)}" ', 1))
    page = tmp_path / "badges.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><body>{''.join(svgs)}<pre id=out></pre>{MEASURE}</body>")
    dom = browser.dump_dom(page.as_uri(), wait_ms=500)
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found[1], dom[-2000:]
    texts: list[dict[str, Any]] = json.loads(html.unescape(found[1]))
    assert len(texts) == 2 * len(svgs)
    outside = [t for t in texts if t["left"] < t["box"][0] - 0.5 or t["right"] > t["box"][1] + 0.5]
    assert outside == []
    # The measure is near what the browser draws: within a third either way, where the
    # machine has the script's font (make setup-browser installs Noto CJK; without it a
    # missing glyph's box is the browser's guess, not a width to compare with).
    cjk = bool(subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True, check=False).stdout.strip())
    compared = [t for t in texts if cjk or t["text"].isascii() or "Ü" in t["text"]]
    off = [t for t in compared if not 0.67 <= t["set"] / max(t["natural"], 0.1) <= 1.5]
    assert len(off) <= len(compared) // 10, [(t["text"], t["set"], t["natural"]) for t in off[:8]]
    values = {t["text"] for t in texts if t["text"][:1].isdigit()}
    assert values >= {"3", "1"} or values >= {"3"}, values  # hits and today 3; uniques per visitor
