"""Parsers for what clients send, each with its bounds: a value outside them is an ``Invalid`` (4xx)
naming the field, never an overflow deeper down (SQLite and PostgreSQL hold 64-bit integers; Python's
datetime holds years 1..9999)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ops.errors import Invalid

MAX_ID = 2**63 - 1  # the largest integer a database column holds
# Times a client may send: anything outside is a typo or an attack, not an event.
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2100, 1, 1)
MAX_JSON_DEPTH = 64


def whole_number(raw: str, name: str, lo: int = 0, hi: int = MAX_ID) -> int:
    """A query-string integer: ASCII digits only (``"²".isdigit()`` is true), within ``lo..hi``."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not lo <= int(raw) <= hi:
        raise Invalid("error.whole_number", {"name": name, "lo": lo, "hi": hi}, field=name)
    return int(raw)


def whole_numbers(raw: str, name: str) -> list[int]:
    """A comma-separated list of ids (``1,2,3``)."""
    return [whole_number(part.strip(), name) for part in raw.split(",")]


def json_integer(value: Any, name: str, lo: int = -MAX_ID, hi: int = MAX_ID) -> int:
    """A JSON integer (not a boolean, not a float) within ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid("error.whole_number", {"name": name, "lo": lo, "hi": hi}, field=name)
    return value


def timestamp(value: Any, name: str) -> datetime:
    """ISO 8601 (with or without zone) or Unix milliseconds, as naive UTC within EARLIEST..LATEST."""
    when: datetime | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000.0
        if math.isfinite(seconds) and EARLIEST.replace(tzinfo=UTC).timestamp() <= seconds:
            if seconds < LATEST.replace(tzinfo=UTC).timestamp():
                when = datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
        except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 is past the last year
            when = None
    if when is None or not EARLIEST <= when < LATEST:
        raise Invalid("error.time_format", {"name": name, "lo": EARLIEST.year, "hi": LATEST.year}, field=name)
    return when


def has_lone_surrogate(text: str) -> bool:
    """JSON's ``\\ud800`` decodes to a string no database or UTF-8 encoder takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def loads_json(raw: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` (never RecursionError) for documents nested deeper
    than MAX_JSON_DEPTH or holding lone surrogates, so every caller answers them as bad JSON."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise ValueError("JSON string holds a lone surrogate")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value
