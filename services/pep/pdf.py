"""PEPs and blank PEP forms as PDF, with fpdf2.

fpdf2 is pure Python (its wheels need no system libraries, unlike WeasyPrint's Pango), writes real text with a
document title, language (en-GB) and an outline of the sections, so a screen reader or a search finds the words.
Rendering is blocking: call these through `asyncio.to_thread`.

Text is set in Liberation Sans (Arial's metrics, as the portal uses Arial) or DejaVu Sans when the machine has
them, so any name prints as written; without either, in the PDF core Helvetica, where characters beyond
Windows-1252 are simplified (ł becomes l) rather than lost.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace, TextStyle
from fpdf.prefs import ViewerPreferences

from services.pep.domain import printable
from shared.api.templates import Section, Template, TemplateField, visible

log = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONTS = (("liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf"),
         ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"))
GREY = (80, 80, 80)
LINE = 5.5  # mm per line of body text
BOX = 4.0  # a tick box's side, mm
# Letters that Unicode does not decompose into a base letter and an accent.
_PLAIN = str.maketrans("ŁłĐđĦħıŦŧ", "LlDdHhiTt")


@dataclass(frozen=True)
class FilledSection:
    section: Section
    answers: dict[str, Any]
    status: str


@dataclass(frozen=True)
class PepDocument:
    """Everything a PEP's PDF shows, already chosen for the reader (their sections, their variant)."""

    title: str  # the document title, e.g. "Termly PEP: Jordan Example, autumn term 2026/27"
    heading: str  # "Full PEP" or "Termly PEP"
    cover: list[tuple[str, str]]
    sections: list[FilledSection]
    # Quality assurance ratings and feedback (full PEP only); the section is printed only when there are some.
    qa: list[tuple[str, str]] = field(default_factory=list)
    printed_at: datetime | None = None


@cache
def _font_files() -> tuple[Path, Path] | None:
    for regular, bold in FONTS:
        for folder in FONT_DIRS:
            if (folder / regular).is_file() and (folder / bold).is_file():
                return folder / regular, folder / bold
    log.warning("no Unicode font found for PDFs; using Helvetica", extra={"looked_in": [str(d) for d in FONT_DIRS]})
    return None


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.doc_title = title
        fonts = _font_files()
        if fonts is not None:
            self.add_font("body", "", str(fonts[0]))
            self.add_font("body", "B", str(fonts[1]))
            self.face, self.unicode_font = "body", True
        else:
            self.core_fonts_encoding = "windows-1252"
            self.face, self.unicode_font = "helvetica", False
        self.set_title(self.settable(title))
        self.set_lang("en-GB")
        self.set_creator("ePEP")
        self.set_subject("Personal Education Plan")
        self.viewer_preferences = ViewerPreferences(display_doc_title=True)
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        self.set_section_title_styles(
            TextStyle(font_family=self.face, font_style="B", font_size_pt=17, t_margin=4, b_margin=3),
            TextStyle(font_family=self.face, font_style="B", font_size_pt=13, t_margin=3, b_margin=2),
            TextStyle(font_family=self.face, font_style="B", font_size_pt=11, t_margin=2, b_margin=1))
        self.set_font(self.face, size=10.5)
        self.add_page()

    def settable(self, value: str) -> str:
        """Text this font can set: all of it with a Unicode font; with Helvetica, Windows-1252 only."""
        if self.unicode_font:
            return value
        out = []
        for ch in value:
            try:
                ch.encode("windows-1252")
                out.append(ch)
            except UnicodeEncodeError:
                plain = unicodedata.normalize("NFKD", ch.translate(_PLAIN))
                plain = plain.encode("windows-1252", "ignore").decode("windows-1252")
                out.append(plain or "?")
        return "".join(out)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, size=8.5)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.settable(f"{self.doc_title}  ·  page {self.page_no()} of {{nb}}"), align="C")
        self.set_text_color(0, 0, 0)

    # ---- building blocks ----------------------------------------------------------------------

    def heading(self, words: str, level: int) -> None:
        if self.will_page_break(30 if level == 0 else 20):
            self.add_page()
        self.start_section(self.settable(words), level=level, strict=False)

    def para(self, words: str, *, bold: bool = False, size: float = 10.5, grey: bool = False) -> None:
        self.set_font(self.face, "B" if bold else "", size)
        if grey:
            self.set_text_color(*GREY)
        self.multi_cell(0, LINE * size / 10.5, self.settable(words), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.set_font(self.face, "", 10.5)

    def question(self, label: str, hint: str | None = None, need: float = LINE) -> None:
        """A question's label (and hint), kept on one page with the first `need` mm of what follows."""
        if self.will_page_break(2 * LINE + need):
            self.add_page()
        self.ln(1.5)
        self.para(label, bold=True)
        if hint:
            self.para(hint, size=9.5, grey=True)

    def table_of(self, headings: list[str], rows: list[list[str]], widths: tuple[float, ...] | None = None,
                 *, min_row_height: float | None = None) -> None:
        self.ln(1)
        with self.table(col_widths=widths, text_align="LEFT", line_height=LINE, padding=1.2,
                        headings_style=FontFace(emphasis="BOLD", fill_color=(238, 238, 238)),
                        min_row_height=min_row_height, v_align="TOP") as table:
            table.row([self.settable(h) for h in headings])
            for row in rows:
                table.row([self.settable(c) for c in row])
        self.ln(1)

    def box(self, height: float, width: float | None = None, prefix: str = "") -> None:
        """An empty box to write in."""
        if self.will_page_break(height + 2):
            self.add_page()
        x = self.l_margin
        if prefix:
            self.cell(6, height, self.settable(prefix))
            x += 6
        self.rect(x, self.y, width or (self.epw - (x - self.l_margin)), height)
        self.set_xy(self.l_margin, self.y + height + 1.5)

    def tick(self, label: str) -> None:
        """A tick box with its label beside it."""
        if self.will_page_break(LINE + 1):
            self.add_page()
        self.rect(self.l_margin + 1, self.y + (LINE - BOX) / 2, BOX, BOX)
        self.set_x(self.l_margin + BOX + 3)
        self.multi_cell(self.epw - BOX - 3, LINE, self.settable(label), new_x="LMARGIN", new_y="NEXT")
        self.ln(0.8)


# ---- a PEP, filled in ----------------------------------------------------------------------------


def render_pep(doc: PepDocument) -> bytes:
    pdf = _Pdf(doc.title)
    pdf.heading(f"Personal Education Plan: {doc.heading}", 0)
    _pairs(pdf, doc.cover)
    if doc.printed_at is not None:
        pdf.para(f"Printed on {doc.printed_at.day} {doc.printed_at:%B %Y} at {doc.printed_at:%H:%M}. "
                 "The PEP may have changed since.", size=9.5, grey=True)
    for filled in doc.sections:
        pdf.add_page()
        pdf.heading(filled.section.title, 0)
        if filled.status != "complete":
            pdf.para(f"Section status: {filled.status.replace('_', ' ')}", size=9.5, grey=True)
        _answers(pdf, filled.section.fields, filled.answers)
    if doc.qa:
        pdf.add_page()
        pdf.heading("Quality assurance", 0)
        _pairs(pdf, doc.qa)
    return bytes(pdf.output())


def _pairs(pdf: _Pdf, pairs: list[tuple[str, str]]) -> None:
    """Label and value, one per line, as a two-column table without headings."""
    pdf.ln(1)
    with pdf.table(col_widths=(1, 2), text_align="LEFT", line_height=LINE, padding=1.2, first_row_as_headings=False,
                   v_align="TOP") as table:
        for label, value in pairs:
            row = table.row()
            row.cell(pdf.settable(label), style=FontFace(emphasis="BOLD"))
            row.cell(pdf.settable(value or "Not recorded"))
    pdf.ln(1)


def _answers(pdf: _Pdf, fields: list[TemplateField], answers: dict[str, Any], level: int = 0) -> None:
    for f in printable.shown(fields, answers):
        value = answers.get(f.key)
        if f.type != "group":
            pdf.question(f.label)
            pdf.para(printable.answer_text(f, value) or "Not answered", grey=not printable.answered(value))
            continue
        rows = [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
        pdf.question(f.label)
        if not rows:
            pdf.para("None given", grey=True)
        elif printable.as_table(f):
            columns = f.fields or []
            pdf.table_of([c.label for c in columns],
                         [[printable.answer_text(c, r.get(c.key)) if visible(c, r, columns) else ""
                           for c in columns]
                          for r in rows])
        else:
            for i, row in enumerate(rows, start=1):
                pdf.heading(f"{f.label}: {i} of {len(rows)}", min(level + 1, 2))
                _answers(pdf, f.fields or [], row, level + 1)


# ---- a blank form --------------------------------------------------------------------------------


def render_blank(template: Template) -> bytes:
    pdf = _Pdf(f"{template.name}: blank form (version {template.version})")
    pdf.heading(template.name, 0)
    pdf.para(f"Blank form, template version {template.version}. Tick one box where a question says ‘Tick one’, "
             "and any number where it says ‘Tick all that apply’. Some questions apply only after a particular "
             "answer: they say when.")
    for section in template.sections:
        pdf.add_page()
        pdf.heading(section.title, 0)
        if section.description:
            pdf.para(section.description, grey=True)
        _blank_fields(pdf, section.fields, 0)
    return bytes(pdf.output())


def _blank_fields(pdf: _Pdf, fields: list[TemplateField], level: int) -> None:
    for f in fields:
        pdf.question(f.label, " ".join(filter(None, [f.hint, printable.condition(f, fields)])) or None,
                     need=_first_part(f))
        _blank_answer(pdf, f, level)


def _first_part(f: TemplateField) -> float:
    """How much of a question's answer space must share a page with its label."""
    if f.type == "long_text":
        return 30
    if f.type in ("single_choice", "multiple_choice", "yes_no"):
        return 2 * LINE + 2
    if f.type == "group":
        return 25
    return 10


def _blank_answer(pdf: _Pdf, f: TemplateField, level: int) -> None:
    kind = f.type
    if kind == "long_text":
        pdf.box(28)
    elif kind == "text":
        pdf.box(8)
    elif kind == "date":
        pdf.box(8, 45)
    elif kind == "time":
        pdf.box(8, 25)
    elif kind in ("number", "score"):
        pdf.box(8, 30)
    elif kind == "money":
        pdf.box(8, 40, prefix="£")
    elif kind == "yes_no":
        for label in ("Yes", "No"):
            pdf.tick(label)
    elif kind in ("single_choice", "multiple_choice"):
        pdf.para("Tick one" if kind == "single_choice" else "Tick all that apply", size=9.5, grey=True)
        for option in f.options or []:
            pdf.tick(option.label)
    elif kind == "group":
        _blank_group(pdf, f, level)


def _blank_group(pdf: _Pdf, group: TemplateField, level: int) -> None:
    columns = group.fields or []
    rows = printable.blank_rows(group)
    limit = f"Up to {group.max_rows}." if group.max_rows else "Add more on a separate sheet if you need to."
    pdf.para(limit, size=9.5, grey=True)
    if printable.as_table(group) and not any(c.type in ("yes_no", "single_choice") for c in columns):
        pdf.table_of([c.label for c in columns], [[""] * len(columns) for _ in range(rows)], min_row_height=10)
        return
    for i in range(1, rows + 1):
        pdf.heading(f"{group.label}: {i}", min(level + 1, 2))
        _blank_fields(pdf, columns, level + 1)
