"""The benchmark suite: `python -m bench [--scale small|city|province] [--json PATH] [--database-url URL]`;
`python -m bench --soak 10m [--database-url URL] [--redis-url URL]` runs the soak instead (bench/soak.py).

Builds a city at the chosen scale into a fresh store, then prints each figure beside the limit it
is measured against in the same run, as a ratio. Benchmarks are not tests: run them on demand.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import evaluation as evaluation_figures
from bench import figures, pages, startup
from bench.city import SCALES, build
from config import Config
from data.runtime import build_runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--database-url", help="an empty database to build the city in (default: a temp SQLite)")
    parser.add_argument(
        "--history", type=int, help="closed items to build instead of the scale's (province: 20 M by default)"
    )
    parser.add_argument(
        "--keyset-items", type=int, default=1_000_000, help="province: items read through the API's pages"
    )
    parser.add_argument(
        "--built",
        action="store_true",
        help="the database already holds a city an earlier run built (the figures' own writes included): reuse it",
    )
    parser.add_argument("--only", nargs="*", help="run only figures whose name contains one of these words")
    parser.add_argument(
        "--redis-url", help="a Redis for the fan-out and hand-off figures (default: ONEMAP_TEST_REDIS_URL)"
    )
    parser.add_argument("--soak", metavar="DURATION", help="run the soak (e.g. 10m) on two app processes instead")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale]
    workdir = Path(tempfile.mkdtemp(prefix="onemap-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if scale.name == "province" and not url.startswith("postgresql"):
        parser.error("--scale province is built with PostgreSQL COPY: give --database-url postgresql+psycopg://…")
    print(f"building the {scale.name} city in {url.split('@')[-1]} …")
    started = time.perf_counter()
    if args.built:
        from data.bus import MemoryBus
        from data.store import Store

        store = Store(url, MemoryBus())
        print("  reusing the city already built there")
    elif scale.name == "province":
        from bench import province

        store = province.build(url, scale, history=args.history)
    else:
        store = build(url, scale)
    print(f"  city ready in {time.perf_counter() - started:.0f} s")
    if args.soak:
        from bench import soak

        store.dispose()
        return soak.run(url, args.redis_url or os.environ.get("ONEMAP_TEST_REDIS_URL"), soak.parse_duration(args.soak))
    labels = {"open": "open", "worker": "worker", "space": "space"}
    started = time.perf_counter()
    rt = build_runtime(Config(database_url=url, media_dir=str(workdir / "media")), store, labels)
    print(f"  runtime (grid index, static map layers) in {time.perf_counter() - started:.0f} s")
    # As create_app does: start-up structures, and the modules a serving process has loaded (Dash,
    # the callbacks), stay out of the collector's full passes. Frozen before the imports, those
    # modules' ~90,000 objects made every full pass during a tick cost ~50 ms.
    import app  # noqa: F401  (loads what a serving process has loaded)

    gc.collect()
    gc.freeze()

    steps = [
        ("grid", lambda: [figures.grid_assignment(store, rt, scale)]),
        ("suggest", lambda: figures.suggestions(store, rt, scale)),
        ("map", lambda: figures.map_payloads(store, rt, scale)),
        ("ingest", lambda: [figures.ingest_path(store, rt, scale)]),
        ("bulk", lambda: figures.bulk_push(store, rt, scale)),
        ("review", lambda: figures.review(store, rt, scale)),
        ("memory", lambda: [figures.peak_memory(url)]),
        ("routing", lambda: figures.routing(store, rt, scale)),
    ]
    steps.append(("pages", lambda: [pages.read_through_api(url)]))
    steps.append(("startup", lambda: [startup.start_to_command_page(url)]))
    redis_url = args.redis_url or os.environ.get("ONEMAP_TEST_REDIS_URL")
    steps.append(("handoff", lambda: figures.hand_off(url, redis_url)))
    chromium = shutil.which("chromium")
    if redis_url:
        steps.append(("fanout", lambda: figures.fan_out(url, redis_url)))
    else:
        print("  (no Redis: set --redis-url or ONEMAP_TEST_REDIS_URL for the fan-out figure)")
    if chromium:
        steps.append(("browser", lambda: [figures.time_to_map(url, chromium)]))
        steps.append(("first-map", lambda: startup.time_to_map_vs_bare(url, chromium)))
    else:
        print("  (no chromium on PATH: the time-to-map figure is skipped)")
    steps.append(("evaluation", lambda: evaluation_figures.figures(store, rt, scale, chromium)))
    if scale.name == "province":
        from bench import province

        steps = province.steps(steps, store, rt, scale, url, args.keyset_items)
    results: list[figures.Figure] = []
    for name, step in steps:
        if args.only and not any(word in name for word in args.only):
            continue
        for fig in step():
            results.append(fig)
            mark = "ok " if fig.ok else "MISS"
            ratio = f"{fig.ratio:8.3f}" if fig.ratio else "       -"
            print(
                f"[{mark}] {fig.name:<44} ours {fig.ours:12.4g}  limit {fig.limit:12.4g} {fig.unit:<9}"
                f" ratio {ratio}  goal {fig.goal} {fig.note}"
            )
            sys.stdout.flush()
    if args.json:
        args.json.write_text(
            json.dumps(
                {"scale": scale.name, "store": store.kind, "figures": figures.as_json(results)},
                ensure_ascii=False,
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
