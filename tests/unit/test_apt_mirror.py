"""The sam local tier's image is built from the Debian archive this machine's apt already
uses: read from its sources, never a mirror written into the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.samlocal import apt_mirror


def _etc(tmp_path: Path, sources: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in sources.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_deb822_source_gives_its_main_archive(tmp_path: Path) -> None:
    etc = _etc(
        tmp_path,
        {
            "sources.list.d/debian.sources": (
                "Types: deb\nURIs: http://archive.example/debian-security\nSuites: trixie-security\n"
                "Components: main\n\n"
                "Types: deb\n# a comment\nURIs: http://archive.example/debian\nSuites: trixie trixie-updates\n"
                "Components: main\n"
            ),
            "sources.list.d/other.sources": "Types: deb\nURIs: http://vendor.example/apt\nSuites: stable\n",
        },
    )
    assert apt_mirror(etc) == "http://archive.example/debian"


def test_a_one_line_sources_list_is_read_too(tmp_path: Path) -> None:
    lines = (
        "# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
    )
    etc = _etc(tmp_path, {"sources.list": lines})
    assert apt_mirror(etc) == "http://mirror.example/debian/"


def test_no_debian_archive_says_what_to_set(tmp_path: Path) -> None:
    etc = _etc(tmp_path, {"sources.list.d/x.sources": "Types: deb\nURIs: http://vendor.example/apt\nSuites: x\n"})
    with pytest.raises(SystemExit, match="DEBIAN_MIRROR"):
        apt_mirror(etc)
