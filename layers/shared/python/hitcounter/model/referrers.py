"""Where a reader came from: the host of ``r`` (``document.referrer``, which ``count.js``
sends), kept per page and UTC day when it names another site than the page's own. Only a
host, never a path, a query or a whole URL (docs/privacy). Pure functions on plain values."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from hitcounter.model import owners

# Hosts kept per page and UTC day; past it the least-referred host of the day makes room and
# its hits join OTHER. A day's set of 50 hosts of at most 64 characters stays in Redis's
# compact encoding (a listpack: up to 128 members of up to 64 bytes, zset-max-listpack-*), at
# most 4.2 kB; PAGES_MAX pages times 35 days of them is what docs/limits-and-costs.md counts.
HOSTS_PER_DAY = 50
# The hits of hosts past a day's HOSTS_PER_DAY: a name no host can take (a host kept here has a
# dot: see _KEPT).
OTHER = "other"
MAX_REFERRER = 2048  # characters of r read at all: a browser's referrer is a URL, not a book
# The longest host kept: a listpack's member (a real site's name is far shorter; a longer one
# is dropped, as a made-up one would be).
MAX_HOST = 64

# A host as DNS spells it (an internationalised one in A-labels, xn--…) with at least one dot,
# or an IPv4 address: what a site on the web is named by. A bare name ("localhost", an
# intranet's "wiki") names nobody's site to its owner, and leaves OTHER free.
_KEPT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")


def host(value: str) -> str | None:
    """The normal form of the host a referrer URL names: lower-case, without ``www.``, a
    trailing dot or a port, an internationalised name as its A-labels (IDNA); None for anything
    else (not an http(s) URL, an IPv6 literal, a bare name, too long, not a host)."""
    if not value or len(value) > MAX_REFERRER or not value.isprintable():
        return None
    try:
        parts = urlsplit(value.strip())
        name = (parts.hostname or "").rstrip(".") if parts.scheme.lower() in ("http", "https") else ""
        if not name.isascii():
            name = name.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):  # not a URL; a name IDNA refuses
        return None
    name = name.lower().removeprefix("www.")
    # An IPv6 literal, a bare name or a name too long fails the pattern.
    return name if kept_host(name) else None


def kept_host(name: str) -> bool:
    """Whether ``name`` is a host in the normal form ``host`` gives (an export's check)."""
    return len(name) <= MAX_HOST and not name.startswith("www.") and _KEPT.fullmatch(name) is not None


def referrer(value: str | None, origin: str | None, referer: str | None, own: tuple[str, ...] = ()) -> str:
    """The referring host a page hit is kept under, or "" for none: ``value`` (the ``r``
    parameter) read as ``host`` does, unless it names the page's own site (the hit's
    ``Origin`` host, failing that its ``Referer`` host, or a site ``ALLOWED_ORIGINS`` names):
    a reader moving between a site's own pages came from nowhere else."""
    found = host(value or "")
    if found is None:
        return ""
    site = host(origin or "") if origin and origin != "null" else None
    if site is None and referer:
        site = host(referer)
    if found == site:
        return ""
    if own and (owners.allows(found, own) or owners.allows("www." + found, own)):
        return ""
    return found
