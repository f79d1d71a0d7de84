"""An SVG badge: a label and a number in one of shields.io's four styles (``flat``,
``flat-square``, ``plastic``, ``for-the-badge``), drawn here as shields' badge-maker draws
them (no font file, no request elsewhere). Each text's width is measured per character
(``badge_widths``: DejaVu Sans 11 px advances for ASCII and Latin-1; one em for wide East
Asian characters and emoji; nothing for combining marks; the font's mean for the rest) and
set as its ``textLength``, so the browser fits the text to the box it was measured for: it
never runs past it, in any script. Everything from the request (the label) is escaped; odd
options fall back to the defaults, since a badge must never break an ``<img>``."""

from __future__ import annotations

import unicodedata
from html import escape
from typing import NamedTuple

from hitcounter.web.badge_widths import MEAN, WIDTHS

MAX_LABEL = 32
DEFAULT_LABEL = "hits"
# Badges must never break an <img>: no cache keeps a count (GitHub's image proxy honours it).
HEADERS = {
    "Content-Type": "image/svg+xml; charset=utf-8",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "X-Content-Type-Options": "nosniff",
}
# A badge that counts nothing (``?count=false``): a shared cache (the edge's CloudFront) may
# serve it for SHOWN_SECONDS, so a flood of one badge reaches the function once in that time;
# a browser revalidates every time (max-age=0).
SHOWN_SECONDS = 5
SHOWN_HEADERS = HEADERS | {"Cache-Control": f"public, max-age=0, s-maxage={SHOWN_SECONDS}"}

STYLES = ("flat", "flat-square", "plastic", "for-the-badge")
# What the number is: all-time hits, today's (UTC), the unique visitors of the last 30 days.
METRICS = {"hits": "hits", "today": "today", "uniques": "visitors"}
# shields' named colours and their aliases (badge-maker/lib/color.js).
NAMED_COLORS = {
    "brightgreen": "#4c1", "green": "#97ca00", "yellow": "#dfb317", "yellowgreen": "#a4a61d",
    "orange": "#fe7d37", "red": "#e05d44", "blue": "#007ec6", "grey": "#555", "lightgrey": "#9f9f9f",
    "gray": "#555", "lightgray": "#9f9f9f", "critical": "#e05d44", "important": "#fe7d37",
    "success": "#4c1", "informational": "#007ec6", "inactive": "#9f9f9f",
}  # fmt: skip
DEFAULT_COLOR, DEFAULT_LABEL_COLOR, DASH_COLOR = "#0a58a8", "#555", "#9f9f9f"
_HEX = frozenset("0123456789abcdefABCDEF")
_EMOJI = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))


class Options(NamedTuple):
    style: str = "flat"
    color: str = DEFAULT_COLOR
    label_color: str = DEFAULT_LABEL_COLOR
    metric: str = "hits"
    abbreviate: bool = False


def color_of(raw: str | None, default: str) -> str:
    """A named colour of shields', or hex without ``#`` (3 or 6 digits); else ``default``."""
    text = (raw or "").strip().lower()
    if text in NAMED_COLORS:
        return NAMED_COLORS[text]
    if len(text) in (3, 6) and all(c in _HEX for c in text):
        return f"#{text}"
    return default


def options_of(query: dict[str, str]) -> Options:
    """The badge a request asks for (``style``, ``color``, ``labelColor``, ``metric``,
    ``abbreviate``), each read leniently."""
    style = (query.get("style") or "").strip().lower()
    metric = (query.get("metric") or "").strip().lower()
    return Options(
        style if style in STYLES else "flat",
        color_of(query.get("color"), DEFAULT_COLOR),
        color_of(query.get("labelColor"), DEFAULT_LABEL_COLOR),
        metric if metric in METRICS else "hits",
        (query.get("abbreviate") or "").strip().lower() in ("true", "1", "yes"),
    )


def label_of(raw: str | None, metric: str = "hits") -> str:
    """The label a request asks for: printable, at most 32 characters, or the metric's name."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable())[:MAX_LABEL].strip()
    return text or METRICS.get(metric, DEFAULT_LABEL)


def abbreviated(value: int) -> str:
    """1.2k, 34M: three figures at most, as counters' badges write them."""
    if value < 1000:
        return str(value)
    number, unit = float(value), 0
    while number >= 999.5 and unit < 6:
        number, unit = number / 1000, unit + 1
    text = f"{number:.1f}" if number < 9.95 else f"{number:.0f}"
    return f"{text.removesuffix('.0')}{' kMGTPE'[unit]}"


def _char_width(ch: str) -> float:
    if ch in WIDTHS:
        return WIDTHS[ch]
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0.0
    code = ord(ch)
    if any(low <= code <= high for low, high in _EMOJI):
        return 13.0  # colour emoji are a little wider than an em
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 11.0  # one em
    return MEAN


def text_width(text: str, size: float = 11, bold: bool = False) -> float:
    """The advance of ``text`` at ``size`` px (bold about a tenth wider)."""
    width = sum(_char_width(ch) for ch in text) * size / 11
    return width * 1.1 if bold else width


def _odd(value: float) -> int:
    """Rounded up to an odd whole number, as shields does (pixel grid alignment)."""
    whole = int(value)
    return whole if whole % 2 else whole + 1


def _text_color(background: str) -> tuple[str, str]:
    """White text with a dark shadow on a dark background, dark text on a light one
    (shields' brightness threshold, 0.69)."""
    hex_ = background.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    r, g, b = (int(hex_[i : i + 2], 16) for i in (0, 2, 4))
    bright = (r * 299 + g * 587 + b * 114) / 255_000
    return ("#fff", "#010101") if bright <= 0.69 else ("#333", "#ccc")


def render(label: str, value: int | None, options: Options | None = None) -> str:
    """The badge; ``value`` None draws a dash (the count could not be read or made)."""
    options = options or Options()
    shown = "–" if value is None else abbreviated(value) if options.abbreviate else f"{value:,}"
    color = DASH_COLOR if value is None else options.color
    if options.style == "for-the-badge":
        return _for_the_badge(label.upper(), shown.upper(), options.label_color, color)
    return _classic(options.style, label, shown, options.label_color, color)


def _svg(width: float, height: int, label: str, shown: str, body: str) -> str:
    said = escape(f"{label}: {shown}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height}" role="img" '
        f'aria-label="{said}"><title>{said}</title>{body}</svg>'
    )


def _classic(style: str, label: str, shown: str, label_color: str, color: str) -> str:
    """flat, flat-square and plastic: 11 px text, 5 px of padding each side."""
    height = 18 if style == "plastic" else 20
    shadow = style != "flat-square"
    label_w, shown_w = _odd(text_width(label)), _odd(text_width(shown))
    left, right = label_w + 10, shown_w + 10
    total = left + right
    texts = ""
    parts = ((left / 2, label_w, label, label_color), (left + right / 2, shown_w, shown, color))
    for x_mid, text_w, text, background in parts:
        fill, shade = _text_color(background)
        y = 140 if height == 20 else 130
        common = f'x="{x_mid * 10:g}" transform="scale(.1)" textLength="{text_w * 10}"'
        if shadow:
            texts += (
                f'<text aria-hidden="true" {common} y="{y + 10}" fill="{shade}" fill-opacity=".3">{escape(text)}</text>'
            )
        texts += f'<text {common} y="{y}" fill="{fill}">{escape(text)}</text>'
    if style == "flat-square":
        background = (
            f'<g shape-rendering="crispEdges"><rect width="{left}" height="{height}" fill="{label_color}"/>'
            f'<rect x="{left}" width="{right}" height="{height}" fill="{color}"/></g>'
        )
    else:
        stops = (
            '<stop offset="0" stop-color="#fff" stop-opacity=".7"/><stop offset=".1" stop-color="#aaa" '
            'stop-opacity=".1"/><stop offset=".9" stop-color="#000" stop-opacity=".3"/><stop offset="1" '
            'stop-color="#000" stop-opacity=".5"/>'
            if style == "plastic"
            else '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/>'
        )
        radius = 4 if style == "plastic" else 3
        background = (
            f'<linearGradient id="s" x2="0" y2="100%">{stops}</linearGradient>'
            f'<clipPath id="r"><rect width="{total}" height="{height}" rx="{radius}" fill="#fff"/></clipPath>'
            f'<g clip-path="url(#r)"><rect width="{left}" height="{height}" fill="{label_color}"/>'
            f'<rect x="{left}" width="{right}" height="{height}" fill="{color}"/>'
            f'<rect width="{total}" height="{height}" fill="url(#s)"/></g>'
        )
    body = (
        f'{background}<g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'text-rendering="geometricPrecision" font-size="110">{texts}</g>'
    )
    return _svg(total, height, label, shown, body)


def _for_the_badge(label: str, shown: str, label_color: str, color: str) -> str:
    """28 px high, capitals, 10 px text spaced 1.25 px, the number bold, 12 px margins."""
    label_w = text_width(label, 10) + 1.25 * len(label)
    shown_w = text_width(shown, 10, bold=True) + 1.25 * len(shown)
    left, right = label_w + 24, shown_w + 24
    label_fill, _ = _text_color(label_color)
    shown_fill, _ = _text_color(color)
    body = (
        f'<g shape-rendering="crispEdges"><rect width="{left:g}" height="28" fill="{label_color}"/>'
        f'<rect x="{left:g}" width="{right:g}" height="28" fill="{color}"/></g>'
        '<g text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="100">'
        f'<text transform="scale(.1)" x="{(12 + label_w / 2) * 10:g}" y="175" textLength="{label_w * 10:g}" '
        f'fill="{label_fill}">{escape(label)}</text>'
        f'<text transform="scale(.1)" x="{(left + 12 + shown_w / 2) * 10:g}" y="175" '
        f'textLength="{shown_w * 10:g}" fill="{shown_fill}" font-weight="bold">{escape(shown)}</text></g>'
    )
    return _svg(left + right, 28, label, shown, body)
