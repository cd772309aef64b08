"""The import rule of docs/architecture.md, read from every module's imports (ast, no import runs).

Layers form a stack; a module may import its own layer and the layers below it, never one above.
No Dash outside app.py, layouts/ and callbacks/; no Flask request object outside api/ and callbacks/.
A failure names each offending file:line.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top; the same table as docs/architecture.md ("Layers").
STACK: list[set[str]] = [
    {"config", "locales"},
    {"geo"},
    {"data"},
    {"ops"},
    {"layouts"},
    {"api"},
    {"callbacks"},
    {"app", "manage"},
]
RANK = {name: i for i, layer in enumerate(STACK) for name in layer}
UNCHECKED = {"tests", "bench"}  # they may import everything
DASH_MAY = {"app", "layouts", "callbacks"}
FLASK_REQUEST_MAY = {"api", "callbacks"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith(".") or rel.parts[0] in UNCHECKED or "node_modules" in rel.parts:
            continue
        yield (rel.parts[0] if len(rel.parts) > 1 else rel.stem), rel


def imported(tree: ast.AST, rel: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import, top level or inside a function; relative ones resolved."""
    package = list(rel.parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "request"
            and isinstance(node.value, ast.Name)
            and node.value.id == "flask"
        ):
            yield node.lineno, "flask.request"


def violations() -> list[str]:
    found = []
    for layer, rel in modules():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=str(rel))
        for line, name in imported(tree, rel):
            top = name.split(".")[0]
            where = f"{rel}:{line}"
            if top in RANK and layer in RANK and RANK[top] > RANK[layer]:
                found.append(f"{where}: {layer}/ imports {name} (a layer above it)")
            elif top in RANK and layer in RANK and top != layer and RANK[top] == RANK[layer]:
                found.append(f"{where}: {layer} imports {name} (a neighbour in its own layer)")
            if (top == "dash" or top.startswith("dash_")) and layer not in DASH_MAY:
                found.append(f"{where}: Dash ({name}) outside app.py, layouts/ and callbacks/")
            if name == "flask.request" and layer not in FLASK_REQUEST_MAY:
                found.append(f"{where}: the Flask request object outside api/ and callbacks/")
    return found


def test_every_module_is_in_a_layer():
    unknown = sorted({str(rel) for layer, rel in modules() if layer not in RANK})
    assert not unknown, f"modules outside the layer table of docs/architecture.md: {unknown}"


def test_no_module_imports_a_layer_above_it_nor_dash_nor_the_request_where_it_may_not():
    found = violations()
    assert not found, "import rule (docs/architecture.md, Layers) broken:\n" + "\n".join(found)


def test_the_scan_names_file_and_line_of_a_breach(tmp_path, monkeypatch):
    """The scan itself works: a planted upward import, Dash and request use are each named."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bad.py").write_text(
        "import os\n\n\ndef f():\n    from ops.lifecycle import assign\n    import flask\n    return flask.request\n",
        encoding="utf-8",
    )
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "worse.py").write_text("from dash import html\nfrom . import ingest\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = violations()
    assert any(v.startswith("data/bad.py:5: data/ imports ops.lifecycle.assign") for v in found), found
    assert any(v.startswith("data/bad.py:7: the Flask request") for v in found), found
    assert any(v.startswith("ops/worse.py:1: Dash (dash.html)") for v in found), found
    assert not any("ops.ingest" in v for v in found), found  # a relative import inside ops/ is ops/
    assert len(found) == 3, found
