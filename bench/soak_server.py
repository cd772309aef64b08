"""``python app.py`` for the soak, with tracemalloc on demand: the first SIGUSR1 starts tracing (a start
under tracing took minutes on this machine), each later one writes the allocation sites that hold
most of what was allocated since and is still alive to ``$ONEMAP_SOAK_SNAPSHOT``."""

from __future__ import annotations

import os
import signal
import tracemalloc
from pathlib import Path
from typing import Any

FRAMES = 6


def main() -> None:
    out = Path(os.environ["ONEMAP_SOAK_SNAPSHOT"])
    baseline: list[tracemalloc.Snapshot] = []

    def snapshot(_signum: int, _frame: Any) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        if not baseline:
            baseline.append(snap)
            return
        lines = []
        for stat in snap.compare_to(baseline[0], "traceback")[:25]:
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
            lines.append(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks  {where}")
        out.write_text("\n".join(lines) + "\n")

    signal.signal(signal.SIGUSR1, snapshot)
    import app

    app.main()


if __name__ == "__main__":
    main()
