"""The monthly evaluation report as a PDF: the city summary, the league table, the maps and charts as
images and the longest overdue cases. The figures are the screen's own, built by the same builders
(``layouts.evaluation``, ``layouts.review``) and rendered to PNG by kaleido (a headless Chromium:
``BROWSER_PATH`` names it, else ``chromium`` or Chrome on the PATH); the PDF is written by fpdf2 with
a CJK font embedded (subset). Every text goes in as plain text: nothing in it is read as markup."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import kaleido
import plotly.io as pio
from fpdf import FPDF
from fpdf.fonts import FontFace
from kaleido.errors import ChromeNotFoundError

import layouts.evaluation as evaluation_view
import layouts.review as review_view
from config import CITY_TIMEZONE
from geo.layers import map_style
from layouts.i18n import Text, local
from ops.report import ReportData, ReportError

# Where Debian, Fedora and Homebrew put a CJK font; ONEMAP_REPORT_FONT overrides, fc-list is the last resort.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
MAP_INDICATORS = ("score", "closing_rate")
LEAGUE_FIELDS = (
    "name",
    "grade",
    "score",
    "trend",
    "due",
    "closed",
    "closing_rate",
    "on_time_rate",
    "rework_rate",
    "returns",
    "pending",
    "backlog",
)
# A department with none of these and no score had nothing this month: counted, not listed.
IDLE_UNLESS = ("dispatched", "due", "pending", "backlog", "returns")
SUMMARY_FIELDS = ("dispatched", "due", "closed", "closing_rate", "on_time_rate", "rework_rate", "pending", "backlog")
RENDER_TIMEOUT_S = 90
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# fontTools warns, on every report, that it drops a TTC's bitmap (BDF) table when subsetting: noise.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


def font_path() -> str:
    """A font file with Chinese glyphs (TTF, OTF or a TTC collection's first face)."""
    chosen = os.environ.get("ONEMAP_REPORT_FONT")
    if chosen:
        if not Path(chosen).is_file():
            raise ReportError(f"ONEMAP_REPORT_FONT={chosen!r} is not a file")
        return chosen
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    for line in listed.splitlines():
        path = line.split(":")[0].strip()
        if path.lower().endswith((".ttf", ".otf", ".ttc")):
            return path
    raise ReportError("no CJK font found: install fonts-wqy-zenhei or set ONEMAP_REPORT_FONT")


def plain(text: Any, limit: int = 60) -> str:
    """A value as one line of plain text: control characters dropped, cut at ``limit`` characters."""
    s = _CONTROL.sub(" ", "" if text is None else str(text)).replace("\n", " ").strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def percent(rate: float | None) -> str:
    """A rate (0..1) as the report writes it: one decimal, no sign ("93.7")."""
    return "–" if rate is None else f"{100.0 * rate:.1f}"


# --- the figures: the screen's builders, nothing drawn a second way ----------------------------------


def figures(t: Text, data: ReportData, departments: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], int]]:
    """(section, figure, height in pixels) of every image in the report, built as the screen builds them."""
    rows = evaluation_view.league_rows(data.league)
    out: list[tuple[str, dict[str, Any], int]] = []
    geojson = evaluation_view.jurisdiction_geojson(departments)
    if geojson["features"]:
        style = map_style()  # no base tiles: the PDF is rendered where no tile server answers
        for indicator in MAP_INDICATORS:
            out.append(("maps", evaluation_view.choropleth(t, style, geojson, rows, indicator), 520))
    if data.volume is not None and len(data.volume):
        out.append(("charts", review_view.day_chart(t, data.volume), 380))
    if data.worst:
        out.append(("worst", evaluation_view.timeline(t, data.worst), 140 + 30 * len(data.worst)))
    return out


def render(figs: Sequence[dict[str, Any]], heights: Sequence[int], width: int = 1000) -> list[bytes]:
    """Each figure as a PNG, in one headless browser (started once for them all; no network: the
    plotly.js it loads is the one plotly ships, MathJax is off)."""
    if not figs:
        return []

    async def run() -> list[bytes]:
        out = []
        async with kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT_S) as k:
            for fig, height in zip(figs, heights, strict=True):
                spec = json.loads(pio.to_json(fig, validate=False))  # numpy arrays as dcc.Graph receives them
                opts = {"format": "png", "width": width, "height": height, "scale": 2}
                out.append(await k.calc_fig(spec, opts=opts))
        return out

    try:
        return asyncio.run(run())
    except ChromeNotFoundError:
        raise ReportError("no browser to render the charts: install chromium or set BROWSER_PATH") from None


# --- the document -------------------------------------------------------------------------------------


class _Document(FPDF):
    def __init__(self, t: Text, font: str):
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.t = t
        self.add_font("cjk", fname=font)
        self.set_font("cjk", size=10)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(12, 12, 12)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("cjk", size=8)
        self.cell(0, 5, self.t("report.page").format(n=self.page_no()), align="C")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("cjk", size=13)
        self.cell(0, 8, plain(text, 120), new_x="LMARGIN", new_y="NEXT")
        self.set_font("cjk", size=10)

    def line_of(self, text: str, size: float = 9) -> None:
        self.set_font("cjk", size=size)
        self.multi_cell(0, 5, plain(text, 400), new_x="LMARGIN", new_y="NEXT")
        self.set_font("cjk", size=10)

    def grid(self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        self.set_font("cjk", size=8)
        with self.table(
            col_widths=tuple(widths),
            headings_style=FontFace(emphasis=None, fill_color=(225, 232, 242)),
            line_height=5,
            text_align="LEFT",
            first_row_as_headings=True,
        ) as table:
            for cells in (header, *rows):
                row = table.row()
                for value in cells:
                    row.cell(plain(value))
        self.set_font("cjk", size=10)

    def image_block(self, png: bytes, height_px: int, title: str | None = None, width_px: int = 1000) -> None:
        """An image the page's width, on a new page when it does not fit (its title with it)."""
        width = self.epw
        height = min(width * height_px / width_px, self.eph - 20)
        if self.get_y() + height + (10 if title else 0) > self.page_break_trigger:
            self.add_page()
        if title:
            self.heading(title)
        self.image(io.BytesIO(png), w=width, h=height)
        self.ln(3)


def _day(at: datetime) -> str:
    return local(at).strftime("%Y-%m-%d %H:%M")


def document(
    t: Text,
    data: ReportData,
    images: dict[str, list[tuple[bytes, int]]],
    generated: datetime,
    font: str | None = None,
) -> bytes:
    """The PDF: ``images`` by section ("maps", "charts", "worst"), each PNG with its pixel height."""
    pdf = _Document(t, font or font_path())
    pdf.set_title(plain(t("report.title").format(month=data.month), 120))
    pdf.set_creator("OneMap")
    pdf.add_page()
    pdf.set_font("cjk", size=17)
    pdf.cell(0, 10, plain(t("report.title").format(month=data.month), 120), new_x="LMARGIN", new_y="NEXT")
    last_day = local(data.end - timedelta(seconds=1))
    pdf.line_of(
        t("report.period").format(
            start=local(data.start).strftime("%Y-%m-%d"), end=last_day.strftime("%Y-%m-%d"), zone=CITY_TIMEZONE
        )
    )
    pdf.line_of(t("report.generated").format(at=_day(generated)))

    pdf.heading(t("report.summary"))
    s = data.summary
    values = {**s["counts"], **{k: percent(v) for k, v in s["rates"].items()}}
    pdf.grid(
        [t(f"eval.col.{k}") for k in SUMMARY_FIELDS],
        [[_number(values[k]) for k in SUMMARY_FIELDS]],
        [1] * len(SUMMARY_FIELDS),
    )

    pdf.heading(t("report.league"))
    every = evaluation_view.league_rows(data.league)
    rows = sorted(
        (r for r in every if r["score"] is not None or any(r[k] for k in IDLE_UNLESS)),
        key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["name"]),
    )
    if rows:
        header = [t("eval.col.department" if k == "name" else f"eval.col.{k}") for k in LEAGUE_FIELDS]
        pdf.grid(
            header,
            [[_number(r[k]) for k in LEAGUE_FIELDS] for r in rows],
            [3.2, *([1] * (len(LEAGUE_FIELDS) - 1))],
        )
    if len(every) > len(rows):
        pdf.line_of(t("report.idle").format(n=len(every) - len(rows)), size=8)
    pdf.line_of(t("report.trend_note").format(previous=data.previous_month), size=8)

    if images.get("maps"):
        pdf.add_page()
        pdf.heading(t("report.maps"))
        pdf.line_of(t("report.map_note"), size=8)
        for png, height in images["maps"]:
            pdf.image_block(png, height)
    else:
        pdf.heading(t("report.maps"))
        pdf.line_of(t("report.no_map"), size=8)

    for png, height in images.get("charts", []):
        pdf.image_block(png, height, t("report.charts"))

    pdf.add_page()
    pdf.heading(t("report.worst").format(n=len(data.worst)))
    pdf.line_of(t("report.worst.rule"), size=8)
    if data.worst:
        columns = ("#", "eval.case.title", "eval.col.department", "eval.case.stage", "eval.case.dispatched")
        header = [c if c == "#" else t(c) for c in columns]
        header += [t("eval.case.deadline"), t("report.col.overdue_days"), t("report.col.reworks")]
        pdf.grid(
            header,
            [
                [
                    str(c["id"]),
                    plain(c["title"], 40),
                    plain(c["department"], 30),
                    t(f"stage.{c['stage']}"),
                    _day(c["dispatched_at"]) if c.get("dispatched_at") else "",
                    _day(c["deadline"]) if c.get("deadline") else "",
                    _number(c["overdue_days"]),
                    str(int(c.get("reworks") or 0)),
                ]
                for c in data.worst
            ],
            [0.7, 3.2, 2, 1.1, 1.5, 1.5, 0.9, 0.9],
        )
        for png, height in images.get("worst", []):
            pdf.image_block(png, height)
    else:
        pdf.line_of(t("report.worst.none"))
    return bytes(pdf.output())


def build(t: Text, data: ReportData, departments: list[dict[str, Any]], generated: datetime) -> bytes:
    """The month's PDF from its figures: the screen's figures rendered, then the document."""
    font = font_path()  # fail before the browser starts when there is no font
    made = figures(t, data, departments)
    pngs = render([f for _, f, _ in made], [h for _, _, h in made])
    images: dict[str, list[tuple[bytes, int]]] = {}
    for (section, _, height), png in zip(made, pngs, strict=True):
        images.setdefault(section, []).append((png, height))
    return document(t, data, images, generated, font)
