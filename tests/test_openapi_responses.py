"""The OpenAPI description is valid OpenAPI 3.0 and lists the answers the app gives around its views:
413 on every route with a body, 429 (with Retry-After) on exactly the doors that are rate limited,
503 (with Retry-After) everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from app import create_app
from config import Config

TOKEN = "openapi-token-0123456789abc"
H = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi")
    return create_app(
        Config(
            database_url=f"sqlite:///{folder / 'o.db'}",
            grid_count=60,
            parking_spaces=60,
            simulate=False,
            bootstrap_token=TOKEN,
            media_dir=str(folder / "media"),
            rate_per_minute=1,  # a limited door's second request within the minute is 429
        )
    )


@pytest.fixture(scope="module")
def document(app) -> dict[str, Any]:
    r = app.server.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_the_description_is_valid_openapi_3(document):
    validate(document)  # raises naming the first invalid part; every $ref must resolve


def test_every_route_with_a_body_lists_413_and_every_route_503_with_retry_after(document):
    for path, method, op in operations(document):
        answers = op["responses"]
        if "requestBody" in op:
            assert answers.get("413") == {"$ref": "#/components/responses/TooLarge"}, (method, path)
        else:
            assert "413" not in answers, (method, path)
        if path == "/api/v1/health":
            assert "503" in answers  # its own: the status body, store down
            continue
        assert answers.get("503") == {"$ref": "#/components/responses/Unavailable"}, (method, path)
    components = document["components"]
    for name in ("RateLimited", "Unavailable"):
        assert components["responses"][name]["headers"]["Retry-After"] == {"$ref": "#/components/headers/RetryAfter"}
    assert components["headers"]["RetryAfter"]["schema"]["type"] == "integer"


def test_429_is_listed_on_exactly_the_doors_that_answer_it(app, document):
    """Every documented operation, twice within the minute: the second is 429 where the spec says so."""
    client = app.server.test_client()
    limited, listed = set(), set()
    for path, method, op in operations(document):
        url = path.replace("{id}", "999999")
        kwargs: dict[str, Any] = {"headers": H}
        if "requestBody" in op:
            kwargs["json"] = {}
        client.open(url, method=method.upper(), **kwargs)
        second = client.open(url, method=method.upper(), **kwargs)
        if second.status_code == 429:
            limited.add((path, method))
            assert int(second.headers["Retry-After"]) >= 1, (method, path)
            assert second.get_json()["error"] == "too_many_requests"
        if "429" in op["responses"]:
            listed.add((path, method))
            assert op["responses"]["429"] == {"$ref": "#/components/responses/RateLimited"}
    assert limited, "no door answered 429 at one request per minute"
    assert listed == limited


def test_a_body_over_the_limit_is_413_as_listed(app, document):
    assert "413" in document["paths"]["/api/v1/rules"]["put"]["responses"]
    big = b"x" * (app.server.config["MAX_CONTENT_LENGTH"] + 1)
    r = app.server.test_client().put("/api/v1/rules", data=big, headers={**H, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.get_json()["error"] == "payload_too_large"
