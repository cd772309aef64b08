"""The phone's outbox: the actions a worker took, perhaps offline, sent and resent with a key each.

An entry moves a task (``task``: accept, arrive, resolve…) or, with ``case``, makes the worker's
on-site move on a case (``verify`` with ``answer`` true/false for 属实/不属实, ``check`` for 通过/不通过)
through ``ops.cases`` as the command page does; a move that lost a race is answered 409 with the stage.

Each key is applied at most once (``run_once`` over the idempotency table): a resend replays the
first answer, so an action that reached the server before the connection dropped is not done twice.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from api.idempotency import run_once
from data.store import Store
from ops import lifecycle
from ops.accounts import Actor
from ops.cases import SITE_MOVES, Cases
from ops.errors import Conflict, Invalid, OneMapError

MAX_BATCH = 20  # actions per send; the rest wait for the next one


@dataclass(frozen=True)
class Delivery:
    """The server's answer to one queued action; ``final`` False keeps it queued for a resend."""

    key: str
    task: int | None
    action: str
    status: int
    body: dict[str, Any]
    final: bool = True
    case: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def photo_bytes(data_url: str) -> bytes:
    """The bytes of an uploaded photo (a data URL)."""
    try:
        return base64.b64decode(data_url.partition(",")[2], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("error.outbox_photo", field="photo") from None


def _an_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# The body of each on-site move, from the worker's answer (属实 / 通过: true).
CASE_ANSWER = {"verify": "valid", "check": "passed"}


def deliver_case(store: Store, cases: Cases, actor: Actor, entry: dict[str, Any]) -> Delivery:
    """Apply one queued case move (``key``, ``case``, ``action``, ``answer``, ``note``) at most once."""
    key = entry.get("key")
    action = str(entry.get("action") or "")
    case_id = _an_id(entry.get("case"))
    try:
        if not isinstance(key, str):
            raise Invalid("error.outbox_key", field="key")
        if case_id is None:
            raise Invalid("error.outbox_case", field="case")
        if action not in SITE_MOVES.values():
            raise Invalid("error.case_action_unknown", {"action": action}, field="action")
        answer, note = entry.get("answer"), entry.get("note") or ""
        if not isinstance(answer, bool):
            raise Invalid("error.case_boolean", {"field": "answer"}, field="answer")
        if not isinstance(note, str):
            raise Invalid("error.outbox_note", field="note")
        fingerprint = hashlib.sha256(json.dumps(["case", case_id, action, answer, note]).encode()).hexdigest()

        def work() -> tuple[dict[str, Any], int]:
            moved = cases.act(actor, case_id, action, {CASE_ANSWER[action]: answer, "note": note})
            return {"stage": moved["stage"]}, 200

        body, status = run_once(store, actor, key, fingerprint, work)
    except Conflict as exc:  # the first send of this key is still running: ask again later
        return Delivery(str(key), None, action, exc.status, exc.to_dict(), final=False, case=case_id)
    except OneMapError as exc:
        return Delivery(str(key), None, action, exc.status, exc.to_dict(), case=case_id)
    return Delivery(key, None, action, status, body, case=case_id)


def deliver_one(store: Store, actor: Actor, entry: dict[str, Any], media_dir: str) -> Delivery:
    """Apply one queued action (``key``, ``task``, ``action``, ``note``, optional ``photo``) at most once."""
    key = entry.get("key")
    action = str(entry.get("action") or "")
    task = entry.get("task")
    task_id = task if isinstance(task, int) and not isinstance(task, bool) else None
    try:
        if not isinstance(key, str):
            raise Invalid("error.outbox_key", field="key")
        if task_id is None:
            raise Invalid("error.outbox_task", field="task")
        note = entry.get("note") or ""
        if not isinstance(note, str):
            raise Invalid("error.outbox_note", field="note")
        photo = photo_bytes(entry["photo"]) if isinstance(entry.get("photo"), str) else None
        what = [task_id, action, note, hashlib.sha256(photo).hexdigest() if photo is not None else None]
        fingerprint = hashlib.sha256(json.dumps(what).encode()).hexdigest()

        def work() -> tuple[dict[str, Any], int]:
            status = lifecycle.act_on_task(store, actor, task_id, action, note, photo, media_dir)
            return {"status": status}, 200

        body, status = run_once(store, actor, key, fingerprint, work)
    except Conflict as exc:  # the first send of this key is still running: ask again later
        return Delivery(str(key), task_id, action, exc.status, exc.to_dict(), final=False)
    except OneMapError as exc:
        return Delivery(str(key), task_id, action, exc.status, exc.to_dict())
    return Delivery(key, task_id, action, status, body)


def deliver(
    store: Store, actor: Actor, entries: list[Any], media_dir: str, cases: Cases | None = None
) -> list[Delivery]:
    """Apply a batch of queued actions (task actions and, given the case rules, case moves) in order."""
    out = []
    for entry in entries[:MAX_BATCH]:
        entry = entry if isinstance(entry, dict) else {}
        if "case" in entry and cases is not None:
            out.append(deliver_case(store, cases, actor, entry))
        else:
            out.append(deliver_one(store, actor, entry, media_dir))
    return out
