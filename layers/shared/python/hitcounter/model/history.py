"""Hit history: minute, hour and day buckets and daily unique visitors, kept in Redis with
time expiry (factor VI: no process keeps any of it).

Everything here is arithmetic on the request's own time (API Gateway's
``requestContext.timeEpoch``, in milliseconds, UTC), so the answer for an event is the same
whichever process handles it, and a test can choose its instants. The Redis side is in
``hitcounter.data`` (the only code that sends commands).

Visitors: ``visitor_key`` hashes source IP and User-Agent (SHA-256) in the function; Redis
only ever sees that digest, and salts it again with a random salt of the day that lives in
Redis for 48 h (created by the first hit of the day). After the salt expires, nobody (us
included) can link a day's HyperLogLog back to an address. IP and User-Agent are never
stored or logged.
"""

from __future__ import annotations

import hashlib
import socket
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

MINUTE_TTL = 48 * 3600  # seconds after a bucket's last write
HOUR_TTL = 35 * 86400
DAY_TTL = 400 * 86400
SALT_TTL = 48 * 3600


class Visit(NamedTuple):
    """When a hit happened (epoch ms, the request's own time) and who made it (the
    ``visitor_key`` digest; "" when the request says nothing of either, or asks not to be
    tracked), and, for the page routes' per-client limit, the ``client_key`` digest of its
    source IP ("" for none). ``track`` False (DNT/GPC): the visitor's digest serves only the
    reload window (kept for that window, salted), never the unique visitors."""

    at_ms: int
    visitor: str = ""
    client: str = ""
    track: bool = True
    # An image proxy fetching for one reader (``hitcounter.model.bots.is_proxy``): counted
    # without the reload rule, the per-client limit or a visitor, up to a cap per page.
    proxy: bool = False


def client_key(source_ip: str) -> str:
    """The unsalted digest of a client, for the per-client limit only: Redis keeps it salted
    with the day's salt, for two minutes at most, never raw. An IPv4 client is its address;
    an IPv6 client is its /64, the block one subscriber gets: rotating addresses within it
    (2^64 of them) must not make one client many."""
    return hashlib.sha256(f"ip\n{client_network(source_ip)}".encode("utf-8", "surrogatepass")).hexdigest()


def client_network(source_ip: str) -> str:
    """``source_ip`` as the per-client limit counts it: an IPv6 address as its /64."""
    if ":" not in source_ip:
        return source_ip
    # The C parser: 0.2 µs, where an ipaddress object took 3.7 (a scope id, "%eth0", names
    # no other network: left out, as ipaddress's packed form leaves it).
    try:
        return socket.inet_pton(socket.AF_INET6, source_ip.partition("%")[0])[:8].hex() + "/64"
    except OSError:
        return source_ip  # not an address API Gateway would send: counted as it is


def visitor_key(source_ip: str, user_agent: str) -> str:
    """The unsalted digest of a visitor: what leaves the function instead of the IP and UA."""
    raw = f"{source_ip}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


class Unit(NamedTuple):
    """One kind of bucket: its key prefix, its length, how long it is kept after its last
    write, and how its id is written (UTC)."""

    prefix: str
    seconds: int
    ttl: int
    id_format: str


UNITS = {
    "minute": Unit("m", 60, MINUTE_TTL, "%Y%m%d%H%M"),
    "hour": Unit("h", 3600, HOUR_TTL, "%Y%m%d%H"),
    "day": Unit("d", 86400, DAY_TTL, "%Y%m%d"),
}
_BY_PREFIX = {unit.prefix: unit for unit in UNITS.values()}


def _utc(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def minute_id(at_ms: int) -> str:
    return _utc(at_ms).strftime(UNITS["minute"].id_format)


@lru_cache(maxsize=4)
def minute_ids(minute: int) -> tuple[str, str, str]:
    """The minute, hour and day ids of epoch minute ``minute`` (``at_ms // 60_000``): every
    hit of a minute names the same three, so they are formatted once a minute."""
    at_ms = minute * 60_000
    return minute_id(at_ms), hour_id(at_ms), day_id(at_ms)


def hour_id(at_ms: int) -> str:
    return _utc(at_ms).strftime(UNITS["hour"].id_format)


def day_iso(at_ms: int) -> str:
    """The UTC day of ``at_ms`` as ISO 8601 (``2026-12-07``)."""
    return _utc(at_ms).date().isoformat()


def day_id(at_ms: int) -> str:
    return _utc(at_ms).strftime(UNITS["day"].id_format)


def bucket_ttl(name: str, now_ms: int, retention: int | None = None) -> int:
    """The TTL a bucket written now gets (``m:…``, ``h:…``, ``d:…``): its retention (the
    site's unit's, or ``retention`` seconds: a page's) counted from the bucket's end, as a live
    hit at the end of the bucket would have left it; at least 1 s."""
    prefix, ident = name.split(":", 1)
    unit = _BY_PREFIX[prefix]
    start = datetime.strptime(ident, unit.id_format).replace(tzinfo=UTC).timestamp()
    kept = unit.ttl if retention is None else retention
    return max(1, int(start + unit.seconds + kept - now_ms / 1000))


class Period(NamedTuple):
    """What ``GET /stats?period=`` offers: a number of buckets of one unit, ending now."""

    name: str
    unit: str  # "minute", "hour" or "day"
    buckets: int


PERIODS = {
    p.name: p
    for p in (Period("1h", "minute", 60), Period("48h", "hour", 48), Period("30d", "day", 30), Period("1y", "day", 365))
}
DEFAULT_PERIOD = "30d"
DAY_PERIODS = tuple(p.name for p in PERIODS.values() if p.unit == "day")
# A period's union of closed days (hitcounter.data.hit_store) is named by the day it was made for and
# read only that day; it is kept a little past it, then expires.
UNION_TTL = 2 * 86400


def bucket_starts(period: Period, now_ms: int) -> list[datetime]:
    """The start of each bucket of the period, oldest first, the current one last (UTC has
    no leap seconds in epoch time, so every bucket starts on a multiple of its length)."""
    step = UNITS[period.unit].seconds
    last = (now_ms // 1000) // step * step
    return [datetime.fromtimestamp(last - step * i, UTC) for i in range(period.buckets - 1, -1, -1)]


def bucket_id(unit: str, start: datetime) -> str:
    return start.strftime(UNITS[unit].id_format)


def days_of(period: Period, now_ms: int) -> list[str]:
    """The day ids the period touches (for its unique visitors), oldest first."""
    starts = bucket_starts(period, now_ms)
    return sorted({bucket_id("day", s) for s in starts})


@lru_cache(maxsize=4)
def top_spans(minute: int) -> tuple[tuple[str, str], ...]:
    """The day spans (first day, today) of the periods that touch more than one day at epoch
    minute ``minute``, each once: what the top pages' running unions of today are named by,
    so the page hit and the read name the same ones."""
    now_ms = minute * 60_000
    spans = {(days[0], days[-1]) for days in (days_of(p, now_ms) for p in PERIODS.values()) if len(days) > 1}
    return tuple(sorted(spans))


# A page's history is the site's, kept shorter where it would grow with the number of pages
# (docs/pages.md): minute buckets long enough for the 1h period, hour buckets for the 48h,
# daily unique visitors 35 days (the 30d period); day buckets and counts as long as the site's.
PAGE_TTLS = {"minute": 2 * 3600 + 120, "hour": 49 * 3600, "day": DAY_TTL, "uniques": 35 * 86400}
