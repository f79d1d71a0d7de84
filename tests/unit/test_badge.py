"""The badge's options and measure (``hitcounter.web.badge``): each option read leniently,
numbers abbreviated as counters write them, every style a well-formed SVG whose boxes are the
texts' measured widths plus their padding."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hitcounter.web import badge

SVG = "{http://www.w3.org/2000/svg}"


def test_options_are_read_leniently() -> None:
    assert badge.options_of({}) == badge.Options()
    chosen = badge.options_of(
        {"style": "For-The-Badge", "color": "ff0000", "labelColor": "blue", "metric": "today", "abbreviate": "true"}
    )
    assert chosen == badge.Options("for-the-badge", "#ff0000", "#007ec6", "today", True)
    odd = badge.options_of(
        {"style": "<x>", "color": "#12", "labelColor": "url(evil)", "metric": "x", "abbreviate": "?"}
    )
    assert odd == badge.Options()


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (999, "999"), (1000, "1k"), (1234, "1.2k"), (9_950, "10k"), (12_345, "12k"), (999_499, "999k"),
     (999_500, "1M"), (34_000_000, "34M"), (2**53, "9P")],
)  # fmt: skip
def test_abbreviated(value: int, shown: str) -> None:
    assert badge.abbreviated(value) == shown


def test_the_label_defaults_to_the_metrics_name() -> None:
    assert [badge.label_of(None, m) for m in ("hits", "today", "uniques")] == ["hits", "today", "visitors"]
    assert badge.label_of("\x00ok\u202e" + "x" * 40) == "ok" + "x" * 30


def test_widths_by_class() -> None:
    assert badge.text_width("W") > badge.text_width("i") > 0
    assert badge.text_width("訪") == 11.0 and badge.text_width("🔥") == 13.0
    assert badge.text_width("e\u0301") == badge.text_width("e")  # a combining mark takes no room


@pytest.mark.parametrize("style", badge.STYLES)
@pytest.mark.parametrize("label", ["hits", "W" * 32, "訪問者数", "🔥 views", "<&>"])
def test_each_style_is_an_svg_whose_boxes_hold_their_texts(style: str, label: str) -> None:
    svg = badge.render(label, 1_234_567, badge.options_of({"style": style, "color": "eeeeee"}))
    root = ET.fromstring(svg)
    width = float(root.attrib["width"])
    rects = [r for r in root.iter(f"{SVG}rect") if r.attrib.get("fill", "").startswith("#") and "x" in r.attrib]
    texts = [t for t in root.iter(f"{SVG}text") if "aria-hidden" not in t.attrib]
    assert len(texts) == 2 and rects
    label_text, number_text = texts
    assert label_text.text == (label.upper() if style == "for-the-badge" else label)
    assert number_text.text == "1,234,567"
    number_box = rects[-1]
    box_left, box_width = float(number_box.attrib["x"]), float(number_box.attrib["width"])
    assert abs(box_left + box_width - width) < 0.01
    length = float(number_text.attrib["textLength"]) / 10
    middle = float(number_text.attrib["x"]) / 10
    assert box_left <= middle - length / 2 and middle + length / 2 <= box_left + box_width  # inside, padded
    assert number_box.attrib["fill"] == "#eeeeee" and number_text.attrib["fill"] == "#333"  # dark on light


def test_a_dash_for_no_value_in_grey() -> None:
    svg = badge.render("hits", None)
    assert ">–<" in svg and badge.DASH_COLOR in svg
