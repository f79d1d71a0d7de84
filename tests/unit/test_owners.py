"""The owner's rules (``hitcounter.model.owners``): which hosts count, which addresses never
do, and the settings' forms, each refused clearly when it is not one."""

from __future__ import annotations

import pytest

from hitcounter.core.errors import ConfigError
from hitcounter.model import owners

RULES = owners.OwnerRules(
    owners.parse_hosts("example.org, *.blog.example , https://shop.example:8443"),
    owners.parse_networks("203.0.113.0/24,2001:db8:ff::/48, 198.51.100.7"),
)


@pytest.mark.parametrize(
    ("source", "origin", "referer", "expected"),
    [
        ("192.0.2.1", "https://example.org", None, None),
        ("192.0.2.1", "https://a.blog.example", None, None),
        ("192.0.2.1", "https://blog.example", None, owners.FOREIGN_ORIGIN),  # *. means subdomains
        ("192.0.2.1", "https://shop.example", None, None),  # a port names the same host
        ("192.0.2.1", "https://evil.example", None, owners.FOREIGN_ORIGIN),
        ("192.0.2.1", "https://example.org.evil.example", None, owners.FOREIGN_ORIGIN),
        ("192.0.2.1", None, "https://evil.example/post?x=1", owners.FOREIGN_ORIGIN),  # Referer when no Origin
        ("192.0.2.1", "https://example.org", "https://evil.example/", None),  # Origin wins
        ("192.0.2.1", None, None, None),  # an image proxy, a direct call
        ("192.0.2.1", "null", None, None),  # a sandboxed frame names no site
        ("203.0.113.9", "https://example.org", None, owners.EXCLUDED),
        ("198.51.100.7", None, None, owners.EXCLUDED),
        ("2001:db8:ff:1::5", None, None, owners.EXCLUDED),
        ("2001:db8:fe::5", None, None, None),
        ("not-an-address", None, None, None),
    ],
)
def test_reason(source: str, origin: str | None, referer: str | None, expected: str | None) -> None:
    assert owners.reason(RULES, source, origin, referer) == expected


def test_no_rules_refuse_nothing() -> None:
    assert owners.reason(owners.OwnerRules(), "203.0.113.9", "https://evil.example", None) is None


@pytest.mark.parametrize("raw", ["exa mple.org", "*.", "http://", "a*b.org"])
def test_a_bad_host_is_a_clear_configuration_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        owners.parse_hosts(raw)


@pytest.mark.parametrize("raw", ["203.0.113.0/33", "nope", "::1/200"])
def test_a_bad_range_is_a_clear_configuration_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="EXCLUDE_CIDRS"):
        owners.parse_networks(raw)


def test_the_lists_are_bounded() -> None:
    with pytest.raises(ConfigError, match="more than 100"):
        owners.parse_networks(",".join(f"10.0.{i}.0/24" for i in range(101)))
