"""Reading what a client sends, one way for every door: JSON bodies and uploaded text files.

Uploaded CSV may come from Excel on a Chinese desktop: UTF-8, UTF-8 with a BOM, or GBK are read the
same through the API and through the screens' uploads (callbacks/ use ``data_url_text``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request

from ops.errors import Invalid

TEXT_ENCODINGS = ("utf-8-sig", "gbk")  # utf-8-sig also reads plain UTF-8; GBK is Excel's "CSV" in zh-CN


def decode_text(raw: bytes) -> str | None:
    """The text of an uploaded file in one of ``TEXT_ENCODINGS``; None when it is in none of them."""
    for encoding in TEXT_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def data_url_text(contents: str) -> str | None:
    """The text of a ``dcc.Upload``'s data URL (see ``decode_text``); None when it cannot be read."""
    try:
        raw = base64.b64decode(contents.partition(",")[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    return decode_text(raw)


def json_body() -> Any:
    """Any JSON value as the body, refusing an empty or malformed one."""
    if not request.data:
        raise Invalid("error.body_empty_json", field="body")
    body = request.get_json(silent=True)
    if body is None:
        raise Invalid("error.body_json", field="body")
    return body


def json_object(allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    """The JSON object body (empty means ``{}``), refusing malformed JSON, unknown fields and
    missing ones by name."""
    data = json_body() if request.data else {}
    if not isinstance(data, dict):
        raise Invalid("error.body_object", field="body")
    extra = sorted(set(data) - allowed)
    if extra:
        raise Invalid("error.field_unknown", {"name": extra[0]}, field=extra[0])
    for name in sorted(required):
        if name not in data:
            raise Invalid("error.field_required", {"name": name}, field=name)
    return data
