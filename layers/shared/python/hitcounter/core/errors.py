"""Typed errors. Adapters (the Redis store, S3 access) raise these from library errors;
``hitcounter.web.contract`` maps them to responses in one place.

Messages are written for the client: they never carry a host name, a password, a key
or a library's own error text (which can include the server address or the command).
"""

from __future__ import annotations


class AppError(Exception):
    status: int = 500
    code: str = "internal_error"
    message: str = "internal error"
    # Response headers the error carries (Retry-After, RateLimit-*), added by the contract.
    headers: dict[str, str] = {}

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class ConfigError(AppError):
    """The environment is invalid. Names the variable; raised once, at first use."""

    status = 500
    code = "misconfigured"


class BadRequest(AppError):
    status = 400
    code = "bad_request"
    message = "the request is malformed"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = "no live session: POST /session to start one"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "the request body is too large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "the body must be application/json"


class Unprocessable(AppError):
    status = 422
    code = "invalid_fields"
    message = "the request body is not valid for this resource"


class Forbidden(AppError):
    status = 403
    code = "access_denied"
    message = "this function may not read that object"


class InsufficientStorage(AppError):
    status = 507
    code = "insufficient_storage"
    message = "the object is larger than the free scratch space"


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "no such resource"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    message = "method not allowed for this resource"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__()
        self.allowed = sorted(allowed)


class BackendUnavailable(AppError):
    """Redis could not be reached, or did not answer in time. The client may retry."""

    status = 503
    code = "backend_unavailable"
    message = "the counter store is unavailable, retry shortly"

    def __init__(self, message: str | None = None, *, cause: str = "unavailable", permanent: bool = False) -> None:
        super().__init__(message)
        # A fixed category for the logs (hitcounter.data.redis_faults), never sent to the client.
        self.cause = cause
        self.permanent = permanent
