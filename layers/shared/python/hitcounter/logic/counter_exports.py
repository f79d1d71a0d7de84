"""Reading another counter's export into a ``Tally`` (``hitcounter.model.page_tally``), within
the import's bounds: GoatCounter's JSON export and Plausible's CSV export, each a zip file.
What is read and what is dropped of each is in docs/imports.md.

* ``goatcounter-json`` (GoatCounter's ``tpl/help/export-json.md``, ``export_version`` 1.x):
  ``info.json``; ``paths.jsonl`` (``{"id", "path", "event"?}``: events, whose paths never start
  with ``/``, are skipped); ``refs.jsonl`` (``{"id", "ref", "ref_scheme"}``: only ``h``, an
  URL without its scheme, gives a host); ``hit_stats.jsonl`` (``{"hour", "path_id", "ref_id",
  "count"}``, the hour in UTC). The other ``*_stats`` files are not read.
* ``plausible-csv`` (Plausible's ``Plausible.Exports``): ``imported_pages[_FIRST_LAST].csv``
  (``date``, ``page``, ``pageviews``) gives each page its days; ``imported_sources…csv``
  (``date``, ``referrer``, ``pageviews``) the site's referring hosts per day. Dates are the
  site's own days, taken as UTC days. Visitors are never read (a count of visitors cannot be
  merged into a HyperLogLog).

Nothing is written here: a file that breaks a bound or is not what it says stops with
``ImportRefused`` (or ``OutOfTime``), before the import writes anything."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from hitcounter.core.errors import Unprocessable
from hitcounter.logic.accesslog import ImportRefused, OutOfTime, TooLarge
from hitcounter.model import referrers
from hitcounter.model.page_tally import Tally, TallyFull

GOATCOUNTER, PLAUSIBLE = "goatcounter-json", "plausible-csv"
FORMATS = (GOATCOUNTER, PLAUSIBLE)
# Where another counter's exports are uploaded: not logs/, whose uploads start an access-log
# import by themselves (the template's bucket notification), nor exports/ (restores).
PREFIX = "imports/"
MAX_ENTRIES = 64  # files in the zip: both exports hold about a dozen
MAX_IDS = 200_000  # paths or referrers an export may name
_CHECK_TIME_EVERY = 4096  # rows
_PLAUSIBLE_FILE = re.compile(r"(?:.*/)?imported_(pages|sources)(?:_[0-9]{8}_[0-9]{8})?\.csv")


@dataclass(frozen=True)
class Bounds:
    max_decompressed: int  # bytes read out of the zip, all files together
    max_line: int  # a longer line or CSV field refuses the file
    margin_ms: int
    remaining_ms: Callable[[], int]


class WrongFormat(ImportRefused):
    code = "wrong_format"


def read(path: Path, fmt: str, tally: Tally, bounds: Bounds) -> dict[str, Any]:
    """Fill ``tally`` from the export at ``path``; returns what the summary says of the file
    (its rows, and what was skipped and why, in ``tally.skipped``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise WrongFormat(f"the zip holds more than {MAX_ENTRIES} files: not a {fmt} export")
            reader = _Reader(archive, bounds)
            rows = _goatcounter(reader, tally) if fmt == GOATCOUNTER else _plausible(reader, tally)
    except zipfile.BadZipFile as exc:
        raise Unprocessable(f"the object is not a readable zip file (a {fmt} export is one)") from exc
    except TallyFull as exc:
        raise TooLarge(f"{exc}; nothing was counted") from exc
    return {"rows": rows, "format": fmt}


class _Reader:
    """The zip's files, line by line, within the bounds: the bytes read out of the zip are
    counted against ``max_decompressed`` (a file's own declared size is no promise), a line
    longer than ``max_line`` refuses the file, and the time is checked as rows go."""

    def __init__(self, archive: zipfile.ZipFile, bounds: Bounds) -> None:
        self.archive, self.bounds, self.read, self.rows = archive, bounds, 0, 0

    def names(self) -> list[str]:
        return [entry.filename for entry in self.archive.infolist() if not entry.is_dir()]

    def lines(self, name: str) -> Iterator[bytes]:
        with self.archive.open(name) as raw:
            stream: BinaryIO = raw  # type: ignore[assignment]  # ZipExtFile reads bytes
            while line := stream.readline(self.bounds.max_line + 1):
                self.read += len(line)
                if self.read > self.bounds.max_decompressed:
                    raise TooLarge(f"the export is larger than {self.bounds.max_decompressed} bytes uncompressed")
                if len(line) > self.bounds.max_line and not line.endswith(b"\n"):
                    raise WrongFormat(f"{name} has a line longer than {self.bounds.max_line} bytes")
                self.tick()
                yield line

    def tick(self) -> None:
        self.rows += 1
        if self.rows % _CHECK_TIME_EVERY == 0 and self.bounds.remaining_ms() < self.bounds.margin_ms:
            raise OutOfTime()

    def json_lines(self, name: str) -> Iterator[dict[str, Any]]:
        for line in self.lines(name):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise WrongFormat(f"{name} has a line that is not JSON") from None
            if not isinstance(row, dict):
                raise WrongFormat(f"{name} has a line that is not a JSON object")
            yield row


def _find(reader: _Reader, wanted: str) -> str | None:
    for name in reader.names():
        if name == wanted or name.endswith("/" + wanted):
            return name
    return None


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WrongFormat(f"{what} is not a whole number")
    return value


def _goatcounter(reader: _Reader, tally: Tally) -> int:
    names = {wanted: _find(reader, wanted) for wanted in ("info.json", "paths.jsonl", "hit_stats.jsonl")}
    missing = [wanted for wanted, found in names.items() if found is None]
    if missing:
        raise WrongFormat(f"not a GoatCounter JSON export: no {', '.join(missing)}")
    info_name, paths_name, stats_name = (str(found) for found in names.values())
    info_text = b"".join(reader.lines(info_name))
    try:
        info = json.loads(info_text)
    except ValueError:
        raise WrongFormat("info.json is not JSON") from None
    version = info.get("export_version") if isinstance(info, dict) else None
    if not isinstance(version, str) or not re.fullmatch(r"1\.[0-9]{1,3}", version):
        raise WrongFormat(f"export_version {str(version)[:20]!r} is not one this counter reads (1.x)")
    paths: dict[int, str] = {}
    for row in reader.json_lines(paths_name):
        ident, path = row.get("id"), row.get("path")
        if row.get("event") is True or not isinstance(path, str) or not path.startswith("/"):
            tally.skip("events")
            continue
        paths[_whole(ident, "a path's id")] = path
        if len(paths) > MAX_IDS:
            raise TooLarge(f"the export names more than {MAX_IDS} paths")
    hosts: dict[int, str] = {}
    refs_name = _find(reader, "refs.jsonl")
    for row in reader.json_lines(refs_name) if refs_name else iter(()):
        ref = row.get("ref")
        if row.get("ref_scheme") == "h" and isinstance(ref, str):
            found = referrers.host("https://" + ref)
            if found:
                hosts[_whole(row.get("id"), "a referrer's id")] = found
                if len(hosts) > MAX_IDS:
                    raise TooLarge(f"the export names more than {MAX_IDS} referrers")
    rows = 0
    for row in reader.json_lines(stats_name):
        rows += 1
        path_id, ref_id = row.get("path_id"), row.get("ref_id")
        path = paths.get(path_id) if isinstance(path_id, int) else None
        count = _whole(row.get("count"), "a count")
        if path is None:
            tally.skip("events", count)
            continue
        at_ms = _instant(row.get("hour"), "%Y-%m-%dT%H:%M:%SZ", "an hour")
        host = hosts.get(ref_id, "") if isinstance(ref_id, int) else ""
        tally.add(path, at_ms, count, hourly=True, host=host)
    return rows


def _instant(value: Any, pattern: str, what: str) -> int:
    if not isinstance(value, str):
        raise WrongFormat(f"{what} is not a date this counter reads")
    at = _parsed(value, pattern)
    if at is None:
        raise WrongFormat(f"{what} is not a date this counter reads: {value[:32]!r}")
    return at


@lru_cache(maxsize=65_536)
def _parsed(value: str, pattern: str) -> int | None:
    """Epoch ms of a date or hour as the export writes it (each is written many times: one
    row per path and referrer), None when it is not one."""
    try:
        return int(datetime.strptime(value, pattern).replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


def _plausible(reader: _Reader, tally: Tally) -> int:
    files: dict[str, list[str]] = {"pages": [], "sources": []}
    for name in reader.names():
        found = _PLAUSIBLE_FILE.fullmatch(name)
        if found:
            files[found[1]].append(name)
    if not files["pages"]:
        raise WrongFormat("not a Plausible CSV export: no imported_pages CSV file")
    rows = 0
    for name in files["pages"]:
        for row in _csv_rows(reader, name, ("date", "page", "pageviews")):
            rows += 1
            at_ms = _instant(row["date"], "%Y-%m-%d", "a date")
            tally.add(row["page"], at_ms, _number(row["pageviews"]), hourly=False)
    for name in files["sources"]:
        for row in _csv_rows(reader, name, ("date", "referrer", "pageviews")):
            rows += 1
            host = referrers.host(row["referrer"] if "//" in row["referrer"] else "https://" + row["referrer"])
            if host:
                tally.add_site_referrer(_instant(row["date"], "%Y-%m-%d", "a date"), host, _number(row["pageviews"]))
    return rows


def _number(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 13:
        raise WrongFormat(f"{value[:20]!r} is not a count")
    return int(value)


def _csv_rows(reader: _Reader, name: str, needed: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A CSV file's rows by its header's names (a header without ``needed`` refuses it).
    Its lines come through ``_Reader.lines``, so its bounds hold: a field cannot hide a long
    line inside quotes, since every physical line is bounded."""
    lines = io.BufferedReader(_Lines(reader.lines(name)))
    text = io.TextIOWrapper(lines, encoding="utf-8", errors="strict", newline="")
    rows = csv.reader(text)
    try:
        header = next(rows, None)
        if header is None or not set(needed) <= set(header):
            raise WrongFormat(f"{name} has no header naming {', '.join(needed)}")
        where = [header.index(column) for column in needed]
        for fields in rows:
            if not fields:
                continue
            if len(fields) != len(header):
                raise WrongFormat(f"{name} has a row of {len(fields)} fields under a header of {len(header)}")
            yield {column: fields[i] for column, i in zip(needed, where, strict=True)}
    except (UnicodeDecodeError, csv.Error):
        raise WrongFormat(f"{name} is not UTF-8 CSV") from None


class _Lines(io.RawIOBase):
    """Bounded lines as a stream (what ``io.TextIOWrapper`` reads from)."""

    def __init__(self, lines: Iterator[bytes]) -> None:
        self._lines, self._rest = lines, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            self._rest = next(self._lines, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n], self._rest = self._rest[:n], self._rest[n:]
        return n
