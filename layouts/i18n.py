"""The UI text catalog: zh-CN by default, English on ONEMAP_LANG=en."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from config import CITY_TIMEZONE

CITY_TZ = ZoneInfo(CITY_TIMEZONE)

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGS = ("zh-CN", "en")


@lru_cache(maxsize=len(LANGS))
def catalog(lang: str) -> dict[str, str]:
    """Every UI string of one language; raises on an unknown language."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


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


def local(when: datetime) -> datetime:
    """A stored time (naive UTC) on the city's clock, as every screen shows times."""
    return when.replace(tzinfo=UTC).astimezone(CITY_TZ)
