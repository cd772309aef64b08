"""Every text the UI shows comes from both catalogs: ops/ and data/ hand over message keys with
parameters, and the screens word them in the reader's language (errors, rule problems, warnings)."""

from __future__ import annotations

import ast
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app, runtime_of
from config import DEFAULT_SLA_MINUTES, Config
from data import map_view, queries
from data.demo import DEMO_PASSWORD
from data.models import EarlyWarning, Incident, User
from layouts.command import warning_items
from layouts.i18n import Text
from layouts.review import warning_rows
from locales import LANGS, catalog, render
from ops import early_warning
from ops.accounts import SYSTEM, create_token
from ops.errors import Invalid
from ops.incidents import NewIncident, report

ROOT = Path(__file__).resolve().parents[1]
CODE = ("app.py", "api", "callbacks", "data", "layouts", "ops")
ERRORS = {"OneMapError", "Invalid", "Unauthorized", "Forbidden", "NotFound", "Conflict"}


def sources() -> Iterator[tuple[str, ast.Module]]:
    for top in CODE:
        paths = [ROOT / top] if top.endswith(".py") else sorted((ROOT / top).rglob("*.py"))
        for path in paths:
            if "migrations" not in path.parts:
                yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def keys_of(node: ast.expr | None) -> list[tuple[str, bool]] | None:
    """(key or key prefix, is_prefix) a key argument can take; None when it is not written out."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, False)]
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return [(str(node.values[0].value), True)]
    if isinstance(node, ast.IfExp):
        body, other = keys_of(node.body), keys_of(node.orelse)
        return None if body is None or other is None else body + other
    return None


def name_of(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def arg(call: ast.Call, i: int) -> ast.expr | None:
    return call.args[i] if len(call.args) > i else None


def used_keys() -> tuple[list[tuple[str, str, bool]], list[str]]:
    """Every catalog key the code names ((where, key, is_prefix)), and the error constructions whose
    key is not written out (a re-raise of ``exc.key`` is fine)."""
    found, unnamed = [], []
    for file, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):  # {"what": "assign"}: an action named in an error's parameters
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "what" and isinstance(v, ast.Constant):
                        found.append((f"{file}:{node.lineno}", f"action.{v.value}", False))
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:  # _check_note(..., what="decline")
                if kw.arg == "what" and isinstance(kw.value, ast.Constant):
                    found.append((f"{file}:{node.lineno}", f"action.{kw.value.value}", False))
            where, name = f"{file}:{node.lineno}", name_of(node.func)
            is_t = isinstance(node.func, ast.Name) and node.func.id == "t"
            is_t_get = name == "get" and isinstance(node.func, ast.Attribute) and name_of(node.func.value) == "t"
            if is_t or is_t_get or name in {"msg", "render"} | ERRORS or name == "require_dispatcher":
                index = 1 if name in ("render", "require_dispatcher") else 0
                keys = keys_of(arg(node, index))
                if keys is None:
                    key_arg = arg(node, index)
                    if name in ERRORS and not (isinstance(key_arg, ast.Attribute) and key_arg.attr == "key"):
                        unnamed.append(where)
                    continue
                prefix = "action." if name == "require_dispatcher" else ""
                found += [(where, prefix + key, is_prefix) for key, is_prefix in keys]
    return found, unnamed


def fields(text: str) -> set[str]:
    return {
        f"{name}:{spec}" if spec.startswith("@") else name
        for _, name, spec, _ in string.Formatter().parse(text)
        if name
    }


def test_both_catalogs_hold_exactly_the_same_keys_with_the_same_placeholders():
    zh, en = catalog("zh-CN"), catalog("en")
    assert set(zh) == set(en), {"only zh-CN": sorted(set(zh) - set(en)), "only en": sorted(set(en) - set(zh))}
    differ = {
        k: (fields(en[k]), fields(zh[k]))
        for k in en
        if {f.split(":")[0] for f in fields(en[k])} != {f.split(":")[0] for f in fields(zh[k])}
    }
    assert not differ, differ
    for lang in LANGS:
        names = catalog(lang)
        prefixes = {spec.split(":@")[1] for text in names.values() for spec in fields(text) if ":@" in spec}
        assert all(any(k.startswith(p + ".") for k in names) for p in prefixes), prefixes


def test_every_key_the_code_names_is_in_both_catalogs_and_every_error_names_its_key():
    found, unnamed = used_keys()
    assert len(found) > 200  # the scan sees the code (errors, t(...), msg(...), actions)
    assert not unnamed, f"errors built without a written-out message key: {unnamed}"
    for lang in LANGS:
        names = catalog(lang)
        missing = [
            (where, key)
            for where, key, is_prefix in found
            if not (any(k.startswith(key) for k in names) if is_prefix else key in names)
        ]
        assert not missing, (lang, missing)


def given_params() -> list[tuple[str, str, set[str]]]:
    """(where, key, parameter names) of every error and ``msg`` whose key and parameters are written out."""
    out = []
    for file, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or name_of(node.func) not in ERRORS | {"msg"}:
                continue
            keys = keys_of(arg(node, 0))
            if name_of(node.func) == "msg":
                if any(kw.arg is None for kw in node.keywords):
                    continue
                names = {kw.arg for kw in node.keywords if kw.arg}
            else:
                params = arg(node, 1)
                if params is None:
                    names = set()
                elif isinstance(params, ast.Dict) and all(isinstance(k, ast.Constant) for k in params.keys):
                    names = {k.value for k in params.keys}
                else:
                    continue
            out += [(f"{file}:{node.lineno}", key, names) for key, is_prefix in keys or [] if not is_prefix]
    return out


def test_every_error_and_message_gives_the_parameters_its_texts_name():
    checked = given_params()
    assert len(checked) > 100
    for lang in LANGS:
        names = catalog(lang)
        short = [
            (where, key, sorted({f.split(":")[0] for f in fields(names[key])} - given))
            for where, key, given in checked
            if key in names and not {f.split(":")[0] for f in fields(names[key])} <= given
        ]
        assert not short, (lang, short)


def test_ops_and_data_never_import_layouts_and_screens_never_show_an_errors_english():
    for file, tree in sources():
        for node in ast.walk(tree):
            if file.startswith(("ops/", "data/")) and isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(m.split(".")[0] == "layouts" for m in modules), f"{file}:{node.lineno}"
            if file.startswith(("callbacks/", "layouts/")) and isinstance(node, ast.Attribute):
                assert not (node.attr == "message" and name_of(node.value) in {"exc", "e", "error"}), (
                    f"{file}:{node.lineno}: word errors with Text.error"
                )


def test_every_code_a_message_names_has_a_name_in_both_catalogs():
    from data.models import ROLES, STATUSES, WARNING_STATUSES
    from ops.lifecycle import ITEM_ACTIONS, TASK_ACTIONS

    codes = {
        "status": [*STATUSES, "expired"],  # a task may also have expired (ops/sla.py)
        "action": [*ITEM_ACTIONS, *TASK_ACTIONS],
        "role": ROLES,
        "warning.status": WARNING_STATUSES,
        "warning.level": early_warning.LEVELS,
        "rules.typename": early_warning.PARAMS,
        "rules.type": early_warning.PARAMS,
    }
    for lang in LANGS:
        missing = [f"{p}.{c}" for p, values in codes.items() for c in values if f"{p}.{c}" not in catalog(lang)]
        assert not missing, (lang, missing)


def test_an_error_keeps_english_for_the_api_and_words_for_each_screen():
    exc = Invalid("error.reason_required", {"what": "decline"}, field="reason")
    assert exc.message == "decline needs a reason" and exc.to_dict()["message"] == "decline needs a reason"
    assert Text("zh-CN").error(exc) == "拒单需要填写原因"
    assert Text("en").error(exc) == "decline needs a reason"
    assert render("zh-CN", "no.such.key") == "no.such.key"  # an unknown key still says something


# --- through the Dash endpoint, as a logged-in user ---------------------------------------------------------


@pytest.fixture(scope="module", params=LANGS)
def lang_app(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(f"i18n-{request.param}") / "app.db"
    app = create_app(
        Config(database_url=f"sqlite:///{path}", grid_count=60, parking_spaces=60, simulate=False, lang=request.param)
    )
    return request.param, app


def logged_in(app: Any, username: str) -> Any:
    client = app.server.test_client()
    r = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/"})
    assert r.status_code == 302
    return client


def dash_call(app: Any, client: Any, trigger: str, values: dict[str, Any]) -> dict[str, Any]:
    """Fire the callback whose input ``trigger`` ("id.prop") changed, with ``values`` for its inputs and states."""
    key, spec = next(
        (k, s) for k, s in app.callback_map.items() if any(f"{i['id']}.{i['property']}" == trigger for i in s["inputs"])
    )

    def given(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    outputs = [
        dict(zip(("id", "property"), o.split("@")[0].rsplit(".", 1), strict=True)) for o in key.strip(".").split("...")
    ]
    payload = {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": given(spec["inputs"]),
        "state": given(spec["state"]),
        "changedPropIds": [trigger],
    }
    r = client.post("/_dash-update-component", json=payload)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["response"]


def test_cancel_without_a_reason_is_refused_in_the_readers_language(lang_app):
    lang, app = lang_app
    rt = runtime_of(app)
    p = rt.index.polygons[0].representative_point()
    (iid,) = report(rt.store, rt.index, SYSTEM, [NewIncident("fire", "火", "火", p.x, p.y)], DEFAULT_SLA_MINUTES)
    answer = dash_call(
        app,
        logged_in(app, "operator"),
        "command-cancel.n_clicks",
        {"command-cancel.n_clicks": 1, "command-cancel-reason.value": "  ", "command-selected.data": iid},
    )
    said = answer["command-message"]["children"]
    assert said == {"zh-CN": "取消需要填写原因", "en": "cancel needs a reason"}[lang]
    with rt.store.read() as s:
        assert s.get(Incident, iid).status == "new"  # refused: nothing changed


def test_the_rules_page_names_a_bad_rule_in_the_readers_language(lang_app):
    lang, app = lang_app
    rt = runtime_of(app)
    from layouts.rules import rule_rows

    rows = rule_rows(early_warning.current_rules(rt.store, rt.config.rules_file))
    admin = logged_in(app, "admin")

    def save(changed: dict[str, Any]) -> str:
        edited = [{**rows[0], **changed}, *rows[1:]]
        values = {"rules-save.n_clicks": 1, "rules-grid.rowData": edited, "rules-grid.selectedRows": []}
        answer = dash_call(app, admin, "rules-save.n_clicks", values)
        return json.dumps(answer["rules-status"]["children"], ensure_ascii=False)

    low = save({"params": '{"count": 1, "hours": 24}'})  # a rule-set problem (ops/early_warning)
    broken = save({"params": "{oops"})  # a grid-cell problem (callbacks/rules)
    says = {
        "zh-CN": ("规则「ticket-cluster」：count 不能小于 2", "规则「ticket-cluster」：参数不是有效的 JSON"),
        "en": ("rule 'ticket-cluster': count must be at least 2", "rule 'ticket-cluster': params are not valid JSON"),
    }[lang]
    assert says[0] in low and says[1] in broken
    assert Text(lang)("rules.rejected") in low
    status = low + broken
    if lang == "zh-CN":
        assert "must be" not in status and "rule '" not in status


def test_the_rules_grid_shows_types_and_levels_by_name_and_keeps_codes():
    from layouts.rules import layout, param_help

    t = Text("zh-CN")
    grid = layout(t, early_warning.load_file(ROOT / "rules.toml"), "admin").children[1].children[1]
    columns = {c["field"]: c for c in grid.columnDefs}
    assert columns["type"]["refData"]["ticket_cluster"] == "同类工单聚集"
    assert columns["level"]["refData"]["high"] == t("warning.level.high")
    assert grid.rowData[0]["type"] == "ticket_cluster"  # the value stays the code the rule set speaks
    assert param_help(t)[0]["type"] == "同类工单聚集 (ticket_cluster)"


# --- stored warnings ----------------------------------------------------------------------------------------


def test_a_stored_warning_reads_in_each_language_and_english_in_the_api(lang_app):
    lang, app = lang_app
    rt = runtime_of(app)
    p = rt.index.polygons[5].representative_point()
    report(rt.store, rt.index, SYSTEM, [NewIncident("alarm", "一键报警柱", "按下报警", p.x, p.y)], DEFAULT_SLA_MINUTES)
    rule = early_warning.parse_rules([{"id": "alarm-now", "type": "device_alarm", "minutes": 600}])[0]
    (wid,) = early_warning.evaluate(rt.store, [rule])
    (row,) = [w for w in queries.find_warnings(rt.store) if w["id"] == wid]
    assert row["title_key"] == "warning.text.device_alarm" and row["title_params"]["id"]
    iid = row["title_params"]["id"]
    zh, en = f"设备报警 #{iid} 一键报警柱：按下报警", f"Device alarm #{iid} 一键报警柱: 按下报警"
    assert row["title"] == en  # the API's language

    for t, words in ((Text("zh-CN"), zh), (Text("en"), en)):
        panel = str(warning_items([row], t))
        assert words in panel and t("rules.typename.device_alarm") in panel  # the rule by its type's name
        (review,) = warning_rows(t, [row])
        assert review["title"] == words and review["rule"] == t("rules.typename.device_alarm")

    # The wall map's hover speaks the app's language.
    trace = map_view.live_traces(rt.store, rt.static, rt.crs, {"warnings"})["warnings"]
    assert {"zh-CN": zh, "en": en}[lang] in list(trace["text"])

    with rt.store.read() as s:
        operator = s.scalar(select(User.id).where(User.username == "operator"))
    token = create_token(rt.store, operator, label=f"i18n-{wid}")
    client = app.server.test_client()
    body = client.get(f"/api/v1/warnings/{wid}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["title"] == en and body["title_key"] == "warning.text.device_alarm"


def test_a_warning_stored_before_titles_had_keys_reads_as_stored(lang_app):
    _, app = lang_app
    rt = runtime_of(app)
    with rt.store.transaction() as s:
        old = EarlyWarning(
            rule_id="old", rule_type="device_alarm", place_key="x:1", level="low", title="旧预警", detail={}
        )
        s.add(old)
        s.flush()
        wid = old.id
    (row,) = [w for w in queries.find_warnings(rt.store) if w["id"] == wid]
    assert row["title_key"] is None
    assert "旧预警" in str(warning_items([row], Text("en"))) and warning_rows(Text("en"), [row])[0]["title"] == "旧预警"
