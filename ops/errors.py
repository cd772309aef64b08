"""Errors are values that know how a client sees them: a message key with its parameters and an HTTP status.

The key is what the screens translate (``layouts.i18n.Text.error``); ``message`` is the same text in
English, for the API's JSON answers and the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from locales import API_LANG, Message, render


class OneMapError(Exception):
    """Base of every rule violation; ``status`` is the HTTP status the API answers with.

    ``problems`` (messages) lists every problem of a whole document at once (a rule set); the
    message is then those problems, one after another.
    """

    status = 400
    code = "bad_request"

    def __init__(
        self,
        key: str,
        params: Mapping[str, Any] | None = None,
        /,
        field: str | None = None,
        problems: list[Message] | None = None,
        **detail: Any,
    ):
        self.key = key
        self.params = dict(params or {})
        self.problems = list(problems or [])
        if self.problems:
            self.message = "; ".join(render(API_LANG, p["key"], p["params"]) for p in self.problems)
        else:
            self.message = render(API_LANG, key, self.params)
        super().__init__(self.message)
        self.field = field
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.problems:
            body["problems"] = [render(API_LANG, p["key"], p["params"]) for p in self.problems]
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


class TooManyRequests(OneMapError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(OneMapError):
    """A part the answer needs is missing on this server (not the client's fault, not a crash)."""

    status = 503
    code = "unavailable"
