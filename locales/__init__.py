"""The text catalogs (one JSON file per language) and how a message, a key with parameters, becomes text.

``ops/`` and ``data/`` say what happened as a message (``msg("error.reason_required", what="cancel")``)
and never translate; the screens render it in the reader's language (``layouts.i18n.Text``), the API
and the logs in English (``API_LANG``). A message is plain JSON, so a stored warning keeps its words
as a key and reads in whichever language the screen showing it speaks.

Inside a text, ``{status:@status}`` names a code through the catalog (``status.<value>``, the code
itself when the catalog lacks it), and a parameter that is itself a message is rendered first.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent
LANGS = ("zh-CN", "en")
API_LANG = "en"

Message = dict[str, Any]  # {"key": "error.reason_required", "params": {"what": "cancel"}}


def msg(key: str, /, **params: Any) -> Message:
    """A message: its catalog key and the parameters its text names."""
    return {"key": key, "params": params}


@lru_cache(maxsize=len(LANGS))
def catalog(lang: str) -> dict[str, str]:
    """Every UI string of one language; raises on an unknown language."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return json.loads((FOLDER / f"{lang}.json").read_text(encoding="utf-8"))


class _Formatter(string.Formatter):
    def __init__(self, lang: str):
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith("@"):
            return catalog(self.lang).get(f"{format_spec[1:]}.{value}", str(value))
        if isinstance(value, Mapping) and "key" in value:
            return render(self.lang, value["key"], value.get("params"))
        return super().format_field(value, format_spec)


def render(lang: str, key: str, params: Mapping[str, Any] | None = None) -> str:
    """The text of ``key`` in ``lang`` with ``params`` filled in.

    A key missing from the catalog comes back as it is (the screen still says something); the
    catalog test fails on every such key, so none ships.
    """
    text = catalog(lang).get(key)
    if text is None:
        return key
    return _Formatter(lang).vformat(text, (), dict(params or {}))
