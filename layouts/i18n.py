"""The UI text catalog: zh-CN by default, English on ONEMAP_LANG=en.

This is the edge where messages become words: ``ops/`` and ``data/`` hand over message keys with
parameters (errors, rule problems, warning titles) and ``Text`` renders them in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from config import CITY_TIMEZONE
from locales import LANGS, Message, catalog, render

if TYPE_CHECKING:
    from ops.errors import OneMapError

__all__ = ["CITY_TZ", "LANGS", "Text", "catalog", "local"]

CITY_TZ = ZoneInfo(CITY_TIMEZONE)


class Text:
    """Look up UI strings of one language: ``t("kpi.overdue")``."""

    def __init__(self, lang: str):
        self.lang = lang
        self._strings = catalog(lang)

    def __call__(self, key: str) -> str:
        return self._strings[key]

    def get(self, key: str, default: str) -> str:
        """A string that may have no translation yet (e.g. an event kind added later)."""
        return self._strings.get(key, default)

    def message(self, message: Message) -> str:
        """A message (key and parameters) from ``ops/`` or ``data/`` in this language."""
        return render(self.lang, message["key"], message.get("params"))

    def error(self, exc: OneMapError) -> str:
        """What a screen says about a refused action: the error's key in this language."""
        if exc.problems:
            return "; ".join(self.problems(exc))
        return render(self.lang, exc.key, exc.params)

    def problems(self, exc: OneMapError) -> list[str]:
        """Every problem of a refused document (a rule set), one line each; else the error itself."""
        return [self.message(p) for p in exc.problems] or [self.error(exc)]

    def warning_title(self, row: Mapping[str, Any]) -> str:
        """A stored warning's title in this language; rows raised before titles had keys read as stored."""
        if row.get("title_key"):
            return render(self.lang, row["title_key"], row.get("title_params"))
        return row["title"]

    def rule_name(self, rule_id: str, rule_type: str, name: str | None = None) -> str:
        """What a rule is called: its own name when it has one, else its type's name."""
        if name and name != rule_id:
            return name
        return self.get(f"rules.typename.{rule_type}", rule_id)


def local(when: datetime) -> datetime:
    """A stored time (naive UTC) on the city's clock, as every screen shows times."""
    return when.replace(tzinfo=UTC).astimezone(CITY_TZ)
