"""The normal form of a page's path (``hitcounter.model.paths``): each rule by example, and
for any text at all, an answer that is its own normal form, printable ASCII, and bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcounter.model.keys import stored_page, valid_page
from hitcounter.model.paths import MAX_PATH_BYTES, normalize, page_of


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/2024/05/hello-world/", "/2024/05/hello-world/"),
        ("/a?x=1#top", "/a"),
        ("/a#x?y", "/a"),
        ("/%7euser/%41%2d", "/~user/A-"),  # unreserved escapes decoded
        ("/x%2fy%3a", "/x%2Fy%3A"),  # others kept, hex upper-case: %2F is not a segment break
        ("/caf\u00e9/", "/caf%C3%A9/"),  # as location.pathname spells it
        ("/a b/<c>", "/a%20b/%3Cc%3E"),
        ("/100%", "/100%25"),
        ("/a/./b/../c/", "/a/c/"),
        ("/a/b/..", "/a/"),
        ("/..", "/"),
        ("//a///b", "/a/b"),
        ("/", "/"),
    ],
)
def test_each_rule(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


@pytest.mark.parametrize(
    "raw", ["", "a/b", "http://x/y", "/%FF", "/%C3", "/a%00", "/a\tb", "/a\u0085", "/\u202e", "/%E2%80%8B", "/\ud800"]
)
def test_what_names_no_page(raw: str) -> None:
    assert normalize(raw) is None


def test_the_bound_is_on_the_normal_form() -> None:
    assert normalize("/" + "a" * (MAX_PATH_BYTES - 1)) is not None
    assert normalize("/" + "a" * MAX_PATH_BYTES) is None
    assert normalize("/" + "\u00e9" * 60) is None  # 360 bytes once encoded
    assert normalize("/" + "./" * 3000) is None  # "/" once resolved, but too long to read at all


@given(st.text(max_size=300))
def test_any_text_normalises_to_a_fixed_point_or_nothing(raw: str) -> None:
    normal = normalize("/" + raw)
    if normal is not None:
        assert normalize(normal) == normal
        assert normal.startswith("/") and normal.isascii() and normal.isprintable()
        assert len(normal) <= MAX_PATH_BYTES


def test_a_path_page_is_stored_under_a_name_no_id_can_take() -> None:
    page = page_of("/a/")
    assert stored_page(page) and not valid_page(page) and page != page_of("/a")
