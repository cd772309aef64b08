"""What personal data leaves the system, and how much of it."""

from __future__ import annotations

import re
from typing import Any

from data.models import OPEN_STAGES, OPEN_STATUSES, utcnow

# What the public (Open311 reads, no login) may see at all: only citizens' service tickets. Fire,
# police (110), device alarms and visits are never public, nor the ticket categories that name a
# household's private trouble.
PUBLIC_KINDS = frozenset({"ticket"})
PRIVATE_CATEGORIES = frozenset({"邻里纠纷"})
# Public coordinates keep 3 decimals: 0.001° is 111 m north-south and ~100 m east-west at Guiyang
# (26.6° N), enough to find the pothole's street, not the caller's door.
PUBLIC_DECIMALS = 3
HIDDEN = "***"
_NUM = "0-9一二三四五六七八九十百零〇两"
# Order matters: an 18-digit ID number before the phone patterns that would eat part of it.
_PERSONAL = [
    re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx](?![0-9])"),  # 身份证
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail
    re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9][0-9](?:[\s-]?[0-9]{4}){2}(?![0-9])"),  # mobile
    re.compile(r"(?<![0-9])\(?0[1-9][0-9]{1,2}\)?[\s-]?[0-9]{7,8}(?:-[0-9]{1,4})?(?![0-9])"),  # landline
    re.compile(r"(?<![0-9])[0-9]{7,}(?![0-9])"),  # any other long number (a landline without area code, a card)
    # Plates: 贵A12345, 贵A·D12345 (new energy), with or without the separator.
    re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Za-z][·.\s-]?[A-Za-z0-9]{5,6}"),
    # Flats and rooms: 3单元502室, 5栋2单元1302, 12号楼3层301, 1-2-502.
    re.compile(
        rf"(?:[{_NUM}]+\s*(?:号楼|栋|幢|座|单元|层|楼)\s*)*[{_NUM}]+\s*(?:号楼|栋|幢|单元|室|户|房)"
        rf"(?:\s*[0-9]+\s*(?:号楼|栋|幢|单元|层|楼|室|号|户|房)?)*"
    ),
    re.compile(r"(?<![0-9])[0-9]{1,3}-[0-9]{1,2}-[0-9]{3,4}(?![0-9])"),
]


def mask_phone(phone: str | None) -> str | None:
    """Keep the first three and last four digits: 13812345678 → 138****5678."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def shown_incident(row: dict[str, Any]) -> dict[str, Any]:
    """An incident as screens and API clients see it: reporter phone masked, overdue worked out."""
    out = dict(row)
    out["reporter"] = {"name": out.pop("reporter_name"), "phone": mask_phone(out.pop("reporter_phone"))}
    now = utcnow()
    out["overdue"] = out["status"] in OPEN_STATUSES and out["due_at"] < now
    due = out.get("stage_due_at")
    out["stage_overdue"] = bool(due and out.get("stage") in OPEN_STAGES and due < now)
    return out


def scrub(text: str | None) -> str:
    """Free text fit for the public: phone, ID card, e-mail, plate and flat/room numbers hidden."""
    out = text or ""
    for pattern in _PERSONAL:
        out = pattern.sub(HIDDEN, out)
    return out


def public_point(lon: float | None, lat: float | None) -> tuple[float | None, float | None]:
    """A location rounded to PUBLIC_DECIMALS (~100 m)."""
    return (
        None if lon is None else round(lon, PUBLIC_DECIMALS),
        None if lat is None else round(lat, PUBLIC_DECIMALS),
    )
