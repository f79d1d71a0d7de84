"""What a site's owner says counts (docs/operating.md): only hits from their own sites
(``ALLOWED_ORIGINS``), and none from their own addresses (``EXCLUDE_CIDRS``). A page hit
either rule refuses counts nothing and is tallied apart, with the bots, under its reason.
Pure functions on plain values."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from hitcounter.core.errors import ConfigError
from hitcounter.model.bots import EXCLUDED, FOREIGN_ORIGIN

__all__ = [
    "EXCLUDED",
    "FOREIGN_ORIGIN",
    "OwnerRules",
    "allows",
    "parse_allow",
    "parse_hosts",
    "parse_networks",
    "reason",
]

MAX_ENTRIES = 100  # hosts or ranges a setting may name: what a check may cost, bounded
# A host name as DNS spells it (an internationalised one as its A-labels, xn--…), or an IPv4 address.
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OwnerRules(NamedTuple):
    """``hosts``: the sites whose pages may count (exact host names, or ``*.example.org`` for
    any subdomain of it); empty: any. ``networks``: the addresses whose hits never count.
    ``listed``: PAGES_CREATE=listed, a page exists only once an operator seeds it or
    ``allow`` names it (id globs, and path prefixes starting with ``/``)."""

    hosts: tuple[str, ...] = ()
    networks: tuple[Network, ...] = ()
    listed: bool = False
    allow: tuple[str, ...] = ()

    def may_create(self, page: str, path: str = "") -> bool:
        """Whether a first hit may make this page (always, unless PAGES_CREATE=listed)."""
        if not self.listed:
            return True
        if path:
            return any(path.startswith(rule) for rule in self.allow if rule.startswith("/"))
        return any(fnmatch.fnmatchcase(page, rule) for rule in self.allow if not rule.startswith("/"))


def parse_hosts(raw: str) -> tuple[str, ...]:
    """``ALLOWED_ORIGINS``: host names, comma-separated (a scheme or port, if given, is
    dropped); ``*.`` before one allows its subdomains."""
    hosts = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        wildcard = item.startswith("*.")
        host = _host(item[2:] if wildcard else item) or ""
        if not host or not _HOST.fullmatch(host):
            raise ConfigError(f"ALLOWED_ORIGINS: {item!r} is not a host name (such as example.org or *.example.org)")
        hosts.append(f"*.{host}" if wildcard else host)
    if len(hosts) > MAX_ENTRIES:
        raise ConfigError(f"ALLOWED_ORIGINS names more than {MAX_ENTRIES} hosts")
    return tuple(hosts)


def parse_allow(raw: str) -> tuple[str, ...]:
    """``PAGES_ALLOW``: path prefixes (``/blog/``) and id globs (``post-*``), comma-separated."""
    rules = tuple(part.strip() for part in raw.split(",") if part.strip())
    if len(rules) > MAX_ENTRIES or any(len(rule) > 256 or not rule.isprintable() for rule in rules):
        raise ConfigError(f"PAGES_ALLOW: at most {MAX_ENTRIES} path prefixes or id globs, each printable")
    return rules


def parse_networks(raw: str) -> tuple[Network, ...]:
    """``EXCLUDE_CIDRS``: IPv4 and IPv6 ranges (or single addresses), comma-separated."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"EXCLUDE_CIDRS: {item!r} is not an address range (such as 203.0.113.0/24)") from None
    if len(networks) > MAX_ENTRIES:
        raise ConfigError(f"EXCLUDE_CIDRS names more than {MAX_ENTRIES} ranges")
    return tuple(networks)


def _host(value: str) -> str | None:
    """The host of a URL or of a bare host name (lower-case), None when there is none."""
    text = value.strip()
    if not text or text == "null":  # Origin: null (a sandboxed frame, a file) names no site
        return None
    try:
        parts = urlsplit(text if "//" in text else f"//{text}")
        host = parts.hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def allows(host: str, hosts: tuple[str, ...]) -> bool:
    """Whether ``hosts`` (``ALLOWED_ORIGINS``' form) names ``host``."""
    for pattern in hosts:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def reason(rules: OwnerRules, source_ip: str, origin: str | None, referer: str | None) -> str | None:
    """Why the owner's rules refuse this page hit (``excluded``, ``foreign_origin``), or None.
    The site is the ``Origin``'s host, failing that the ``Referer``'s; a request naming
    neither (an image proxy, a direct call) is not refused by ``ALLOWED_ORIGINS``."""
    if rules.networks and source_ip:
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            address = None
        if address is not None and any(address in network for network in rules.networks):
            return EXCLUDED
    if rules.hosts:
        site = _host(origin or "") or _host(referer or "")
        if site is not None and not allows(site, rules.hosts):
            return FOREIGN_ORIGIN
    return None
