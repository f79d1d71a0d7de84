"""The key table (``hitcounter.model.keyspace``) as the docs show it: ``python -m
devtools.keytable`` rewrites each marked region of the docs (``<!-- keys: SCOPE[,SCOPE] -->``
… ``<!-- /keys -->``) from the table; ``tests/test_docs.py`` fails when one differs."""

from __future__ import annotations

import re
from pathlib import Path

from hitcounter.model import keyspace

ROOT = Path(__file__).resolve().parent.parent
REGION = re.compile(r"(<!-- keys: (?P<scopes>[a-z,]+) -->\n)(?P<body>.*?)(<!-- /keys -->)", re.S)
_SCOPE_PREFIX = {
    keyspace.SITE: "{hits}:",
    keyspace.SLOT: "{pg:S}:",
    keyspace.PAGE: "{pg:S}:page:ID:",
    keyspace.SESSION: "session:",
}


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _kept(kind: keyspace.KeyKind) -> str:
    if kind.ttl is None:
        return "kept"
    if isinstance(kind.ttl, int):
        return _duration(kind.ttl)
    return f"`{kind.ttl}`"


def render(scopes: list[str]) -> str:
    rows = [
        "| key (after `KEY_PREFIX`) | type | lives at most | written by | in an export | what |",
        "|---|---|---|---|---|---|",
    ]
    for kind in keyspace.KINDS:
        if kind.scope not in scopes:
            continue
        name = _SCOPE_PREFIX[kind.scope] + re.sub(r"\{(\w+)\}", lambda m: m[1].upper(), kind.pattern)
        export = f"`{kind.export}`" if kind.export else "no"
        rows.append(f"| `{name}` | {kind.type} | {_kept(kind)} | {kind.writer} | {export} | {kind.what} |")
    return "\n".join(rows) + "\n"


def regions(text: str) -> list[tuple[str, str]]:
    """(scopes, body) of each marked region."""
    return [(m["scopes"], m["body"]) for m in REGION.finditer(text)]


def rewrite(text: str) -> str:
    return REGION.sub(lambda m: m.group(1) + render(m["scopes"].split(",")) + m.group(4), text)


DOCS = ("docs/keys.md", "docs/pages.md", "docs/history.md")


def main() -> None:
    for name in DOCS:
        path = ROOT / name
        path.write_text(rewrite(path.read_text()))


if __name__ == "__main__":
    main()
