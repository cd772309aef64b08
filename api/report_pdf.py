"""The month's evaluation report as a PDF response, for the API (a token) and the review page (a session)
alike: who may have it, its month and language checked before any work, one render per change of the log."""

from __future__ import annotations

from flask import Response

from data.models import utcnow
from data.runtime import Runtime
from layouts.i18n import Text
from locales import LANGS
from ops import departments, evaluation, permissions, report
from ops.accounts import Actor
from ops.errors import Invalid, ServiceUnavailable


def report_response(rt: Runtime, actor: Actor, month: str, lang: str) -> Response:
    """The PDF of ``month`` (YYYY-MM, the city's calendar) in ``lang``: 403 for roles without the report,
    422 for a bad month or language, 503 when this server cannot draw it (no browser, no CJK font)."""
    permissions.require(actor, "evaluation_report")
    evaluation.month(month)  # 422 before any work
    if lang not in LANGS:
        raise Invalid("error.report_lang", {"langs": ", ".join(LANGS)}, field="lang")

    def build() -> bytes:
        from layouts import report as report_document  # fpdf2 and kaleido: seconds to import, on first use

        data = report.gather(rt.store, actor, month, rt.history)
        return report_document.build(Text(lang), data, departments.list_all(rt.store), utcnow())

    try:
        pdf = rt.shared(f"report:{month}:{lang}", rt.store.latest_event_id(), build)
    except report.ReportError as exc:  # said, not a 500
        raise ServiceUnavailable("error.report_unavailable", {"why": str(exc)}) from None
    name = f"onemap-report-{month}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})
