"""Keyset paging: a statement ordered by an id column, resumed after the last id a page returned."""

from __future__ import annotations

from typing import Any


def keyset(stmt: Any, column: Any, after: int | None, ascending: bool) -> Any:
    """``stmt`` ordered by ``column`` (an id), keeping only ids beyond ``after`` in that order."""
    if after is not None:
        stmt = stmt.where(column > after if ascending else column < after)
    return stmt.order_by(column if ascending else column.desc())
