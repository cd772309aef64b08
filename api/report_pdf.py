"""The month's evaluation report as a PDF response, for the API (a token) and the review page (a session)
alike: who may have it, its month and language checked before any work, one render per change of the log.

A render takes seconds (kaleido drives a headless Chromium), so the process renders each month's
report once: concurrent first requests for the same month and language wait for the one render in
flight (single-flight), and the last few documents are kept, each under its month, language, what the
asker may see and the log's newest event id when it was read, so a new event makes a fresh report.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Response

from data.models import utcnow
from data.runtime import Runtime
from data.store import Store
from layouts.i18n import Text
from locales import LANGS
from ops import departments, evaluation, permissions, report
from ops.accounts import Actor
from ops.errors import Invalid, ServiceUnavailable

KEEP = 8  # documents kept per process (month × language × scope), the least recently asked dropped first
WAIT_S = 300  # how long a request waits for another's render (kaleido's own limit is 90 s a batch)


class SingleFlight:
    """``get(key, version, build)``: ``build()`` once per (key, version) however many ask at once, the
    others waiting for its result (or its exception); the newest result of the last ``keep`` keys kept.
    A failed build is not kept: the next request tries again."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._flights: dict[tuple[Hashable, int], Future[bytes]] = {}
        self.waiting: dict[tuple[Hashable, int], int] = {}  # requests waiting on a flight, by (key, version)

    def get(self, key: Hashable, version: int, build: Callable[[], bytes], timeout: float = WAIT_S) -> bytes:
        with self._lock:
            hit = self._done.get(key)
            if hit is not None and hit[0] == version:
                self._done.move_to_end(key)
                return hit[1]
            flight = self._flights.get((key, version))
            leader = flight is None
            if leader:
                flight = self._flights[(key, version)] = Future()
            else:
                self.waiting[(key, version)] = self.waiting.get((key, version), 0) + 1
        assert flight is not None
        if not leader:
            try:
                return flight.result(timeout)
            finally:
                with self._lock:
                    left = self.waiting.pop((key, version), 1) - 1
                    if left:
                        self.waiting[(key, version)] = left
        try:
            value = build()
        except BaseException as exc:
            with self._lock:
                del self._flights[(key, version)]
            flight.set_exception(exc)
            raise
        with self._lock:
            del self._flights[(key, version)]
            kept = self._done.get(key)
            if kept is None or kept[0] <= version:  # never replace a fresher document by an older one
                self._done[key] = (version, value)
                self._done.move_to_end(key)
                while len(self._done) > self.keep:
                    self._done.popitem(last=False)
        flight.set_result(value)
        return value


_FLIGHTS: weakref.WeakKeyDictionary[Store, SingleFlight] = weakref.WeakKeyDictionary()
_FLIGHTS_LOCK = threading.Lock()


def flights(store: Store) -> SingleFlight:
    """The process's report renders and documents for ``store`` (the report is a function of its log)."""
    with _FLIGHTS_LOCK:
        found = _FLIGHTS.get(store)
        if found is None:
            found = _FLIGHTS[store] = SingleFlight()
        return found


def report_response(rt: Runtime, actor: Actor, month: str, lang: str) -> Response:
    """The PDF of ``month`` (YYYY-MM, the city's calendar) in ``lang``: 403 for roles without the report,
    422 for a bad month or language, 503 when this server cannot draw it (no browser, no CJK font)."""
    permissions.require(actor, "evaluation_report")
    evaluation.month(month)  # 422 before any work
    if lang not in LANGS:
        raise Invalid("error.report_lang", {"langs": ", ".join(LANGS)}, field="lang")
    scope = evaluation.visible(rt.store, actor, "department")  # None: every department
    key = (month, lang, None if scope is None else tuple(sorted(scope)))

    def build() -> bytes:
        from layouts import report as report_document  # fpdf2 and kaleido: seconds to import, on first use

        data = report.gather(rt.store, actor, month, rt.history)
        return report_document.build(Text(lang), data, departments.list_all(rt.store), utcnow())

    try:
        pdf = flights(rt.store).get(key, rt.store.latest_event_id(), build)
    except report.ReportError as exc:  # said, not a 500
        raise ServiceUnavailable("error.report_unavailable", {"why": str(exc)}) from None
    except FutureTimeout:
        why = f"the render in progress took over {WAIT_S} s"
        raise ServiceUnavailable("error.report_unavailable", {"why": why}) from None
    name = f"onemap-report-{month}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})
