"""Imports past hits from web-server access logs in S3: POST /imports, GET /imports/{id},
and the bucket's ObjectCreated trigger, all through the same code."""

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter import api_docs, http, imports
from hitcounter.errors import AppError, BackendUnavailable
from hitcounter.observability import count_metric, entrypoint, logger
from hitcounter.runtime import services

app = APIGatewayHttpResolver()
http.install(app)


def _import(key: str) -> tuple[dict[str, Any], bool]:
    s = services()
    summary, created = imports.run(s.objects, s.imports, s.settings.scratch_dir, key)
    if created:
        count_metric("ImportedHits", summary["counted"])
    return summary, created


@app.post("/imports", summary="Import hits from an access log in S3", responses=api_docs.START_IMPORT)
def start() -> Response[str]:
    key = imports.parse_request(app.current_event, services().settings.imports_prefix)
    summary, created = _import(key)
    return http.json_response(201 if created else 200, summary)


@app.get("/imports/<id>", summary="One import's summary", responses=api_docs.GET_IMPORT)
def show(id: str) -> Response[str]:  # API Gateway names the path parameter {id}
    return http.json_response(200, imports.lookup(services().imports, id))


def on_upload(event: dict[str, Any]) -> dict[str, Any]:
    """S3 ObjectCreated: import each new log. A transient failure is raised so Lambda's
    asynchronous retries try again; a permanent one (a corrupt file) is logged once."""
    results = []
    for record in event["Records"]:
        key = unquote_plus(record["s3"]["object"]["key"])
        try:
            imports.validate_key(key, services().settings.imports_prefix)
            summary, created = _import(key)
            results.append({"key": key, "id": summary["id"], "counted": created and summary["counted"]})
        except BackendUnavailable:
            raise
        except AppError as err:
            logger.warning("import refused", extra={"key": key, "error_code": err.code, "reason": err.message})
            results.append({"key": key, "error": err.code})
    return {"imports": results}


lambda_handler = entrypoint(app.resolve, on_records=on_upload)
