"""What the OpenAPI document says of the background-work routes (``functions/imports``):
imports, exports and restores, each handed to the worker (202) and followed by a GET. The
shared helpers and the other routes are in ``hitcounter.web.api_docs``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hitcounter.model.keys import refused_key_class
from hitcounter.web.api_docs import _UNAVAILABLE, Schema, _error, _json

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

# What every import's summary names: the import, its object, its content, when.
_OBJECT: dict[str, Schema] = {
    "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "key": {"type": "string"},
    "etag": {"type": "string"},
    "bytes": {"type": "integer", "minimum": 0},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "imported_at": {"type": "string", "format": "date-time"},
}
_SUMMARY: Schema = {
    "type": "object",
    "required": ["id", "key", "etag", "lines", "counted", "malformed", "bytes", "sha256", "top_paths", "imported_at"],
    "properties": {
        **_OBJECT,
        "lines": {"type": "integer", "minimum": 0},
        "counted": {"type": "integer", "minimum": 0},
        "malformed": {"type": "integer", "minimum": 0},
        "long_lines": {"type": "integer", "minimum": 0},
        "decompressed_bytes": {"type": "integer", "minimum": 0},
        "top_paths": {
            "type": "array",
            "maxItems": 10,
            "items": {
                "type": "object",
                "required": ["path", "requests"],
                "properties": {
                    "path": {"type": "string", "maxLength": 256},
                    "requests": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}
# Another counter's export imported (POST /imports with a format).
_COUNTER_SUMMARY: Schema = {
    "type": "object",
    "required": ["id", "key", "etag", "format", "rows", "counted", "pages", "skipped", "sha256", "imported_at"],
    "properties": {
        **_OBJECT,
        "format": {"type": "string", "enum": ["goatcounter-json", "plausible-csv"]},
        "rows": {"type": "integer", "minimum": 0},
        "counted": {"type": "integer", "minimum": 0, "description": "hits the file gives its pages"},
        "written": {"type": "integer", "minimum": 0, "description": "hits written (past PAGES_MAX a page is not)"},
        "pages": {"type": "integer", "minimum": 0},
        "pages_refused": {"type": "integer", "minimum": 0},
        "skipped": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "description": "rows or hits left out, by why: events, paths (not a page's), future",
        },
        "duplicate_of": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    },
}
# Why background work (an import, an export, a restore) failed.
REASON: Schema = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
# The id and state every piece of background work shows.
JOB_STATE: dict[str, Schema] = {
    "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "state": {"type": "string", "enum": ["pending", "running", "done", "failed"]},
}
_IMPORT: Schema = {
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        **JOB_STATE,
        "key": {"type": "string"},
        "summary": {"anyOf": [_SUMMARY, _COUNTER_SUMMARY]},
        "reason": REASON,
    },
}
_LOCATION = {"Location": {"description": "GET it to follow the import", "schema": {"type": "string"}}}
START_IMPORT: dict[int, OpenAPIResponse] = {
    200: _json("This object was imported before: state done with its stored summary; nothing was counted", _IMPORT),
    202: _json("Accepted: the import runs in the background; follow Location", _IMPORT, _LOCATION),
    400: _error("The body is not valid JSON, or nests too deeply"),
    403: _error("The function may not read that object (an unsigned call gets API Gateway's own 403 Forbidden)"),
    404: _error("No such object in the imports bucket"),
    413: _error("The body, or the object, is larger than allowed"),
    415: _error("The body is not application/json"),
    422: _error(
        "Missing or invalid key (under logs/, or imports/ with a format; at most 256 characters of Unicode text), "
        "or an unknown format"
    ),
    **_UNAVAILABLE,
}
GET_IMPORT: dict[int, OpenAPIResponse] = {
    403: {"description": 'Not signed with AWS IAM (SigV4): API Gateway\'s own {"message":"Forbidden"}'},
    200: _json("The import's state: pending, running, done (with its summary) or failed (with the reason)", _IMPORT),
    404: _error("No import with that id"),
    **_UNAVAILABLE,
}


def key_body(prefix: str, what: str) -> dict[str, Any]:
    """A body of one S3 key under ``prefix`` (POST /imports, POST /restores)."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["key"],
                    "properties": {
                        "key": {
                            "type": "string",
                            "description": f"S3 key of {what}, under {prefix} in the imports bucket",
                            "maxLength": 256,
                            # No control, format, surrogate, private-use or separator character.
                            "pattern": f"^{prefix}[^{refused_key_class(surrogates=False)}]*$",
                        }
                    },
                }
            }
        },
    }


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
        "committing": {
            "type": "boolean",
            "description": "A restore: its checked file is staged and being merged into the store. Failed with it, "
            "POST /restores with the same object finishes the merge",
        },
        "etag": {"type": "string"},
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
    409: _error("The store is not empty (a restore loads into an empty store only), or another restore is running"),
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


def _import_body() -> dict[str, Any]:
    """POST /imports: an access log under logs/ (no format), or another counter's export under
    imports/ with its format."""
    log = key_body("logs/", "an access log")["content"]["application/json"]["schema"]
    counter = key_body("imports/", "another counter's export (a zip)")["content"]["application/json"]["schema"]
    log["not"] = {"required": ["format"]}
    counter["required"] = ["key", "format"]
    counter["properties"]["format"] = {
        "type": "string",
        "enum": ["goatcounter-json", "plausible-csv"],
        "description": "the export's format (docs/imports.md)",
    }
    return {"required": True, "content": {"application/json": {"schema": {"oneOf": [log, counter]}}}}


REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/imports"): _import_body(),
    ("post", "/restores"): key_body("exports/", "an export"),
}
