"""Where a reader came from, as a host (``hitcounter.model.referrers``): the normal form a
referring site is kept under, and the rule that a site's own pages are not its referrers."""

from __future__ import annotations

import pytest

from hitcounter.model import referrers
from hitcounter.model.owners import parse_hosts


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com"),
        ("https://WWW.Example.ORG:8443/a/b?q=secret#frag", "example.org"),
        ("http://example.org./", "example.org"),
        ("https://www.bücher.de/", "xn--bcher-kva.de"),
        ("https://xn--bcher-kva.de/", "xn--bcher-kva.de"),
        ("https://203.0.113.9/path", "203.0.113.9"),
        ("https://user:pw@lobste.rs/s/x", "lobste.rs"),
    ],
)
def test_a_referrer_is_kept_as_its_host_alone(value: str, host: str) -> None:
    assert referrers.host(value) == host


@pytest.mark.parametrize(
    "value",
    [
        "",
        "android-app://com.google.android.gm/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://[2001:db8::1]/",
        "https://localhost/",
        "https://intranet/",
        "https://other/",
        "https://a..b/",
        "https://-bad-.example/",
        "https://exa mple.org/",
        "https://example.org/" + "a" * 3000,
        "https://" + "a" * 64 + ".example/",
        "https://" + "a.b" * 22 + ".example/",
        "https://ex\x00ample.org/",
        "https://\u202eevil.org/",
        "not a url",
        "https://",
        "https:///path",
    ],
)
def test_anything_but_a_web_host_is_dropped(value: str) -> None:
    assert referrers.host(value) is None


def test_other_can_never_be_a_host() -> None:
    assert not referrers.kept_host(referrers.OTHER)
    assert referrers.kept_host("example.org") and not referrers.kept_host("www.example.org")


def test_a_site_is_not_its_own_referrer() -> None:
    page_origin = "https://blog.example.org"
    assert referrers.referrer("https://blog.example.org/older-post/", page_origin, None) == ""
    assert referrers.referrer("https://www.blog.example.org/", page_origin, None) == ""
    assert referrers.referrer("https://news.ycombinator.com/", page_origin, None) == "news.ycombinator.com"
    # No Origin (a same-origin request): the Referer's host is the site.
    assert referrers.referrer("https://blog.example.org/", None, "https://blog.example.org/post/") == ""
    # ALLOWED_ORIGINS names the owner's other sites: moving between them is not a referral.
    own = parse_hosts("example.org, *.example.net")
    assert referrers.referrer("https://www.example.org/", page_origin, None, own) == ""
    assert referrers.referrer("https://docs.example.net/", page_origin, None, own) == ""
    assert referrers.referrer("https://example.com/", page_origin, None, own) == "example.com"
    # An Origin of "null" (a sandboxed frame) names no site.
    assert referrers.referrer("https://example.com/", "null", None) == "example.com"
    assert referrers.referrer(None, page_origin, None) == ""
