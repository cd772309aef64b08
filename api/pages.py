"""Keyset pagination for every API list: ``after=<id>``, ``limit`` and ``order``, a ``next`` link.

A page is the items whose id lies beyond ``after`` in the list's order (ids descending for the
newest-first lists, ascending for the others, or as ``order`` says), so a client reads any number of
items, page by page, each exactly once even while new ones arrive: an id never moves, unlike an offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Response, current_app, request

from ops.errors import Invalid, OneMapError

MAX_LIMIT = 1000
MAX_ID = 2**63 - 1
ORDERS = ("asc", "desc")
# Flask's jsonify sorts keys and writes compact ASCII; a stored time is naive UTC, written as
# `isoformat(timespec="seconds") + "Z"` (orjson truncates the microseconds alike).
_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
# After `backslashreplace`, what Python's json writes otherwise: U+0080-U+00FF as \u00XX (not \xXX),
# astral characters as a surrogate pair (not \UXXXXXXXX), DEL as \u007f. An escaped backslash is
# matched first so that the text `\x41` in a value (written `\\x41`) is left alone.
_NOT_PYTHON_ESCAPES = re.compile(rb"\\\\|\\x[0-9a-f]{2}|\\U[0-9a-f]{8}|\x7f")


class BadCursor(OneMapError):
    status = 400
    code = "bad_cursor"


@dataclass(frozen=True)
class Page:
    """What one request asks of a list: ids beyond ``after`` (None: from the start), at most ``limit``."""

    after: int | None
    limit: int
    ascending: bool

    def cut(self, rows: list[dict[str, Any]], key: str = "id") -> tuple[list[dict[str, Any]], str | None]:
        """The page out of ``limit + 1`` rows read, and the link to the next page (None on the last)."""
        if len(rows) <= self.limit:
            return rows, None
        rows = rows[: self.limit]
        return rows, next_path(rows[-1][key])


def page_args(default_limit: int = 100, ascending: bool = False, max_limit: int = MAX_LIMIT) -> Page:
    """``after``, ``limit`` and ``order`` from the query string (a malformed ``after`` is 400)."""
    raw = request.args.get("after")
    after = None
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
            raise BadCursor("error.after_format", field="after")
        after = int(raw)
    limit = default_limit
    raw = request.args.get("limit")
    if raw is not None:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= max_limit:
            raise Invalid("error.limit_range", {"max": max_limit}, field="limit")
        limit = int(raw)
    order = request.args.get("order")
    if order is not None and order not in ORDERS:
        allowed = {"name": "order", "value": order, "allowed": ", ".join(ORDERS)}
        raise Invalid("error.value_unknown", allowed, field="order")
    return Page(after, limit, ascending if order is None else order == "asc")


def next_path(last_id: int) -> str:
    """This request's path and query (every filter kept) with ``after`` set to ``last_id``."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
    return f"{request.path}?{urlencode([*args, ('after', str(last_id))])}"


def linked(response: Response, next_link: str | None) -> Response:
    """``response`` with a ``Link: <next>; rel="next"`` header when there is a next page."""
    if next_link is not None:
        response.headers["Link"] = f'<{next_link}>; rel="next"'
    return response


def listing(
    page: Page,
    fetch: Callable[[int | None, int, bool], list[dict[str, Any]]],
    jsonify: Callable[[Any], Response],
    key: str = "id",
) -> Response:
    """``{"count", "items", "next"}`` (and the Link header) for one page read by ``fetch(after, limit,
    ascending)``; ``key`` names the id the page goes by."""
    items, nxt = page.cut(fetch(page.after, page.limit + 1, page.ascending), key)
    return linked(jsonify({"count": len(items), "items": items, "next": nxt}), nxt)


def _python_escape(match: re.Match[bytes]) -> bytes:
    found = match[0]
    if found == b"\\\\":
        return found
    char = "\x7f" if found == b"\x7f" else chr(int(found[2:], 16))
    return encode_basestring_ascii(char)[1:-1].encode()


def as_python_json(raw: bytes) -> bytes:
    """orjson's UTF-8 ``raw`` escaped to ASCII exactly as ``json.dumps(ensure_ascii=True)`` writes it."""
    if raw.isascii() and b"\x7f" not in raw:
        return raw
    out = raw.decode().encode("ascii", "backslashreplace")
    if b"\\x" in out or b"\\U" in out or b"\x7f" in out:
        out = _NOT_PYTHON_ESCAPES.sub(_python_escape, out)
    return out


def plain_floats(items: Iterable[dict[str, Any]], keys: tuple[str, ...]) -> bool:
    """Whether every float under ``keys`` is one orjson writes as Python does: finite, and 0 or
    within 1e-4 ≤ |x| < 1e16 (beyond, Python writes an exponent that orjson writes otherwise)."""
    for item in items:
        for key in keys:
            v = item[key]
            if type(v) is float and v != 0 and not 1e-4 <= abs(v) < 1e16:
                return False
    return True


def json_answer(body: Any, fallback: Callable[[Any], Response]) -> Response:
    """``body`` answered with the very bytes ``fallback`` (``jsonify`` of the body with its times as
    ``_plain`` writes them) would send, encoded by orjson straight from the values: sorted keys, ASCII,
    naive UTC datetimes. ``fallback`` answers what orjson cannot write alike (a value of another type,
    an integer beyond 64 bits, a lone surrogate) and a pretty-printing (debug) app. The caller vouches
    for the floats (``plain_floats``) and that every datetime is naive."""
    provider = current_app.json
    compact = getattr(provider, "compact", None)
    pretty = compact is False or (compact is None and current_app.debug)
    if pretty or not getattr(provider, "sort_keys", False) or not getattr(provider, "ensure_ascii", False):
        return fallback(body)
    try:
        raw = orjson.dumps(body, option=_ORJSON)
    except orjson.JSONEncodeError:
        return fallback(body)
    return current_app.response_class(as_python_json(raw) + b"\n", mimetype=provider.mimetype)
