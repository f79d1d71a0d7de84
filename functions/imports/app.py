"""Imports past hits from web-server access logs in S3: POST /imports hands the work to the
import worker and answers 202; GET /imports/{id} shows where it is."""

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.logic import imports
from hitcounter.runtime import services
from hitcounter.web import api_docs, contract, request
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)


def _submit(job: dict[str, Any]) -> None:
    # The worker's client is built only when there is work to hand over.
    services().jobs.submit(job)


@app.post(
    "/imports",
    cache_control=contract.NO_STORE,
    summary="Import hits from an access log in S3",
    responses=api_docs.START_IMPORT,
)
def start() -> Response[str]:
    s = services()
    key = request.import_key(app.current_event, s.settings.imports_prefix)
    status, body = imports.start(s.objects, s.imports, _submit, s.settings.imports, key)
    location = {"Location": f"/imports/{body['id']}"}
    return contract.json_response(status, body, location)


@app.get("/imports/<id>", cache_control=contract.NO_STORE, summary="One import's state", responses=api_docs.GET_IMPORT)
def show(id: str) -> Response[str]:  # API Gateway names the path parameter {id}
    return contract.json_response(200, imports.lookup(services().imports, id))


lambda_handler = entrypoint(app.resolve)
