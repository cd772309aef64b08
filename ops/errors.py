"""Errors are values that know how a client sees them: a message and an HTTP status."""

from __future__ import annotations

from typing import Any


class OneMapError(Exception):
    """Base of every rule violation; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **detail: Any):
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.detail)
        return body


class Invalid(OneMapError):
    status = 422
    code = "invalid"


class Unauthorized(OneMapError):
    status = 401
    code = "unauthorized"


class Forbidden(OneMapError):
    status = 403
    code = "forbidden"


class NotFound(OneMapError):
    status = 404
    code = "not_found"


class Conflict(OneMapError):
    status = 409
    code = "conflict"
