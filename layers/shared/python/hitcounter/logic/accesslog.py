"""Streaming parser for web-server access logs (Common and Combined Log Format).

Bounded whatever the input: it reads line by line, never holding more than ``max_line``
bytes of one line (a longer line is malformed, skipped in chunks), keeps at most
``MAX_TRACKED_PATHS`` distinct paths of at most ``MAX_PATH_CHARS`` characters each, stops at
``max_decompressed`` bytes (gzip lets 1 MB become 1 GB), and asks ``remaining_ms`` how much
time is left, stopping before the function would be killed. Plain or gzip (several members
too), told apart by the magic bytes, not the name. Counts the requests the hit counter would
have counted: method GET, path ``/`` (query string ignored), status 2xx.
"""

from __future__ import annotations

import calendar
import functools
import gzip
import hashlib
import io
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hitcounter.core.errors import AppError, Unprocessable
from hitcounter.model import history as hist
from hitcounter.model import keyspace

_GZIP_MAGIC = b"\x1f\x8b"
# host ident user [time] "METHOD target PROTOCOL" status size ["referer" "agent"]
_LINE = re.compile(
    rb'^(?P<host>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/\d(?:\.\d)?)?" '
    rb'(?P<status>\d{3}) (?:\d+|-)(?: "[^"]*" "(?P<agent>[^"]*)")?\s*$'
)
_MONTHS = {m.encode(): i for i, m in enumerate(calendar.month_abbr) if m}
TOP_PATHS = 10
MAX_PATH_CHARS = 256  # a longer path is kept in the statistics truncated, marked with "…"
# Distinct paths tracked before the rarest are dropped: keeps memory constant on logs with
# millions of unique paths, at the price of approximate counts beyond the heavy hitters.
MAX_TRACKED_PATHS = 10_000
_SKIP_CHUNK = 64 * 1024
_CHECK_TIME_EVERY = 4096  # lines
_BINARY_SHARE = 0.1  # of the first 8 KiB: control bytes or invalid UTF-8 beyond this is binary


class ImportRefused(AppError):
    """The log cannot be imported within its bounds; nothing was counted."""

    status = 422
    code = "import_refused"


class TooLarge(ImportRefused):
    code = "too_large"


class OutOfTime(ImportRefused):
    code = "out_of_time"
    message = "the import would not finish before the function's timeout; nothing was counted"


@dataclass
class LogSummary:
    lines: int = 0
    counted: int = 0
    malformed: int = 0
    long_lines: int = 0
    bytes: int = 0  # of the object as stored
    decompressed_bytes: int = 0
    sha256: str = ""
    paths: Counter[str] = field(default_factory=Counter)
    # The hit history of the counted lines (History.now_ms set): bucket name (m:…, h:…, d:…)
    # → hits, only for buckets still within their retention; lines whose time cannot be read.
    buckets: Counter[str] = field(default_factory=Counter)
    untimed: int = 0

    def top_paths(self) -> list[dict[str, object]]:
        return [{"path": p, "requests": n} for p, n in self.paths.most_common(TOP_PATHS)]


@dataclass(frozen=True)
class History:
    """What the history needs from a parse: the import's own time (retention is measured
    from it) and where each counted line's visitor goes (day id, visitor digest)."""

    now_ms: int
    on_visitor: Callable[[str, str], None] = lambda day, visitor: None


_TIME = re.compile(rb"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)([0-5]\d)")
# Real zones lie within -12:00..+14:00; past that an offset is a corrupt line, not a zone
# (``+9959`` shifted a line by four days).
MAX_OFFSET_MINUTES = 14 * 60
# How far ahead of the import's own clock a line's time may be (a web server's clock running
# a little fast); anything later is untimed, never a bucket in the future.
FUTURE_SKEW_MS = 300_000


def line_time_ms(raw: bytes) -> int | None:
    """``10/Oct/2000:13:55:36 -0700`` → epoch ms, or None for anything that is not exactly
    that shape (ASCII digits only) and a real instant: no 31 February, no hour 24. A leap
    second (:60) is the next second, as Unix time has it."""
    found = _TIME.fullmatch(raw)
    if found is None or found[2] not in _MONTHS:
        return None
    day, year, hour, minute, second = (int(found[i]) for i in (1, 3, 4, 5, 6))
    leap = second == 60
    try:
        when = datetime(year, _MONTHS[found[2]], day, hour, minute, second - leap, tzinfo=UTC)
    except ValueError:
        return None
    offset_minutes = int(found[8]) * 60 + int(found[9])
    if offset_minutes > MAX_OFFSET_MINUTES:
        return None
    offset = offset_minutes * 60 * (-1 if found[7] == b"-" else 1)
    return (calendar.timegm(when.timetuple()) + leap - offset) * 1000


_YEAR_10000_MS = 253402300800000


@functools.lru_cache(maxsize=4096)  # log lines come in time order: few distinct stamps at a time
def _stamp(raw: bytes) -> tuple[int, str, str, str] | None:
    at_ms = line_time_ms(raw)
    # Before 1970 or past year 9999 in UTC (``31/Dec/9999:23:59:59 -0100`` is a real instant
    # in its own zone) no bucket id can be written: untimed, never an exception.
    if at_ms is None or not 0 <= at_ms < _YEAR_10000_MS:
        return None
    return at_ms, hist.day_id(at_ms), hist.hour_id(at_ms), hist.minute_id(at_ms)


def _record_history(summary: LogSummary, history: History, match: re.Match[bytes]) -> None:
    stamp = _stamp(match["time"])
    if stamp is None:
        summary.untimed += 1
        return
    at_ms, day, hour, minute = stamp
    if at_ms > history.now_ms + FUTURE_SKEW_MS:
        # A future line would make buckets (and TTLs of years) that no retention bounds.
        summary.untimed += 1
        return
    age = (history.now_ms - at_ms) / 1000
    if age < hist.DAY_TTL:
        summary.buckets[keyspace.bucket("d", day)] += 1
        if age < hist.HOUR_TTL:
            summary.buckets[keyspace.bucket("h", hour)] += 1
        if age < hist.MINUTE_TTL:
            summary.buckets[keyspace.bucket("m", minute)] += 1
        agent = (match["agent"] or b"").decode("utf-8", "replace")
        history.on_visitor(day, hist.visitor_key(match["host"].decode("utf-8", "replace"), agent))


def bucket_ttls(buckets: Counter[str], now_ms: int) -> dict[str, tuple[int, int]]:
    """Each bucket with its hits and the TTL it gets (hitcounter.model.history.bucket_ttl)."""
    return {name: (hits, hist.bucket_ttl(name, now_ms)) for name, hits in buckets.items()}


@dataclass(frozen=True)
class Limits:
    max_line: int = 8192
    max_decompressed: int = 2 * 1024**3
    margin_ms: int = 5000  # stop while this much time is left: the commit and the answer
    remaining_ms: Callable[[], int] = lambda: 2**31
    history: History | None = None  # None: count only (no buckets, no visitors)


def file_digest(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256, read in 1 MiB chunks."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as raw:
        while chunk := raw.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _open(path: Path) -> gzip.GzipFile | io.BufferedReader:
    with path.open("rb") as raw:
        magic = raw.read(2)
    return gzip.GzipFile(path, "rb") if magic == _GZIP_MAGIC else path.open("rb")


def looks_binary(head: bytes) -> bool:
    """True for content that is not a text log: a NUL, or more than a tenth of the first
    8 KiB made of control bytes or invalid UTF-8 (random bytes, images, archives)."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    text = head.decode("utf-8", "replace")
    odd = sum(1 for c in text if c == "\ufffd" or (ord(c) < 0x20 and c not in "\t\r\n"))
    return odd > _BINARY_SHARE * len(text)


def _path(target: bytes) -> str:
    path = target.split(b"?", 1)[0].decode("utf-8", "replace")
    return path if len(path) <= MAX_PATH_CHARS else path[: MAX_PATH_CHARS - 1] + "…"


def summarize(path: Path, limits: Limits | None = None) -> LogSummary:
    limits = limits or Limits()
    summary = LogSummary()
    summary.bytes, summary.sha256 = file_digest(path)
    try:
        with _open(path) as stream:
            if looks_binary(stream.peek(8192)[:8192]):
                raise Unprocessable("the object is not a text access log (binary content)")
            _parse(stream, summary, limits)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise Unprocessable("the object is not a readable gzip file") from exc
    return summary


def _parse(stream: gzip.GzipFile | io.BufferedReader, summary: LogSummary, limits: Limits) -> None:
    # Hot loop: locals instead of attribute look-ups, the byte bound checked inline.
    readline, match_line, paths = stream.readline, _LINE.match, summary.paths
    max_line, cap, history = limits.max_line, limits.max_decompressed, limits.history
    too_large = f"the log is larger than {cap} bytes uncompressed; nothing was counted"
    read = seen = 0
    while line := readline(max_line + 1):
        read += len(line)
        if read > cap:
            raise TooLarge(too_large)
        if len(line) > max_line and not line.endswith(b"\n"):
            # Too long to be a log line: malformed. Skip the rest of it without holding it.
            summary.lines += 1
            summary.malformed += 1
            summary.long_lines += 1
            while not line.endswith(b"\n"):
                line = readline(_SKIP_CHUNK)
                if not line:
                    break
                read += len(line)
                if read > cap:
                    raise TooLarge(too_large)
            continue
        seen += 1
        if seen % _CHECK_TIME_EVERY == 0 and limits.remaining_ms() < limits.margin_ms:
            raise OutOfTime()
        if not line.strip():
            continue
        summary.lines += 1
        match = match_line(line)
        if match is None:
            summary.malformed += 1
            continue
        target = _path(match["target"])
        paths[target] += 1
        if len(paths) > MAX_TRACKED_PATHS:
            summary.paths = paths = Counter(dict(paths.most_common(MAX_TRACKED_PATHS // 2)))
        if match["method"] == b"GET" and target == "/" and match["status"].startswith(b"2"):
            summary.counted += 1
            if history is not None:
                _record_history(summary, history, match)
    summary.decompressed_bytes = read
