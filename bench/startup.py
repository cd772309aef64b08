"""A fresh web process: from its start to serving the command page, and the first map in Chromium beside
a bare page that draws the same figure JSON with the same plotly.js, in the same browser and run."""

from __future__ import annotations

import http.cookiejar
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import plotly

from bench import BENCH_KEY
from bench.figures import Figure
from config import ROOT
from data.demo import DEMO_PASSWORD
from tests.servers import free_port

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # what Dash serves, locally
ROUTE = {
    "output": "shell-page.children",
    "outputs": {"id": "shell-page", "property": "children"},
    "inputs": [{"id": "shell-url", "property": "pathname", "value": "/"}],
    "changedPropIds": ["shell-url.pathname"],
}
READY = """(sel) => {
  const gd = document.querySelector(sel);
  const sp = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  return !!(sp && sp.map && sp.map.loaded() && gd._fullData.length === gd.data.length && gd.querySelector('canvas'));
}"""
BARE = """<!doctype html><html><head><meta charset="utf-8"><script src="/plotly.min.js"></script></head>
<body style="margin:0"><div id="map" style="width:{w}px;height:{h}px"></div><script>
fetch('/figure.json').then(r => r.json()).then(f => Plotly.newPlot('map', f.data, f.layout, f.config));
</script></body></html>"""


@contextmanager
def _serving(url: str) -> Iterator[tuple[str, float, float]]:
    """`python app.py` on the bench store, simulator off: (base URL, its spawn time, seconds to health).
    Its own wait, not tests.servers': a loaded machine takes longer than a test may to start one."""
    port = free_port()
    env = {
        **os.environ,
        "ONEMAP_DATABASE_URL": url,
        "ONEMAP_PORT": str(port),
        "ONEMAP_SIMULATE": "0",
        "ONEMAP_SECRET_KEY": BENCH_KEY,
    }
    env.pop("ONEMAP_REDIS_URL", None)
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="onemap-start-")) / "app.log"
    with open(log, "w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield base, started, _wait_health(base, proc, log)
        finally:
            proc.terminate()
            proc.wait(30)


def start_to_command_page(url: str) -> Figure:
    """Spawn `python app.py` on the bench store; time until it answers health, and until it has served
    the command page (login, then the page's route callback, map figure included)."""
    with _serving(url) as (base, started, healthy):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = urllib.parse.urlencode({"username": "operator", "password": DEMO_PASSWORD, "next": "/"})
        opener.open(f"{base}/login", data=form.encode(), timeout=120).read()
        request = urllib.request.Request(
            f"{base}/_dash-update-component", json.dumps(ROUTE).encode(), {"Content-Type": "application/json"}
        )
        body = opener.open(request, timeout=120).read()
        served = time.perf_counter() - started
        if b"command-map" not in body:
            raise RuntimeError("the route callback did not answer the command page")
        ready = json.loads(urllib.request.urlopen(f"{base}/api/v1/health", timeout=10).read())["review_ready"]
    note = f"health after {healthy:.1f} s; review history read at start: {ready}"
    name = "web process start to the command page served"
    return Figure(name, served, 10.0, "s", served / 10.0, "≤ 10 s", served <= 10.0, note)


def _wait_health(base: str, proc: subprocess.Popen, log: Path, limit_s: float = 300.0) -> float:
    started = time.perf_counter()
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/v1/health", timeout=2)
            return time.perf_counter() - started
        except OSError:
            if proc.poll() is not None or time.perf_counter() - started > limit_s:
                raise RuntimeError("app did not start:\n" + log.read_text()) from None
            time.sleep(0.2)


def _find_graph(node: Any, graph_id: str) -> dict[str, Any] | None:
    """The props of the component ``graph_id`` in a Dash layout tree."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == graph_id:
            return props
        return next((f for v in node.values() if (f := _find_graph(v, graph_id)) is not None), None)
    if isinstance(node, list):
        return next((f for v in node if (f := _find_graph(v, graph_id)) is not None), None)
    return None


@contextmanager
def _bare_server(figure_json: bytes, size: tuple[int, int]) -> Iterator[str]:
    """A local page that loads the same plotly.js and draws ``figure_json`` in a ``size`` box (and
    answers the style's glyph requests as the app does: an empty range)."""
    page = BARE.replace("{w}", str(size[0])).replace("{h}", str(size[1])).encode()
    files = {"/": (page, "text/html"), "/plotly.min.js": (PLOTLY_JS.read_bytes(), "text/javascript")}
    files["/figure.json"] = (figure_json, "application/json")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body, mime = files.get(self.path, (b"", "application/x-protobuf"))
            if self.path not in files and not self.path.startswith("/map/glyphs/"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400")  # plotly.js is cached as the app's is
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def time_to_map_vs_bare(url: str, chromium: str, rounds: int = 3) -> list[Figure]:
    """Navigation to an interactive map: the command page (logged in) against the bare page drawing the
    same figure JSON (captured from the command page's own route answer), best of ``rounds``, alternated,
    both with plotly.js in the browser's cache."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    with _serving(url) as (base, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.set_default_timeout(300_000)  # a loaded machine: the figure is the ratio, not the time
        routes: list[Any] = []  # bodies are read after the map is up: not inside the event handler
        page.on("response", lambda r: routes.append(r) if "/_dash-update-component" in r.url else None)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_function(READY, arg="#command-map .js-plotly-plot", timeout=300_000)
        props = next(g for r in routes if r.ok and (g := _find_graph(r.json(), "command-map")) is not None)
        figure = json.dumps({**props["figure"], "config": props.get("config", {})}).encode()
        box = page.evaluate("() => { const r = document.querySelector('#command-map').getBoundingClientRect(); "
                            "return [Math.round(r.width), Math.round(r.height)]; }")  # fmt: skip
        ours, bare = [], []
        with _bare_server(figure, tuple(box)) as bare_url:
            for _ in range(rounds):
                started = time.perf_counter()
                page.goto(f"{base}/", wait_until="commit")
                page.wait_for_function(READY, arg="#command-map .js-plotly-plot", timeout=300_000)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                page.goto(bare_url, wait_until="commit")
                page.wait_for_function(READY, arg="#map", timeout=300_000)
                bare.append(time.perf_counter() - started)
        browser.close()
    mine, theirs = min(ours), min(bare)
    mb = len(figure) / 1e6
    grids = next((t for t in props["figure"]["data"] if t.get("name") == "grids"), {})
    drawn = f"grid layer: {len(grids.get('geojson', {}).get('features', []))} shapes ({grids.get('meta', 'all')})"
    return [
        Figure(
            "time to interactive map vs bare plotly.js page",
            mine,
            theirs,
            "s",
            mine / theirs,
            "≤ 1.5×",
            mine <= 1.5 * theirs,
            f"same figure JSON ({mb:.2f} MB), same browser; rounds ours {ours}, bare {bare}",
        ),
        Figure("first map figure JSON", mb, 0.0, "MB", 0.0, "recorded", True, drawn),
    ]
