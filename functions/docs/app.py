"""Serves the API's OpenAPI document, generated from the route code (python -m devtools.openapi)."""

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


lambda_handler = entrypoint(app.resolve)
