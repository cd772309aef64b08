"""What personal data leaves the system, and how much of it."""

from __future__ import annotations

from typing import Any

from data.models import OPEN_STAGES, OPEN_STATUSES, utcnow


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
