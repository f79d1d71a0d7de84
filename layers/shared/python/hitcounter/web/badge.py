"""An SVG badge: a label and a number, shields.io's flat style, drawn here (no font file, no
request elsewhere). Text widths are estimated from Verdana 11px's average advance, as shields'
own fallback does; everything from the request (the label) is escaped."""

from __future__ import annotations

from html import escape

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
_CHAR_PX = 6.6  # Verdana 11px, average advance
_PAD = 10


def _width(text: str) -> int:
    return int(len(text) * _CHAR_PX + _PAD)


def label_of(raw: str | None) -> str:
    """The label a request asks for: printable, at most 32 characters, or ``hits``."""
    text = "".join(ch for ch in (raw or "") if ch.isprintable())[:MAX_LABEL].strip()
    return text or DEFAULT_LABEL


def render(label: str, value: int | None) -> str:
    """The badge; ``value`` None draws a dash (the count could not be read or made)."""
    shown = "–" if value is None else f"{value:,}"
    left, right = _width(label), _width(shown)
    total = left + right
    text_label, text_value = escape(label), escape(shown)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{text_label}: {text_value}"><title>{text_label}: {text_value}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{"#9f9f9f" if value is None else "#0a58a8"}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{text_label}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{text_value}</text></g></svg>'
    )
