"""Hit history: minute, hour and day buckets and daily unique visitors, kept in Redis with
time expiry (factor VI: no process keeps any of it).

Everything here is arithmetic on the request's own time (API Gateway's
``requestContext.timeEpoch``, in milliseconds, UTC), so the answer for an event is the same
whichever process handles it, and a test can choose its instants. The Redis side is in
``hitcounter.store`` (the only code that sends commands).

Visitors: ``visitor_key`` hashes source IP and User-Agent (SHA-256) in the function; Redis
only ever sees that digest, and salts it again with a random salt of the day that lives in
Redis for 48 h (created by the first hit of the day). After the salt expires, nobody (us
included) can link a day's HyperLogLog back to an address. IP and User-Agent are never
stored or logged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE_TTL = 48 * 3600  # seconds after a bucket's last write
HOUR_TTL = 35 * 86400
DAY_TTL = 400 * 86400
SALT_TTL = 48 * 3600


@dataclass(frozen=True, slots=True)
class Visit:
    """When a hit happened (epoch ms, the request's own time) and who made it (the
    ``visitor_key`` digest; "" when the request says nothing of either)."""

    at_ms: int
    visitor: str = ""


def visitor_key(source_ip: str, user_agent: str) -> str:
    """The unsalted digest of a visitor: what leaves the function instead of the IP and UA."""
    raw = f"{source_ip}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


def _utc(at_ms: int) -> datetime:
    return datetime.fromtimestamp(at_ms / 1000, UTC)


def minute_id(at_ms: int) -> str:
    return _utc(at_ms).strftime("%Y%m%d%H%M")


def hour_id(at_ms: int) -> str:
    return _utc(at_ms).strftime("%Y%m%d%H")


def day_id(at_ms: int) -> str:
    return _utc(at_ms).strftime("%Y%m%d")


@dataclass(frozen=True, slots=True)
class Period:
    """What ``GET /stats?period=`` offers: a number of buckets of one unit, ending now."""

    name: str
    unit: str  # "minute", "hour" or "day"
    buckets: int


PERIODS = {
    p.name: p
    for p in (Period("1h", "minute", 60), Period("48h", "hour", 48), Period("30d", "day", 30), Period("1y", "day", 365))
}
DEFAULT_PERIOD = "30d"


def bucket_starts(period: Period, now_ms: int) -> list[datetime]:
    """The start of each bucket of the period, oldest first, the current one last."""
    now = _utc(now_ms)
    if period.unit == "minute":
        last = now.replace(second=0, microsecond=0)
        step = timedelta(minutes=1)
    elif period.unit == "hour":
        last = now.replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
    else:
        last = now.replace(hour=0, minute=0, second=0, microsecond=0)
        step = timedelta(days=1)
    return [last - step * i for i in range(period.buckets - 1, -1, -1)]


_ID_FORMATS = {"minute": "%Y%m%d%H%M", "hour": "%Y%m%d%H", "day": "%Y%m%d"}


def bucket_id(unit: str, start: datetime) -> str:
    return start.strftime(_ID_FORMATS[unit])


def days_of(period: Period, now_ms: int) -> list[str]:
    """The day ids the period touches (for its unique visitors), oldest first."""
    starts = bucket_starts(period, now_ms)
    return sorted({s.strftime("%Y%m%d") for s in starts})
