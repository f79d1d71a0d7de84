"""What the OpenAPI document says of the export and restore routes (``functions/imports``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hitcounter.web.api_docs import _UNAVAILABLE, JOB_STATE, REASON, Schema, _error, _json, key_body

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

_JOB: Schema = {
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        **JOB_STATE,
        "key": {
            "type": "string",
            "description": "The export's object in the imports bucket (done), or the object read",
        },
        "records": {"type": "integer", "minimum": 0, "description": "Keys written (export) or restored"},
        "bytes": {"type": "integer", "minimum": 0},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "reason": REASON,
    },
}
_SIGNED: dict[int, OpenAPIResponse] = {
    403: {"description": 'Not signed with AWS IAM (SigV4): API Gateway\'s own {"message":"Forbidden"}'}
}
_FOLLOW = {"Location": {"description": "GET it to follow the work", "schema": {"type": "string"}}}

START_EXPORT: dict[int, OpenAPIResponse] = {
    202: _json("Accepted: the export runs in the background; follow Location", _JOB, _FOLLOW),
    **_SIGNED,
    **_UNAVAILABLE,
}
GET_EXPORT: dict[int, OpenAPIResponse] = {
    200: _json("The export's state: pending, running, done (with its object's key) or failed (with the reason)", _JOB),
    **_SIGNED,
    404: _error("No export with that id"),
    **_UNAVAILABLE,
}
START_RESTORE: dict[int, OpenAPIResponse] = {
    200: _json("This object was restored before: state done; nothing was written", _JOB, _FOLLOW),
    202: _json("Accepted: the restore runs in the background; follow Location", _JOB, _FOLLOW),
    400: _error("The body is not valid JSON, or nests too deeply"),
    **_SIGNED,
    404: _error("No such object in the imports bucket"),
    409: _error("The store is not empty: a restore loads into an empty store only"),
    413: _error("The body, or the object, is larger than allowed"),
    415: _error("The body is not application/json"),
    422: _error("Missing or invalid key (under exports/, at most 256 characters of Unicode text)"),
    **_UNAVAILABLE,
}
GET_RESTORE: dict[int, OpenAPIResponse] = {
    200: _json("The restore's state: pending, running, done or failed (with the reason)", _JOB),
    **_SIGNED,
    404: _error("No restore with that id"),
    **_UNAVAILABLE,
}

REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {("post", "/restores"): key_body("exports/", "an export")}
