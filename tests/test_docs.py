"""GET /openapi.json serves the document generated from the route code, and it is current."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from devtools import keytable, openapi
from localapi.template import Template
from tests.support.events import ROOT, body_json, context, load_event


def test_the_committed_document_matches_the_code() -> None:
    assert openapi.OUTPUT.read_text() == openapi.render(openapi.build()), (
        "layers/shared/python/hitcounter/web/openapi.json is stale: run `make openapi`"
    )


def test_every_template_route_is_documented(template: Template) -> None:
    document = openapi.build()
    assert {(r.method.lower(), r.path) for r in template.routes} == {
        (method, path) for path, ops in document["paths"].items() for method in ops
    }


def test_docs_function_serves_it(function_modules: dict[str, ModuleType], function_env: Callable[..., None]) -> None:
    function_env("DocsFunction")
    response = function_modules["DocsFunction"].lambda_handler(load_event("docs/get-openapi"), context("r"))
    assert response["statusCode"] == 200
    document = body_json(response)
    assert document["openapi"].startswith("3.") and "/session" in document["paths"]
    assert document["paths"]["/"]["get"]["parameters"][1]["name"] == "Idempotency-Key"


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # code blocks hold no links
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "BENCHMARKS.md",
    *sorted((ROOT / "docs").glob("*.md")),
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_in_the_documents_resolves(document: Path) -> None:
    assert document.is_file(), f"{document.relative_to(ROOT)} is missing"
    broken = []
    for link in _links(document):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(link)
    assert not broken, f"{document.relative_to(ROOT)}: broken links {broken}"


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 300
    assert "make dev" in readme and "make test" in readme
    linked = {link.split("#")[0] for link in _links(ROOT / "README.md") if link.startswith("docs/")}
    assert linked == {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}, "every docs/ page is reachable"


def _locked(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ \\;\n]+)", path.read_text(), flags=re.M))


def test_the_locks_pin_every_package_with_hashes_and_agree_on_the_layers_packages() -> None:
    dev, layer = _locked(ROOT / "requirements-dev.txt"), _locked(ROOT / "layers/deps/requirements.txt")
    for path in (ROOT / "requirements-dev.txt", ROOT / "layers/deps/requirements.txt"):
        text = path.read_text()
        pins = re.findall(r"^[A-Za-z0-9_.-]+==", text, flags=re.M)
        assert pins
        assert len(re.findall(r"^[A-Za-z0-9_.-]+==[^\n]*\\\n\s+--hash=sha256:", text, flags=re.M)) == len(pins)
        assert "://" not in text, f"{path.name} names an index: locks carry names, versions and hashes only"
    # The suite runs what is deployed: the layer's packages at the same versions.
    assert {name: dev[name] for name in layer} == layer


def test_the_readmes_page_limits_are_the_templates() -> None:
    # The figures a site owner reads are the ones deployed (tests/test_page_limits.py holds
    # the behaviour to them).
    from cfnlint.decode import cfn_yaml

    env = cfn_yaml.load(str(ROOT / "template.yaml"))["Globals"]["Function"]["Environment"]["Variables"]
    readme = (ROOT / "README.md").read_text()
    assert f"past {env['RATE_LIMIT_PER_MINUTE']} counted hits in any 60 s from one client (per page slot" in readme
    assert f"`RATE_LIMIT_PER_MINUTE` ({env['RATE_LIMIT_PER_MINUTE']}) counted page hits in the last 60 s" in readme
    assert f"`NEW_PAGES_PER_CLIENT_MINUTE` {env['NEW_PAGES_PER_CLIENT_MINUTE']}" in readme
    assert f"`NEW_PAGES_PER_CLIENT_DAY` {env['NEW_PAGES_PER_CLIENT_DAY']}" in readme
    assert (
        f"new pages: {env['NEW_PAGES_PER_CLIENT_MINUTE']} a minute, {env['NEW_PAGES_PER_CLIENT_DAY']} a day" in readme
    )
    assert f"`DEDUPE_SECONDS` ({env['DEDUPE_SECONDS']} s)" in readme


def test_the_readmes_route_table_is_the_route_tables() -> None:
    # Each route of tests/support/routes.py (held to template.yaml) has its row in the README,
    # said to be signed exactly when it is; no row names a route that does not exist.
    from tests.support.routes import ROUTES

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Routes") : readme.index("Errors are JSON")]
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            for route in re.findall(r"`([A-Z]+ /[^`]*)`", cell):
                method, path = route.split(" ", 1)
                rows[(method, path)] = line
    assert set(rows) == set(ROUTES), (sorted(set(ROUTES) - set(rows)), sorted(set(rows) - set(ROUTES)))
    for key, spec in ROUTES.items():
        assert ("signed with AWS IAM" in rows[key]) == spec.signed, key


@pytest.mark.parametrize("name", keytable.DOCS)
def test_the_docs_key_tables_are_the_key_table(name: str) -> None:
    """Each marked key table of the docs is the one ``hitcounter.model.keyspace`` declares
    (``make docs-tables`` rewrites them)."""
    text = (ROOT / name).read_text()
    found = keytable.regions(text)
    assert found, f"{name} has no key table"
    for scopes, body in found:
        assert body == keytable.render(scopes.split(",")), f"{name} ({scopes}): run make docs-tables"


def _routes_named(text: str) -> set[tuple[str, str]]:
    """Every ``METHOD /path`` a piece of text names, with a cell's ``A /x, GET /x/{id}`` pairs."""
    found = set()
    for cell in re.findall(r"`([A-Z]+ /[^`]*)`", text):
        method, path = cell.split(" ", 1)
        found.add((method, path))
    return found


def test_the_admin_routes_in_operations_are_the_signed_routes() -> None:
    from tests.support.routes import SIGNED_ROUTES

    text = (ROOT / "docs/operations.md").read_text()
    table = text[text.index("<!-- signed routes -->") : text.index("<!-- /signed routes -->")]
    assert _routes_named(table) == SIGNED_ROUTES


def test_the_architecture_lists_each_router_with_its_routes(function_modules: dict[str, ModuleType]) -> None:
    """docs/architecture.md names each of the hits function's routers; every route of that
    function is defined in one (``app.py`` holds none itself)."""
    from tests.support.routes import ROUTES

    app = function_modules["HitsFunction"].app
    routes = [*app._static_routes, *app._dynamic_routes]
    modules = {route.func.__module__ for route in routes}
    assert all(module.startswith("routers.") for module in modules), modules
    served = {(route.method, route.rule.pattern) for route in routes}
    assert len(served) == sum(1 for spec in ROUTES.values() if spec.function == "HitsFunction")
    text = (ROOT / "docs/architecture.md").read_text()
    for module in modules:
        assert f"{module.replace('.', '/')}.py" in text, module


def test_the_anonymous_ceiling_is_the_sum_of_the_public_routes_throttles(template: Template) -> None:
    """docs/limits-and-costs.md's ceiling is the template's: each public route of the route
    table at its throttle (its own, or the stage's default), so a new route moves it."""
    from tests.support.routes import ROUTES

    total = 0.0
    for (method, path), spec in ROUTES.items():
        throttle = template.throttles.get(f"{method} {path}", template.default_throttle)
        assert throttle is not None
        total += 0 if spec.signed else throttle.rate
    assert f"= **{total:.0f} requests a second**" in (ROOT / "docs/limits-and-costs.md").read_text()
