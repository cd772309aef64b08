"""The phone page's server side, through the real Dash endpoint as a logged-in worker: the outbox is
applied once per key (a resend replays the first answer), stale actions are refused by name, and
the poll redraws the inbox only when the worker's own tasks change."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from app import runtime_of
from config import DEFAULT_SLA_MINUTES
from data.models import Event, IdempotencyKey, Task, Worker
from ops.accounts import SYSTEM
from ops.incidents import NewIncident, report
from ops.lifecycle import assign, reassign


def call(app, client, first_input: str, inputs: list[Any], state: list[Any]) -> tuple[int, dict[str, Any]]:
    """Post one callback as the browser does: the callback whose first input is ``first_input``."""
    key, spec = next((k, v) for k, v in app.callback_map.items() if v["inputs"][0]["id"] == first_input)
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]} for part in key.strip(".").split("...")
    ]
    payload = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [{**dep, "value": v} for dep, v in zip(spec["inputs"], inputs, strict=True)],
        "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"],
        "state": [{**dep, "value": v} for dep, v in zip(spec["state"], state, strict=True)],
    }
    r = client.post("/_dash-update-component", json=payload)
    return r.status_code, (r.get_json() or {}).get("response", {}) if r.status_code == 200 else {}


def send(app, client, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    status, response = call(app, client, "worker-flush", [{"entries": list(entries), "at": 1}], [None])
    assert status == 200, status
    return response["worker-sent"]["data"]["results"]


def fire_for(rt, worker_id: int = 1) -> tuple[int, int]:
    """A fire in the worker's grid, assigned to them: (item id, task id)."""
    with rt.store.read() as s:
        grid = s.get(Worker, worker_id).grid_id
    p = rt.index.polygons[list(rt.index.ids).index(grid)].representative_point()
    fire = NewIncident("fire", "住宅火灾", "住宅火灾", p.x, p.y)
    (iid,) = report(rt.store, rt.index, SYSTEM, [fire], DEFAULT_SLA_MINUTES)
    assign(rt.store, SYSTEM, iid, worker_id)
    with rt.store.read() as s:
        return iid, s.scalar(select(Task.id).where(Task.incident_id == iid))


def count(rt, kind: str, iid: int) -> int:
    with rt.store.read() as s:
        return s.scalar(select(func.count()).where(Event.kind == kind, Event.entity_id == iid))


def task_status(rt, task_id: int) -> str:
    with rt.store.read() as s:
        return s.get(Task, task_id).status


def test_a_resent_action_is_applied_once_and_replays_its_answer(app, as_role):
    rt = runtime_of(app)
    iid, task = fire_for(rt)
    client = as_role("worker")
    entry = {"key": "k-accept-1", "user": 1, "task": task, "action": "accept", "note": "马上到"}
    first = send(app, client, entry)
    assert first == [{"key": "k-accept-1", "final": True, "ok": True, "text": "已接收"}]
    assert task_status(rt, task) == "accepted"
    # The answer was lost on the way back: the phone sends the same key again, three times.
    for _ in range(3):
        assert send(app, client, entry) == first
    assert count(rt, "task.accept", iid) == 1
    with rt.store.read() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == "k-accept-1")) == 1
    # The same key for another action is refused, and nothing happens.
    (other,) = send(app, client, {**entry, "action": "arrive"})
    assert other["final"] and not other["ok"] and "Idempotency-Key" in other["text"]
    assert task_status(rt, task) == "accepted"


def test_stale_actions_are_refused_by_name(app, as_role):
    rt = runtime_of(app)
    iid, task = fire_for(rt)
    client = as_role("worker")
    (done,) = send(app, client, {"key": "a", "task": task, "action": "accept"})
    assert done["ok"]
    # A second accept (another tap, another key): the task is already accepted.
    (again,) = send(app, client, {"key": "b", "task": task, "action": "accept"})
    assert again["final"] and not again["ok"]
    assert again["text"] == f"「接收」未执行：#{iid} 住宅火灾 当前状态为「已接收」"
    # The operator gives the item to someone else while the phone was offline.
    reassign(rt.store, SYSTEM, iid, 2)
    (gone,) = send(app, client, {"key": "c", "task": task, "action": "arrive"})
    assert gone["final"] and not gone["ok"]
    assert gone["text"] == f"「到场」未执行：#{iid} 住宅火灾 已不再是你的任务"
    assert count(rt, "task.arrive", iid) == 0
    # A malformed entry is answered (and so leaves the outbox) instead of being retried forever.
    (bad,) = send(app, client, {"key": "d", "task": "x", "action": "accept"})
    assert bad["final"] and not bad["ok"]


def test_resolve_with_a_note_and_photo_from_the_outbox(app, as_role):
    rt = runtime_of(app)
    iid, task = fire_for(rt)
    client = as_role("worker")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    photo = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    send(app, client, {"key": "r0", "task": task, "action": "accept"})
    entry = {"key": "r1", "task": task, "action": "resolve", "note": "已扑灭", "photo": photo}
    assert send(app, client, entry)[0]["ok"] and send(app, client, entry)[0]["ok"]
    with rt.store.read() as s:
        row = s.get(Task, task)
        events = s.scalars(select(Event).where(Event.kind == "task.resolve", Event.entity_id == iid)).all()
    assert row.status == "resolved" and row.note == "已扑灭"
    assert len(events) == 1 and events[0].data.get("photo")


def test_nobody_cannot_send(app):
    rt = runtime_of(app)
    _, task = fire_for(rt)
    status, _ = call(app, app.server.test_client(), "worker-flush", [{"entries": [{"key": "z", "task": task}]}], [None])
    assert status == 401
    assert task_status(rt, task) == "assigned"


def test_the_poll_redraws_the_inbox_only_when_the_workers_own_tasks_change(app, as_role):
    rt = runtime_of(app)
    client = as_role("worker")
    _, task = fire_for(rt)
    cursor = rt.store.latest_event_id()
    status, first = call(app, client, "worker-poll", [1], [0, None])
    assert status == 200 and "worker-inbox" in first and f'"task": {task}' in json.dumps(first["worker-inbox"])
    digest = first["worker-digest"]["data"]
    assert first["worker-cursor"]["data"] == cursor
    # Other items change in the city (someone else's fires): the cursor moves, the inbox stays.
    iid_other, _ = fire_for(rt, worker_id=2)
    status, idle = call(app, client, "worker-poll", [2], [cursor, digest])
    assert status == 200 and idle["worker-cursor"]["data"] > cursor
    assert "worker-inbox" not in idle and "worker-digest" not in idle  # nothing of this worker changed
    assert "worker-heartbeat" in idle and idle["worker-live"]["children"] == "实时"
    # The worker's own task changes: now the inbox is redrawn.
    cursor = idle["worker-cursor"]["data"]
    reassign(rt.store, SYSTEM, iid_other, 1)
    status, redrawn = call(app, client, "worker-poll", [3], [cursor, digest])
    assert "worker-inbox" in redrawn and redrawn["worker-digest"]["data"]["inbox"] != digest["inbox"]
