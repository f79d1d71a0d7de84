"""The key table (``hitcounter.model.keyspace``) is the one place key names are spelled: each
kind's name reads back as that kind and no other, the export carries exactly the kinds the
table marks, a page delete knows every page kind, and no module outside ``hitcounter.model``
spells a key name. (``tests/test_cache_acl.py`` holds a real Redis to the table after every
route has run.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from hitcounter.model import keyspace, snapshot
from hitcounter.model.keys import page_slot
from tests.support.events import ROOT

SAMPLE = {
    "minute": "202612071015",
    "hour": "2026120710",
    "day": "20261207",
    "first": "20261108",
    "period": "30d",
    "limit": "10",
    "digest": "ab" * 32,
    "log": "cd" * 20,
    "id": "ef" * 16,
    "job": "export",
    "restore": "01" * 8,
    "rest": "count",
    "sid": "A" * 43,
}


def _name(kind: keyspace.KeyKind, page: str = "blog.post-1") -> str:
    fields: dict[str, object] = {name: SAMPLE[name] for name in re.findall(r"\{(\w+)\}", kind.pattern)}
    if kind.scope == keyspace.SITE:
        return keyspace.site("", 1, 0, kind, **fields)
    if kind.scope == keyspace.SLOT:
        return keyspace.slot("", 7, kind, **fields)
    if kind.scope == keyspace.PAGE:
        return keyspace.page("", page, kind, 0, **fields)
    return keyspace.session("", SAMPLE["sid"])


@pytest.mark.parametrize("kind", keyspace.KINDS, ids=lambda k: f"{k.scope}:{k.pattern}")
def test_each_kind_reads_back_as_itself_and_no_other(kind: keyspace.KeyKind) -> None:
    name = _name(kind)
    found = keyspace.match(name)
    assert found is not None and found.kind is kind, name
    inner = kind.suffix(**{field: SAMPLE[field] for field in re.findall(r"\{(\w+)\}", kind.pattern)})
    assert [other for other in keyspace.BY_SCOPE[kind.scope] if other.regex.fullmatch(inner)] == [kind]


def test_names_outside_the_table_are_not_keys() -> None:
    for name in ("{hits}:m:2026", "{hits}:counts", "{pg:3}:top:2026120", "{pg:3}:page:x:bogus", "other", "{pg:3}:rl:"):
        assert keyspace.match(name) is None, name


def test_the_export_carries_exactly_the_kinds_the_table_marks() -> None:
    shards = 1
    for kind in keyspace.KINDS:
        page = "blog.post-1"
        name = _name(kind, page)
        if kind.scope not in (keyspace.SITE, keyspace.SESSION):
            name = name.replace("{pg:7}", f"{{pg:{page_slot(page)}}}", 1)
        assert snapshot.kind(name, shards) == kind.export, name


def test_every_page_kind_goes_with_its_page_and_no_other_kind_does() -> None:
    assert {k for k in keyspace.KINDS if k.page_delete} == set(keyspace.BY_SCOPE[keyspace.PAGE])


# What a key name starts with, after a hash tag (or as a whole): "m:", "idem:", "rst:", …
_HEADS = sorted({k.head for k in keyspace.KINDS if ":" in k.head} | {"{hits", "{pg:", "page:", "session:"})
_SPELLED = re.compile("(?:^|[:}])(" + "|".join(re.escape(h) for h in _HEADS) + ")")
_OUTSIDE_MODEL = [
    path
    for path in (ROOT / "layers/shared/python/hitcounter").rglob("*.py")
    if "model" not in path.relative_to(ROOT / "layers/shared/python/hitcounter").parts
] + sorted((ROOT / "functions").glob("*/app.py"))


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal and f-string part, docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", _OUTSIDE_MODEL, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_model_spells_a_key_name(path: Path) -> None:
    spelled = [
        f"{path.name}:{line}: {text!r}"
        for line, text in _strings(ast.parse(path.read_text(), str(path)))
        if _SPELLED.search(text)
    ]
    assert spelled == []
