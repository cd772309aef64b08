"""The rule set: rule types and their parameters, parsing and checking, the file and the stored setting.

A rule set comes from ``rules.toml`` (or, once an admin stores one, from the ``rules`` setting every
process shares). To add a rule type, name its parameters in ``PARAMS`` here and add its detector to
``ops.early_warning.detectors.DETECTORS``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from data.models import Setting
from data.store import Store, record_event
from locales import Message, msg
from ops.accounts import Actor
from ops.errors import Forbidden, Invalid

LEVELS = ("high", "medium", "low")
SETTING = "rules"

# Each rule type: its parameters as (name, type, lowest allowed value or None, default or REQUIRED).
REQUIRED = object()
PARAMS: dict[str, dict[str, tuple[type, float | None, Any]]] = {
    "ticket_cluster": {
        "count": (int, 2, REQUIRED),
        "hours": (float, 0.1, REQUIRED),
        "categories": (list, None, []),
        "kinds": (list, None, ["ticket"]),
    },
    "parking_occupancy": {"percent": (float, 1, REQUIRED), "minutes": (float, 0, REQUIRED)},
    "unassigned": {"kinds": (list, None, ["fire"]), "minutes": (float, 0, REQUIRED)},
    "worker_silent": {"minutes": (float, 1, REQUIRED)},
    "device_alarm": {"minutes": (float, 1, 60)},
    "place_activity": {
        "minutes": (float, 1, REQUIRED),
        "excess": (int, 1, REQUIRED),
        "place_kinds": (list, None, []),
    },
}
COMMON = {"id", "type", "name", "level", "create_task", "enabled"}
HIGHEST = {"percent": 100}  # parameters with an upper bound too


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    name: str
    level: str = "medium"
    create_task: bool = False
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("params"))
        return out


def parse_rules(doc: Any) -> list[Rule]:
    """Rules from a parsed document (``{"rule": [...]}`` or a list); every problem in one ``Invalid``.

    Each problem is a message naming its rule (``rules.where.*``), so the rules page can show it in
    the reader's language; the API answers the same problems in English.
    """
    raw = doc.get("rule", doc.get("rules")) if isinstance(doc, dict) else doc
    if not isinstance(raw, list):
        raise Invalid("error.rules_not_list")
    problems: list[Message] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = msg("rules.where.n", n=i + 1)
        if not isinstance(item, dict):
            problems.append(msg("rules.problem.table", where=where))
            continue
        rid, rtype = item.get("id"), item.get("type")
        if not isinstance(rid, str) or not rid.strip() or len(rid) > 64:
            problems.append(msg("rules.problem.id", where=where))
            continue
        where = msg("rules.where.id", id=rid)
        if rid in seen:
            problems.append(msg("rules.problem.id_twice", where=where))
        seen.add(rid)
        if rtype not in PARAMS:
            problems.append(msg("rules.problem.type", where=where, types=", ".join(PARAMS)))
            continue
        spec = PARAMS[rtype]
        unknown = set(item) - COMMON - set(spec)
        if unknown:
            problems.append(msg("rules.problem.unknown_keys", where=where, keys=", ".join(sorted(unknown))))
        level = item.get("level", "medium")
        if level not in LEVELS:
            problems.append(msg("rules.problem.level", where=where, levels=", ".join(LEVELS)))
        flags = {k: item.get(k, default) for k, default in (("create_task", False), ("enabled", True))}
        for key, value in flags.items():
            if not isinstance(value, bool):
                problems.append(msg("rules.problem.bool", where=where, key=key))
        params: dict[str, Any] = {}
        for key, (kind, lowest, default) in spec.items():
            value = item.get(key, default)
            if value is REQUIRED:
                problems.append(msg("rules.problem.required", where=where, key=key))
                continue
            if kind is list:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(msg("rules.problem.texts", where=where, key=key))
                    continue
            elif isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
                whole = "rules.problem.whole_number" if kind is int else "rules.problem.number"
                problems.append(msg(whole, where=where, key=key))
                continue
            elif lowest is not None and value < lowest:
                problems.append(msg("rules.problem.at_least", where=where, key=key, lowest=f"{lowest:g}"))
                continue
            elif key in HIGHEST and value > HIGHEST[key]:
                problems.append(msg("rules.problem.at_most", where=where, key=key, highest=f"{HIGHEST[key]:g}"))
                continue
            params[key] = kind(value)
        rules.append(Rule(rid, rtype, str(item.get("name") or rid), level, **flags, params=params))
    if problems:
        raise Invalid("error.rules_invalid", field="rules", problems=problems)
    return rules


def load_file(path: str | Path) -> list[Rule]:
    try:
        with open(path, "rb") as fh:
            return parse_rules(tomllib.load(fh))
    except tomllib.TOMLDecodeError as exc:
        raise Invalid("error.rules_toml", {"path": str(path), "reason": str(exc)}, field="rules") from exc


def current_rules(store: Store, path: str | Path) -> list[Rule]:
    """The stored rule set when an admin saved one, else the file's."""
    with store.read() as s:
        stored = s.scalar(select(Setting.value).where(Setting.key == SETTING))
    if stored is not None:
        return parse_rules(json.loads(stored))
    return load_file(path)


def save_rules(store: Store, actor: Actor, doc: Any) -> list[Rule]:
    """Validate and store a rule set for every process (admins only); the change is an event."""
    if actor.role != "admin":
        raise Forbidden("error.rules_admin_only")
    rules = parse_rules(doc)
    value = json.dumps({"rules": [r.to_dict() for r in rules]}, ensure_ascii=False)
    with store.transaction() as s:
        if s.get(Setting, SETTING) is None:
            s.add(Setting(key=SETTING, value=value))
        else:
            s.execute(update(Setting).where(Setting.key == SETTING).values(value=value))
        record_event(s, "rules.saved", "rules", None, actor.name, {"ids": [r.id for r in rules]})
    return rules
