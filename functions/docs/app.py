"""Serves the API's static files: its OpenAPI document, generated from the route code (python
-m devtools.openapi), and ``count.js``, the snippet a site embeds (docs/embed.md)."""

import json
from functools import cache
from importlib.resources import files

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.web import api_docs, contract
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)


@cache
def _document() -> dict[str, object]:
    # A static file of the layer, read once per environment: safe to keep, and to lose.
    loaded: dict[str, object] = json.loads(files("hitcounter.web").joinpath("openapi.json").read_text())
    return loaded


@app.get(
    "/openapi.json",
    cache_control="public, max-age=300",
    summary="This API's OpenAPI document",
    responses=api_docs.OPENAPI,
)
def openapi() -> Response[str]:
    return contract.json_response(200, _document())


@cache
def _script() -> str:
    return files("hitcounter.web").joinpath("count.js").read_text()


@app.get(
    "/count.js",
    cache_control="public, max-age=3600",
    summary="The snippet a page embeds: counts each view of its path, follows single-page apps",
    responses=api_docs.COUNT_JS,
)
def count_js() -> Response[str]:
    # Served from the API's own origin: what survives blockers that drop third-party scripts.
    return Response(200, "text/javascript; charset=utf-8", _script(), headers=contract.NOSNIFF)


lambda_handler = entrypoint(app.resolve)
