"""Who may read a photo: whoever may open its item (``ops.media.readable_photo``). The command centre
the whole city; the department that owns the case now; a grid worker the items of their own tasks
(and their grid); a name no item has is 404 for everyone; nobody signed in is sent to log in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data.models import Incident, Photo, User, Worker
from ops import lifecycle
from ops.accounts import SYSTEM, actor_for_user
from ops.errors import Forbidden
from ops.incidents import NewIncident, report
from ops.media import readable_photo
from tests.test_permissions import sign_in


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An item owned by nanming_cg's department, in neither signed-in worker's grid, on w00001's task,
    resolved by w00001 with a photo."""
    folder = tmp_path_factory.mktemp("media-access")
    app = create_app(
        Config(
            database_url=f"sqlite:///{folder / 'm.db'}",
            grid_count=60,
            parking_spaces=60,
            simulate=False,
            media_dir=str(folder / "media"),
            login_account_failures=1000,
            login_address_failures=100000,
        )
    )
    rt = runtime_of(app)
    with rt.store.read() as s:
        users = dict(s.execute(select(User.username, User.id)).all())
        workers = {
            name: s.execute(select(Worker.id, Worker.grid_id).where(Worker.user_id == users[name])).one()
            for name in ("w00001", "w00002")
        }
        department = s.scalar(select(User.department_id).where(User.username == "nanming_cg"))
        other_department = s.scalar(select(User.department_id).where(User.username == "nanming_jj"))
    taken = {w.grid_id for w in workers.values()}
    grid = next(int(g) for g in rt.index.ids if int(g) not in taken)
    spot = rt.index.polygons[list(rt.index.ids).index(grid)].representative_point()
    (item,) = report(
        rt.store, rt.index, SYSTEM, [NewIncident("ticket", "井盖", "井盖", spot.x, spot.y)], DEFAULT_SLA_MINUTES
    )
    with rt.store.transaction() as s:
        s.execute(update(Incident).where(Incident.id == item).values(department_id=department, grid_id=grid))
    task = lifecycle.assign(rt.store, SYSTEM, item, workers["w00001"].id)
    me = actor_for_user(rt.store, users["w00001"])
    lifecycle.act_on_task(rt.store, me, task, "accept")
    lifecycle.act_on_task(rt.store, me, task, "resolve", "修好了", _jpeg(), rt.config.media_dir)
    with rt.store.read() as s:
        name = s.scalar(select(Photo.name).where(Photo.incident_id == item, Photo.task_id == task))
    return {
        "app": app,
        "rt": rt,
        "item": item,
        "name": name,
        "users": users,
        "department": department,
        "other_department": other_department,
    }


def client_of(city: dict[str, Any], username: str | None) -> Any:
    client = city["app"].server.test_client()
    if username is not None:
        sign_in(client, username)
    return client


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("w00001", 200),  # the worker whose task it was
        ("w00002", 403),  # another worker, of another grid
        ("nanming_cg", 200),  # the owning department's staff
        ("city_cg", 200),  # staff of the department above it (the city's 城管局 over the district's)
        ("nanming_jj", 403),  # another department's staff
        ("operator", 200),
        ("supervisor", 200),
        ("admin", 200),
    ],
)
def test_a_photo_is_read_by_those_who_may_see_its_item(city, username, status):
    r = client_of(city, username).get(f"/media/{city['name']}")
    assert r.status_code == status, (username, r.status_code, r.text[:200])
    if status == 200:
        assert r.data == (Path(city["rt"].config.media_dir) / city["name"]).read_bytes()
        assert r.mimetype == "image/jpeg"
        cache = r.headers["Cache-Control"]
        assert "private" in cache and "no-store" in cache and "public" not in cache, cache
    else:
        assert r.get_json()["error"] == "forbidden"
        assert r.data != (Path(city["rt"].config.media_dir) / city["name"]).read_bytes()


def test_nobody_signed_in_is_sent_to_log_in(city):
    r = client_of(city, None).get(f"/media/{city['name']}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["operator", "w00001", "nanming_cg"])
def test_a_name_no_item_has_is_404_for_everyone(city, username):
    # The file exists on disk, but no item links it: it is nobody's to read (and its existence is not told).
    stray = "0123456789abcdef0123456789abcdef.jpg"
    (Path(city["rt"].config.media_dir) / stray).write_bytes(_jpeg())
    for name in (stray, "no-such.jpg", ".keep.jpg"):
        r = client_of(city, username).get(f"/media/{name}")
        assert r.status_code == 404, (username, name, r.status_code)


def test_a_case_handed_on_takes_its_photos_to_the_new_owner(city):
    rt, name = city["rt"], city["name"]
    old = actor_for_user(rt.store, city["users"]["nanming_cg"])
    new = actor_for_user(rt.store, city["users"]["nanming_jj"])
    worker = actor_for_user(rt.store, city["users"]["w00001"])
    assert readable_photo(rt.store, old, name) == name
    with rt.store.transaction() as s:
        s.execute(update(Incident).where(Incident.id == city["item"]).values(department_id=city["other_department"]))
    try:
        assert readable_photo(rt.store, new, name) == name
        assert readable_photo(rt.store, worker, name) == name  # the worker's task stays theirs
        with pytest.raises(Forbidden):
            readable_photo(rt.store, old, name)
    finally:
        with rt.store.transaction() as s:
            s.execute(update(Incident).where(Incident.id == city["item"]).values(department_id=city["department"]))
