"""API tokens expire, can be listed and revoked from the CLI, remember their last use (written at most
once a minute); the ingestion doors limit requests per token (429 + Retry-After), shared through Redis."""

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

import manage
from app import create_app, runtime_of
from config import Config
from data.models import ApiToken, User, utcnow
from ops.accounts import create_token, list_tokens
from ops.rate_limit import RateLimiter

TOKEN = "tokens-test-token-0123456789"
FIRE = {"kind": "fire", "category": "住宅火灾", "lon": 106.71, "lat": 26.58}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens")
    return create_app(
        Config(
            database_url=f"sqlite:///{folder / 't.db'}",
            grid_count=60,
            parking_spaces=60,
            bootstrap_token=TOKEN,
            media_dir=str(folder / "media"),
            rate_per_minute=3,
        )
    )


def get(app, token: str, path: str = "/api/v1/cursor"):
    return app.server.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def operator_id(store) -> int:
    with store.read() as s:
        return s.scalar(select(User.id).where(User.username == "operator"))


def test_a_token_expires_and_says_so(app):
    store = runtime_of(app).store
    token = create_token(store, operator_id(store), "short", days=1)
    assert get(app, token).status_code == 200
    with store.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.label == "short").values(expires_at=utcnow() - timedelta(seconds=1)))
    r = get(app, token)
    assert r.status_code == 401 and "expired" in r.get_json()["message"], r.text


def test_last_use_is_written_at_most_once_a_minute(app):
    store = runtime_of(app).store
    token = create_token(store, operator_id(store), "busy")
    writes: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert get(app, token).status_code == 200
        assert len(writes) == 1
        with store.transaction() as s:
            s.execute(
                update(ApiToken).where(ApiToken.label == "busy").values(last_used_at=utcnow() - timedelta(minutes=2))
            )
        writes.clear()
        assert get(app, token).status_code == 200
        assert len(writes) == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    busy = next(t for t in list_tokens(store) if t["label"] == "busy")
    assert utcnow() - busy["last_used_at"] < timedelta(minutes=1)


def test_cli_issues_with_the_default_expiry_lists_and_revokes(app, monkeypatch, capsys):
    config = runtime_of(app).config
    monkeypatch.setenv("ONEMAP_DATABASE_URL", config.database_url)
    monkeypatch.setenv("ONEMAP_TOKEN_DAYS", "7")
    assert manage.main(["create-token", "operator", "--label", "cli-a"]) == 0
    token_a = capsys.readouterr().out.strip()
    assert manage.main(["create-token", "operator", "--label", "cli-b", "--days", "0"]) == 0
    token_b = capsys.readouterr().out.strip()
    assert get(app, token_a).status_code == 200 and get(app, token_b).status_code == 200

    assert manage.main(["tokens"]) == 0
    listing = capsys.readouterr().out
    line_a = next(line for line in listing.splitlines() if "\tcli-a\t" in line)
    token_id_a, _user, prefix_a = line_a.split("\t")[:3]
    assert token_a.startswith(prefix_a) and token_a not in listing and token_b not in listing
    rows = {t["label"]: t for t in list_tokens(runtime_of(app).store)}
    assert timedelta(days=6, hours=23) < rows["cli-a"]["expires_at"] - rows["cli-a"]["created_at"] <= timedelta(days=7)
    assert rows["cli-b"]["expires_at"] is None and rows["cli-a"]["last_used_at"] is not None

    assert manage.main(["revoke-token", prefix_a]) == 0
    assert f"token {token_id_a} revoked" in capsys.readouterr().out
    assert get(app, token_a).status_code == 401 and get(app, token_b).status_code == 200
    token_id_b = str(rows["cli-b"]["id"])
    assert manage.main(["revoke-token", token_id_b]) == 0
    assert get(app, token_b).status_code == 401
    assert manage.main(["revoke-token", "no-such-token-at-all"]) == 2
    assert manage.main(["tokens"]) == 0
    assert "\trevoked" in next(line for line in capsys.readouterr().out.splitlines() if "\tcli-b\t" in line)


def test_an_ingestion_door_limits_each_token_with_429_and_retry_after(app):
    store = runtime_of(app).store
    mine, other = create_token(store, operator_id(store), "rate-a"), create_token(store, operator_id(store), "rate-b")
    client = app.server.test_client()
    body = {"positions": [{"worker_id": 1, "lon": 106.71, "lat": 26.58}]}

    def post(token: str):
        return client.post("/api/v1/workers/positions", json=body, headers={"Authorization": f"Bearer {token}"})

    assert [post(mine).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(mine)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"] == "too_many_requests" and "3" in refused.get_json()["message"]
    assert post(other).status_code == 200  # per token
    assert get(app, mine).status_code == 200  # reads are not ingestion doors
    form = {"api_key": mine, "service_code": "noise", "lat": "26.58", "long": "106.71"}
    assert [client.post("/open311/v2/requests.json", data=form).status_code for _ in range(4)][-1] == 429


def test_the_place_and_door_access_doors_are_limited_too(app):
    store = runtime_of(app).store
    token = create_token(store, operator_id(store), "rate-doors")
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/places", "/api/v1/access-events"):
        answers = [client.post(path, json=[], headers=headers).status_code for _ in range(4)]
        assert answers[-1] == 429 and 429 not in answers[:3], (path, answers)


def test_the_limit_is_shared_across_processes_through_redis(redis_url):
    clock = [1_000_000.0]
    first, second = (RateLimiter(5, redis_url, clock=lambda: clock[0]) for _ in range(2))
    answers = [(first if i % 2 else second).hit("door:abc").allowed for i in range(7)]
    assert answers == [True] * 5 + [False] * 2
    assert RateLimiter(5, None).hit("door:abc").allowed  # in-process counting knows nothing of Redis's
    clock[0] += 60
    assert first.hit("door:abc").allowed  # a new minute


def test_the_default_limit_leaves_the_simulator_and_bench_alone():
    assert Config().rate_per_minute >= 6000 and Config.from_env({}).rate_per_minute == Config().rate_per_minute
    limiter = RateLimiter(Config().rate_per_minute)
    assert all(limiter.hit("door:busy").allowed for _ in range(6000))
    assert RateLimiter(0).hit("x").allowed
