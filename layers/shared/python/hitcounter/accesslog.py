"""Streaming parser for web-server access logs (Common and Combined Log Format).

Reads line by line in constant memory: plain or gzip, told apart by the magic bytes, not
the name. Counts the requests the hit counter would have counted: method GET, path ``/``
(query string ignored), status 2xx.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hitcounter.errors import Unprocessable

_GZIP_MAGIC = b"\x1f\x8b"
# host ident user [time] "METHOD target PROTOCOL" status size ["referer" "agent"]
_LINE = re.compile(
    rb'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/\d(?:\.\d)?)?" '
    rb'(?P<status>\d{3}) (?:\d+|-)(?: "[^"]*" "[^"]*")?\s*$'
)
_TOP = 10
# Distinct paths tracked before the rarest are dropped: keeps memory constant on logs with
# millions of unique paths, at the price of approximate counts beyond the heavy hitters.
_MAX_TRACKED_PATHS = 10_000


@dataclass
class LogSummary:
    lines: int = 0
    counted: int = 0
    malformed: int = 0
    bytes: int = 0
    sha256: str = ""
    paths: Counter[str] = field(default_factory=Counter)

    def top_paths(self) -> list[dict[str, object]]:
        return [{"path": p, "requests": n} for p, n in self.paths.most_common(_TOP)]


def _digest(path: Path) -> tuple[int, str]:
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


def summarize(path: Path) -> LogSummary:
    summary = LogSummary()
    summary.bytes, summary.sha256 = _digest(path)
    try:
        with _open(path) as stream:
            head = stream.peek(8192)[:8192]
            if b"\x00" in head:
                raise Unprocessable("the object is not a text access log (binary content)")
            for line in stream:
                if not line.strip():
                    continue
                summary.lines += 1
                match = _LINE.match(line)
                if match is None:
                    summary.malformed += 1
                    continue
                target = match["target"].split(b"?", 1)[0].decode("utf-8", "replace")
                summary.paths[target] += 1
                if len(summary.paths) > _MAX_TRACKED_PATHS:
                    summary.paths = Counter(dict(summary.paths.most_common(_MAX_TRACKED_PATHS // 2)))
                if match["method"] == b"GET" and target == "/" and match["status"].startswith(b"2"):
                    summary.counted += 1
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise Unprocessable("the object is not a readable gzip file") from exc
    return summary
