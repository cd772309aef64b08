"""Keyset pagination for every API list: ``after=<id>``, ``limit`` and ``order``, a ``next`` link.

A page is the items whose id lies beyond ``after`` in the list's order (ids descending for the
newest-first lists, ascending for the others, or as ``order`` says), so a client reads any number of
items, page by page, each exactly once even while new ones arrive: an id never moves, unlike an offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from ops.errors import Invalid, OneMapError

MAX_LIMIT = 1000
MAX_ID = 2**63 - 1
ORDERS = ("asc", "desc")


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
