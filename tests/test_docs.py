"""GET /openapi.json serves the document generated from the route code, and it is current."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from localapi import openapi
from localapi.template import Template
from localapi.worker import LambdaContext
from tests.conftest import body_json, load_event


def test_the_committed_document_matches_the_code() -> None:
    assert openapi.OUTPUT.read_text() == openapi.render(openapi.build()), (
        "layers/shared/python/hitcounter/openapi.json is stale: run `make openapi`"
    )


def test_every_template_route_is_documented(template: Template) -> None:
    document = openapi.build()
    assert {(r.method.lower(), r.path) for r in template.routes} == {
        (method, path) for path, ops in document["paths"].items() for method in ops
    }


def test_docs_function_serves_it(function_modules: dict[str, ModuleType], function_env: Callable[..., None]) -> None:
    function_env("DocsFunction")
    response = function_modules["DocsFunction"].lambda_handler(load_event("docs/get-openapi"), LambdaContext("r", 0))
    assert response["statusCode"] == 200
    document = body_json(response)
    assert document["openapi"].startswith("3.") and "/session" in document["paths"]
    assert document["paths"]["/"]["get"]["parameters"][1]["name"] == "Idempotency-Key"
