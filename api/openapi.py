"""The OpenAPI 3 description of /api/v1, served at /api/openapi.json and used by the fuzz tests."""

from __future__ import annotations

from typing import Any

from api.v1 import CASE_FIELDS, CASE_REQUIRED
from data.models import KINDS, STAGES, STATUSES
from geo.crs import SYSTEMS
from locales import LANGS
from ops import evaluation
from ops.ingest import ALARM_TYPES, PARKING_EVENTS, REPORT_KINDS

ID = {"type": "integer", "minimum": 1}
ERROR = {"$ref": "#/components/schemas/Error"}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
# Keyset pages (api/pages.py): ids beyond ``after`` in the list's order; a malformed ``after`` is 400.
PAGE = [
    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
]


# Answers no view raises itself, met before or around it: a body over ONEMAP_MAX_BODY_MB (api/limits.py)
# on a route with a body; a door's per-token minute used up (api/ingest.py ``rate_limited``) on the doors
# listed here; the store down or too contended (api/v1.py ``store_error_answer``) on any route.
RATE_LIMITED = frozenset(
    {
        ("/api/v1/incidents", "post"),
        ("/api/v1/parking/events", "post"),
        ("/api/v1/workers/positions", "post"),
        ("/api/v1/alarms", "post"),
        ("/api/v1/alerts/cap", "post"),
        ("/api/v1/places", "post"),
        ("/api/v1/access-events", "post"),
    }
)
TOO_LARGE = {"$ref": "#/components/responses/TooLarge"}
RATE_LIMITED_ANSWER = {"$ref": "#/components/responses/RateLimited"}
UNAVAILABLE = {"$ref": "#/components/responses/Unavailable"}
RETRY_AFTER = {"$ref": "#/components/headers/RetryAfter"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok: str = "200", *errors: str) -> dict[str, Any]:
    out: dict[str, Any] = {ok: {"description": "success", **_json({"type": "object"})}}
    for code in ("401", *errors):
        out[code] = {"description": "error", **_json(ERROR)}
    return out


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out = {"type": "object", "properties": props, "additionalProperties": False}
    return {**out, "required": required} if required else out  # OpenAPI 3.0: no empty ``required``


LOCATION = {"lon": {"type": "number"}, "lat": {"type": "number"}, "crs": {"type": "string", "enum": list(SYSTEMS)}}
TEXT = {"type": "string", "maxLength": 2000}
CASE_FIELD_SCHEMAS: dict[str, Any] = {
    "note": TEXT,
    "reason": TEXT,
    "department_id": ID,
    "valid": {"type": "boolean"},
    "passed": {"type": "boolean"},
    "approve": {"type": "boolean"},
    "satisfied": {"type": "boolean"},
    "until": {"type": "string", "format": "date-time"},
}
# Fields a move needs to succeed beyond those the API itself insists on (ops/cases.py refuses a move
# without them, or with blank text, as 422 naming the field).
CASE_NEEDS = {
    "void": {"reason"},
    "return": {"reason"},
    "escalate": {"reason"},
    "handled": {"note"},
    "hold": {"reason"},
    "urge": {"note"},
    "extension": {"approve"},
    "callback": {"satisfied"},
}


def _case_paths(id_param: list[dict[str, Any]]) -> dict[str, Any]:
    """POST /incidents/{id}/<action> for every case move: 409 names the stage met, 403 a case not the actor's."""
    return {
        f"/api/v1/incidents/{{id}}/{action}": {
            "post": {
                "summary": f"Case move: {action}",
                "parameters": id_param,
                "requestBody": {
                    "required": False,
                    **_json(
                        _obj(
                            {name: CASE_FIELD_SCHEMAS[name] for name in sorted(fields)},
                            sorted(CASE_REQUIRED.get(action, set()) | CASE_NEEDS.get(action, set())),
                        )
                    ),
                },
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        }
        for action, fields in CASE_FIELDS.items()
    }


def _department_paths(id_param: list[dict[str, Any]]) -> dict[str, Any]:
    body = _obj(
        {
            "code": {"type": "string", "maxLength": 128},
            "name": {"type": "string", "minLength": 1, "maxLength": 128},
            "parent_id": ID,
            "kind": {"type": "string", "maxLength": 128},
            "categories": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64}},
            "jurisdiction": {"type": "object", "description": "GeoJSON Polygon or MultiPolygon (WGS-84)"},
            "districts": {"type": "array", "items": {"type": "string"}},
        },
        ["name"],
    )
    imported = _obj({"geojson": {"type": "object"}, "categories_csv": {"type": "string"}}, ["geojson"])
    return {
        "/api/v1/departments": {
            "get": {
                "summary": "Every department",
                "parameters": [LIMIT, *PAGE],
                "responses": _responses("200", "400", "422"),
            },
            "post": {
                "summary": "Create a department (admin)",
                "requestBody": {"required": True, **_json(body)},
                "responses": _responses("201", "403", "404", "409", "422"),
            },
        },
        "/api/v1/departments/{id}": {
            "put": {
                "summary": "Replace a department (admin)",
                "parameters": id_param,
                "requestBody": {"required": True, **_json(body)},
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        },
        "/api/v1/departments/import": {
            "post": {
                "summary": "Departments from a GeoJSON FeatureCollection and a categories CSV (admin)",
                "requestBody": {"required": True, **_json(imported)},
                "responses": _responses("200", "403", "409", "422"),
            }
        },
    }


def _evaluation_paths(id_param: list[dict[str, Any]]) -> dict[str, Any]:
    """The evaluation (综合评价) table, the cases behind a number, the urged cases, a department's urge."""
    period = [
        {"name": "month", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}},
        {"name": "start", "in": "query", "schema": {"type": "string", "format": "date-time"}},
        {"name": "end", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    ]
    level = {"name": "level", "in": "query", "schema": {"type": "string", "enum": list(evaluation.LEVELS)}}
    drill = [
        {"name": "level", "in": "query", "schema": {"type": "string", "enum": ["department", "grid"]}},
        {"name": "id", "in": "query", "required": True, "schema": ID},
        {"name": "count", "in": "query", "schema": {"type": "string", "enum": list(evaluation.DRILL)}},
        {"name": "tree", "in": "query", "schema": {"type": "boolean"}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
        {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    ]
    return {
        "/api/v1/evaluation": {
            "get": {
                "summary": "Every body's indicators over a period, with the trend (docs/evaluation.md)",
                "parameters": [*period, level],
                "responses": _responses("200", "403", "422"),
            }
        },
        "/api/v1/evaluation/cases": {
            "get": {
                "summary": "The cases behind one number, a page at a time",
                "parameters": [*period, *drill],
                "responses": _responses("200", "403", "404", "422"),
            }
        },
        "/api/v1/evaluation/report.pdf": {
            "get": {
                "summary": "The month's evaluation report as a PDF (supervisors, admins); 503 also when the "
                "server has no browser or CJK font to draw it",
                # No pattern on the month: the fuzz tests would render a PDF (seconds) per month they made up.
                "parameters": [
                    {
                        "name": "month",
                        "in": "query",
                        "required": True,
                        "description": "YYYY-MM, a calendar month on the city's clock",
                        "schema": {"type": "string"},
                    },
                    {"name": "lang", "in": "query", "schema": {"type": "string", "enum": list(LANGS)}},
                ],
                "responses": {
                    "200": {
                        "description": "the report, as an attachment",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **{code: {"description": "error", **_json(ERROR)} for code in ("401", "403", "422")},
                },
            }
        },
        "/api/v1/evaluation/urged": {
            "get": {
                "summary": "Cases urged (督办) in the period and their outcome",
                "parameters": period,
                "responses": _responses("200", "403", "422"),
            }
        },
        "/api/v1/departments/{id}/urge": {
            "post": {
                "summary": "Urge every open case of a department (supervisor)",
                "parameters": id_param,
                "requestBody": {"required": True, **_json(_obj({"note": TEXT}, ["note"]))},
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        },
    }


def _shared_answers(paths: dict[str, Any]) -> None:
    """Add 413, 429 and 503 to each operation they apply to (health keeps its own 503)."""
    for path, item in paths.items():
        for method, operation in item.items():
            answers = operation["responses"]
            if "requestBody" in operation:
                answers["413"] = TOO_LARGE
            if (path, method) in RATE_LIMITED:
                answers["429"] = RATE_LIMITED_ANSWER
            answers.setdefault("503", UNAVAILABLE)


def spec() -> dict[str, Any]:
    """The whole document."""
    id_param = [{"name": "id", "in": "path", "required": True, "schema": ID}]
    report = _obj(
        {
            "kind": {"type": "string", "enum": list(REPORT_KINDS)},
            "category": {"type": "string", "maxLength": 64},
            "title": {"type": "string", "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000},
            "priority": {"type": "integer", "enum": [1, 2, 3]},
            "case_number": {"type": "string", "maxLength": 64},
            "reporter": _obj({"name": {"type": "string", "maxLength": 64}, "phone": {"type": "string"}}),
            **LOCATION,
        },
        ["kind", "category", "lon", "lat"],
    )
    parking_event = _obj(
        {
            "event_id": {"type": "string"},
            "event_type": {"type": "string", "enum": list(PARKING_EVENTS)},
            "event_time": {"type": "string", "format": "date-time"},
            "curb_space_id": {"type": "string"},
            "device_id": {"type": "string"},
            "sequence_number": {"type": "integer", "minimum": 0},
        },
        ["event_id", "event_type", "event_time", "curb_space_id", "device_id", "sequence_number"],
    )
    position = _obj(
        {"worker_id": ID, "at": {"type": "string", "format": "date-time"}, **LOCATION}, ["worker_id", "lon", "lat"]
    )
    alarm = _obj(
        {
            "event_id": {"type": "string"},
            "device_id": {"type": "string"},
            "type": {"type": "string", "enum": list(ALARM_TYPES)},
            "description": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            **LOCATION,
        },
        ["event_id", "device_id", "type", "lon", "lat"],
    )
    idem = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 200},
    }
    paths: dict[str, Any] = {
        "/api/v1/health": {
            "get": {
                "summary": "Health",
                "security": [],
                "responses": {
                    "200": {"description": "up", **_json({"type": "object"})},
                    "503": {"description": "store down", **_json({"type": "object"})},
                },
            }
        },
        "/api/v1/grids": {"get": {"summary": "Grids as GeoJSON", "responses": _responses()}},
        "/api/v1/incidents": {
            "get": {
                "summary": "Find incidents",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(KINDS)}},
                    {"name": "stage", "in": "query", "schema": {"type": "string", "enum": list(STAGES)}},
                    {"name": "bbox", "in": "query", "schema": {"type": "string"}},
                    LIMIT,
                    *PAGE,
                ],
                "responses": _responses("200", "400", "422"),
            },
            "post": {
                "summary": "Report an incident (a duplicate joins the incident it repeats)",
                "parameters": [idem],
                "requestBody": {"required": True, **_json(report)},
                "responses": {
                    **_responses("201", "403", "409", "422"),
                    "200": {"description": "joined an existing incident", **_json({"type": "object"})},
                },
            },
        },
        "/api/v1/incidents/{id}": {"get": {"parameters": id_param, "responses": _responses("200", "404")}},
        "/api/v1/incidents/{id}/suggestions": {"get": {"parameters": id_param, "responses": _responses("200", "404")}},
        "/api/v1/incidents/{id}/assign": {
            "post": {
                "parameters": id_param,
                "requestBody": {"required": True, **_json(_obj({"worker_id": ID}, ["worker_id"]))},
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        },
        "/api/v1/incidents/{id}/reassign": {
            "post": {
                "parameters": id_param,
                "requestBody": {
                    "required": True,
                    **_json(_obj({"worker_id": ID, "reason": {"type": "string"}}, ["worker_id"])),
                },
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        },
        "/api/v1/incidents/{id}/priority": {
            "post": {
                "parameters": id_param,
                "requestBody": {
                    "required": True,
                    **_json(_obj({"priority": {"type": "integer", "enum": [1, 2, 3]}}, ["priority"])),
                },
                "responses": _responses("200", "403", "404", "422"),
            }
        },
        "/api/v1/workers": {
            "get": {
                "parameters": [
                    {"name": "grid_id", "in": "query", "schema": ID},
                    {"name": "on_duty", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                    LIMIT,
                    *PAGE,
                ],
                "responses": _responses("200", "400", "422"),
            }
        },
        "/api/v1/workers/positions": {
            "post": {
                "parameters": [idem],
                "requestBody": {
                    "required": True,
                    **_json(_obj({"positions": {"type": "array", "items": position, "minItems": 1}}, ["positions"])),
                },
                "responses": _responses("200", "403", "422"),
            }
        },
        "/api/v1/parking/events": {
            "post": {
                "parameters": [idem],
                "requestBody": {
                    "required": True,
                    **_json(_obj({"events": {"type": "array", "items": parking_event, "minItems": 1}}, ["events"])),
                },
                "responses": _responses("200", "403", "422"),
            }
        },
        "/api/v1/alarms": {
            "post": {
                "parameters": [idem],
                "requestBody": {
                    "required": True,
                    **_json(_obj({"alarms": {"type": "array", "items": alarm, "minItems": 1}}, ["alarms"])),
                },
                "responses": _responses("200", "403", "422"),
            }
        },
        "/api/v1/alerts": {
            "get": {
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["active", "updated", "cancelled"]},
                    },
                    LIMIT,
                    *PAGE,
                ],
                "responses": _responses("200", "400", "422"),
            }
        },
        "/api/v1/alerts/cap": {
            "post": {
                "parameters": [idem],
                "requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}}}},
                "responses": _responses("201", "403", "409", "422"),
            }
        },
        "/api/v1/bulk/visits": {
            "post": {
                "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
                "responses": _responses("200", "403", "422"),
            }
        },
    }
    place = _obj(
        {
            "id": {"type": "string", "maxLength": 128},
            "kind": {"type": "string", "maxLength": 32},
            "address": {"type": "string", "maxLength": 200},
            "registered_occupants": {"type": "integer", "minimum": 0, "maximum": 10000},
            **LOCATION,
        },
        ["id", "kind", "address", "lon", "lat", "registered_occupants"],
    )
    access = _obj(
        {
            "event_id": {"type": "string"},
            "place_id": {"type": "string"},
            "credential": {"type": "string"},
            "direction": {"type": "string", "enum": ["in", "out"]},
            "at": {"type": "string", "format": "date-time"},
        },
        ["event_id", "place_id", "credential", "at"],
    )
    paths["/api/v1/places"] = {
        "get": {
            "summary": "Place records",
            "parameters": [LIMIT, *PAGE],
            "responses": _responses("200", "400", "422"),
        },
        "post": {
            "summary": "Create or update place records by their id",
            "parameters": [idem],
            "requestBody": {
                "required": True,
                **_json(_obj({"places": {"type": "array", "items": place, "minItems": 1}}, ["places"])),
            },
            "responses": _responses("200", "403", "422"),
        },
    }
    paths["/api/v1/access-events"] = {
        "post": {
            "summary": "Door-access events at places",
            "parameters": [idem],
            "requestBody": {
                "required": True,
                **_json(_obj({"events": {"type": "array", "items": access, "minItems": 1}}, ["events"])),
            },
            "responses": _responses("200", "403", "422"),
        }
    }
    paths["/api/v1/warnings"] = {
        "get": {
            "summary": "Early warnings (open and acknowledged unless status says otherwise)",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["open", "acknowledged", "resolved"]},
                },
                LIMIT,
                *PAGE,
            ],
            "responses": _responses("200", "400", "422"),
        }
    }
    paths["/api/v1/warnings/{id}"] = {"get": {"parameters": id_param, "responses": _responses("200", "404")}}
    for action in ("acknowledge", "resolve"):
        paths[f"/api/v1/warnings/{{id}}/{action}"] = {
            "post": {
                "parameters": id_param,
                "requestBody": {"required": False, **_json(_obj({"note": {"type": "string", "maxLength": 2000}}))},
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        }
    paths["/api/v1/rules"] = {
        "get": {"summary": "The early-warning rule set in force", "responses": _responses()},
        "put": {
            "summary": "Replace the rule set (admin)",
            "requestBody": {
                "required": True,
                **_json({"type": "object", "properties": {"rules": {"type": "array", "items": {"type": "object"}}}}),
            },
            "responses": _responses("200", "403", "422"),
        },
    }
    for action in ("cancel", "close", "reopen"):
        paths[f"/api/v1/incidents/{{id}}/{action}"] = {
            "post": {
                "parameters": id_param,
                "requestBody": {"required": False, **_json(_obj({"reason": {"type": "string"}}))},
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        }
    paths.update(_case_paths(id_param))
    paths.update(_department_paths(id_param))
    paths.update(_evaluation_paths(id_param))
    for action in ("accept", "decline", "arrive", "resolve"):
        paths[f"/api/v1/tasks/{{id}}/{action}"] = {
            "post": {
                "parameters": id_param,
                "requestBody": {
                    "required": False,
                    **_json(_obj({"note": {"type": "string"}, "reason": {"type": "string"}})),
                },
                "responses": _responses("200", "403", "404", "409", "422"),
            }
        }
    _shared_answers(paths)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "OneMap API",
            "version": "1.0.0",
            "description": "Dispatch command center: ingestion, dispatch and the one map. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": "string"},
                        "stage": {"type": "string", "description": "409 on a case move: the stage it met"},
                        "retry_after": {"type": "integer", "description": "429 and 503: seconds to wait"},
                        "max_mb": {"type": "integer", "description": "413: the body limit in MB"},
                    },
                }
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before sending the request again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "responses": {
                "TooLarge": {
                    "description": "The body is larger than the server's limit (ONEMAP_MAX_BODY_MB); nothing was read",
                    **_json(ERROR),
                },
                "RateLimited": {
                    "description": "This token has used up this door's requests for the minute "
                    "(ONEMAP_RATE_PER_MINUTE); nothing was stored",
                    "headers": {"Retry-After": RETRY_AFTER},
                    **_json(ERROR),
                },
                "Unavailable": {
                    "description": "The store is down or too contended; nothing was stored",
                    "headers": {"Retry-After": RETRY_AFTER},
                    **_json(ERROR),
                },
            },
        },
        "security": [{"bearer": []}],
    }
