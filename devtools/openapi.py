"""``python -m devtools.openapi``: write the API's OpenAPI document from the code.

Each function's Powertools resolver describes its routes (paths, summaries, responses from
``hitcounter.web.api_docs``); this merges them, adds the parameters and request bodies that
``api_docs`` lists, and writes ``layers/shared/python/hitcounter/web/openapi.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from localapi import template as sam_template
from localapi.modules import load_app

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "layers/shared/python/hitcounter/web/openapi.json"


def build(template_path: Path = ROOT / "template.yaml") -> dict[str, Any]:
    tpl = sam_template.load(template_path)
    for layer in {d for fn in tpl.functions.values() for d in fn.layer_dirs}:
        if str(layer) not in sys.path:
            sys.path.append(str(layer))
    from hitcounter.web import api_docs, job_docs, page_params

    parameters = {**api_docs.PARAMETERS, **page_params.PARAMETERS}
    bodies = {**api_docs.REQUEST_BODIES, **page_params.REQUEST_BODIES, **job_docs.REQUEST_BODIES}

    paths: dict[str, dict[str, Any]] = {}
    routed = {r.function for r in tpl.routes}  # functions behind the API (not the import worker)
    for name, fn in sorted(tpl.functions.items()):
        if name not in routed:
            continue
        module = load_app(fn.code_dir, f"openapi_{name}")
        schema = module.app.get_openapi_schema(title="x", version="x")
        generated = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
        for path, operations in generated["paths"].items():
            for method, operation in operations.items():
                if params := parameters.get((method, path)):
                    operation["parameters"] = params
                if body := bodies.get((method, path)):
                    operation["requestBody"] = body
                paths.setdefault(path, {})[method] = operation
    for route in tpl.routes:
        if route.iam:  # the HTTP API's IAM authorizer: the caller signs with SigV4
            paths[route.path][route.method.lower()]["security"] = [{"sigv4": []}]
    routes = {(r.method.lower(), r.path) for r in tpl.routes}
    documented = {(m, p) for p, ops in paths.items() for m in ops}
    if routes != documented:
        raise SystemExit(f"template routes and code routes differ: {sorted(routes ^ documented)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Twelve-factor hit counter",
            "version": "1.0.0",
            "description": "Stateless Lambda handlers counting hits in Redis (factor VI, Processes).",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                # API Gateway's own way of naming AWS IAM (Signature Version 4) in OpenAPI.
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            }
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def main() -> int:
    OUTPUT.write_text(render(build()))
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
