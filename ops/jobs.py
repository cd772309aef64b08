"""Long jobs (a bulk push) run in a thread of the process that started them; screens poll progress.

Progress lives in this process only: with several app processes behind a balancer, the screen
that started a push needs to come back to the same process to watch its bar (the push itself
is one database transaction and is correct wherever it runs).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ops.errors import OneMapError


@dataclass
class Job:
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    result: Any = None
    error: str = ""  # why it failed, in English (logs)
    refusal: OneMapError | None = None  # the rule that refused it, for the screen to word


class JobBoard:
    """Start jobs in threads and read their progress by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, work: Callable[[Callable[[int, int], None]], Any]) -> str:
        job_id = uuid.uuid4().hex
        job = Job()
        with self._lock:
            self._jobs[job_id] = job

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        def run() -> None:
            try:
                job.result = work(progress)
                job.state = "done"
            except OneMapError as exc:
                job.error, job.refusal, job.state = exc.message, exc, "failed"
            except Exception as exc:  # the operator must see that the push failed, and why
                job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"

        threading.Thread(target=run, name=f"job-{job_id[:8]}", daemon=True).start()
        return job_id

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
