"""Imports past hits from web-server access logs in S3, and exports and restores the whole
store: each POST hands the work to the worker and answers 202; each GET shows where it is.
Every route here is signed with AWS IAM (the template's authorizer)."""

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.logic import imports, snapshots
from hitcounter.runtime import services
from hitcounter.web import bodies, contract, job_docs
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
    responses=job_docs.START_IMPORT,
)
def start() -> Response[str]:
    s = services()
    key, fmt = bodies.import_order(app.current_event, s.settings.imports_prefix)
    status, body = imports.start(s.objects, s.imports, _submit, s.settings.imports, key, fmt)
    location = {"Location": f"/imports/{body['id']}"}
    return contract.json_response(status, body, location)


@app.get("/imports/<id>", cache_control=contract.NO_STORE, summary="One import's state", responses=job_docs.GET_IMPORT)
def show(id: str) -> Response[str]:  # API Gateway names the path parameter {id}
    return contract.json_response(200, imports.lookup(services().imports, id))


@app.post(
    "/exports",
    cache_control=contract.NO_STORE,
    summary="Export every counter, page, bucket and HyperLogLog to the bucket",
    responses=job_docs.START_EXPORT,
)
def start_export() -> Response[str]:
    body = snapshots.start_export(services().snapshots, _submit)
    return contract.json_response(202, body, {"Location": f"/exports/{body['id']}"})


@app.get("/exports/<id>", cache_control=contract.NO_STORE, summary="One export's state", responses=job_docs.GET_EXPORT)
def show_export(id: str) -> Response[str]:  # API Gateway names the path parameter {id}
    s = services()
    state = snapshots.lookup(s.snapshots, snapshots.EXPORT, id, s.settings.imports.stale_seconds)
    return contract.json_response(200, state)


@app.post(
    "/restores",
    cache_control=contract.NO_STORE,
    summary="Load an export into an empty store",
    responses=job_docs.START_RESTORE,
)
def start_restore() -> Response[str]:
    s = services()
    key = bodies.import_key(app.current_event, s.settings.exports_prefix)
    status, body = snapshots.start_restore(s.snapshots, s.objects, _submit, s.settings.imports, key)
    return contract.json_response(status, body, {"Location": f"/restores/{body['id']}"})


@app.get(
    "/restores/<id>",
    cache_control=contract.NO_STORE,
    summary="One restore's state",
    responses=job_docs.GET_RESTORE,
)
def show_restore(id: str) -> Response[str]:  # API Gateway names the path parameter {id}
    s = services()
    state = snapshots.lookup(s.snapshots, snapshots.RESTORE, id, s.settings.imports.stale_seconds)
    return contract.json_response(200, state)


lambda_handler = entrypoint(app.resolve)
