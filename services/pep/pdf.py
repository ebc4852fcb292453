"""PEPs and blank PEP forms as tagged, accessible PDF (PDF/UA-1), from the HTML templates in `pdf_templates/`.

This module chooses what a reader sees, in their words (`printable`), as a small tree of items; the templates
lay it out as HTML and `shared.pdfdoc` renders it with WeasyPrint, with a structure tree a screen reader can
follow: the document's title and language, one H1, a H2 per section, each question a heading of its own with
its answer under it, and groups of short rows as tables with header cells. Rendering is blocking: call these
through `asyncio.to_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.pep.domain import printable
from services.pep.domain.carry_forward import CURRENT_TARGETS
from shared.api.templates import Section, Template, TemplateField, visible
from shared.pdfdoc import PdfTemplates

TEMPLATES = PdfTemplates(Path(__file__).parent / "pdf_templates")
APPROVAL = "Virtual School approval"  # a target's funding decision (Kent: "VSK Approval")
# The deepest heading level HTML (and the PDF's tags) has.
DEEPEST = 6


@dataclass(frozen=True)
class FilledSection:
    section: Section
    answers: dict[str, Any]
    status: str


@dataclass(frozen=True)
class QaArea:
    """One area of the Virtual School's review, as its framework words it."""

    title: str
    rating: str
    feedback: str


@dataclass(frozen=True)
class PepDocument:
    """Everything a PEP's PDF shows, already chosen for the reader (their sections, their variant)."""

    title: str  # the document title, e.g. "Termly PEP: Jordan Example, autumn term 2026/27"
    heading: str  # "Full PEP" or "Termly PEP"
    cover: list[tuple[str, str]]
    sections: list[FilledSection]
    # Quality assurance ratings and feedback (full PEP only); the section is printed only when there are some:
    # `qa` the review's summary (overall rating, feedback, outcome), `qa_areas` each area's rating and feedback.
    qa: list[tuple[str, str]] = field(default_factory=list)
    qa_areas: list[QaArea] = field(default_factory=list)
    printed_at: datetime | None = None
    # Each current target's funding in words, by its row (target_funding.in_words): Kent's "VSK Approval".
    funding: dict[int, str] = field(default_factory=dict)


# ---- what the templates lay out: a question and its answer, or its space to write in --------------------


@dataclass(frozen=True)
class Item:
    """One question at heading `level`. `kind` says how its answer shows:

    - "answer": `text` (`quiet` when it is "Not answered" or "None given");
    - "table": a group's rows as a table, `columns` its header cells (`rows` empty strings on a blank form);
    - "entries": a group's rows one after another, each a heading (`level` + 1) and its own items;
    - "box" (`size`: long, line, date, time, number, money) or "ticks" (`options`): space on a blank form.
    """

    kind: str
    label: str
    level: int
    hint: str | None = None
    text: str = ""
    quiet: bool = False
    note: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    entries: list[tuple[str, list[Item]]] = field(default_factory=list)
    size: str = ""
    options: list[str] = field(default_factory=list)


def _level(level: int) -> int:
    return min(level, DEEPEST)


# ---- a PEP, filled in ----------------------------------------------------------------------------


def render_pep(doc: PepDocument) -> bytes:
    printed = (f"Printed on {doc.printed_at.day} {doc.printed_at:%B %Y} at {doc.printed_at:%H:%M}. "
               "The PEP may have changed since.") if doc.printed_at is not None else None
    sections = [{"title": s.section.title,
                 "status": None if s.status == "complete" else s.status.replace("_", " "),
                 "items": _answers(s.section.fields, s.answers, 3, doc.funding)} for s in doc.sections]
    return TEMPLATES.render("pep.html", title=doc.title, subject="Personal Education Plan", heading=doc.heading,
                            cover=doc.cover, printed=printed, sections=sections, qa=doc.qa, qa_areas=doc.qa_areas)


def _answers(fields: list[TemplateField], answers: dict[str, Any], level: int,
             funding: dict[int, str] | None = None) -> list[Item]:
    items = []
    for f in printable.shown(fields, answers):
        value = answers.get(f.key)
        if f.type != "group":
            text = printable.answer_text(f, value)
            items.append(Item("answer", f.label, _level(level), text=text or "Not answered", quiet=not text))
            continue
        rows = [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
        columns = f.fields or []
        if not rows:
            items.append(Item("answer", f.label, _level(level), text="None given", quiet=True))
        elif printable.as_table(f):
            items.append(Item("table", f.label, _level(level), columns=[c.label for c in columns],
                              rows=[[printable.answer_text(c, r.get(c.key)) if visible(c, r, columns) else ""
                                     for c in columns] for r in rows]))
        else:
            decided = funding if funding and f.key == CURRENT_TARGETS else {}
            entries = [(f"{f.label}: {i} of {len(rows)}", _answers(columns, row, level + 2) + (
                [Item("answer", APPROVAL, _level(level + 2), text=decided[i])] if i in decided else []))
                for i, row in enumerate(rows, start=1)]
            items.append(Item("entries", f.label, _level(level), entries=entries))
    return items


# ---- a blank form --------------------------------------------------------------------------------

BOXES = {"long_text": "long", "text": "line", "date": "date", "time": "time", "number": "number", "score": "number",
         "money": "money"}


def render_blank(template: Template) -> bytes:
    intro = (f"Blank form, template version {template.version}. Tick one box where a question says ‘Tick one’, "
             "and any number where it says ‘Tick all that apply’. Some questions apply only after a particular "
             "answer: they say when.")
    sections = [{"title": s.title, "description": s.description, "items": _blank_fields(s.fields, 3)}
                for s in template.sections]
    return TEMPLATES.render("blank.html", title=f"{template.name}: blank form (version {template.version})",
                            subject="Personal Education Plan: blank form", heading=template.name, intro=intro,
                            sections=sections)


def _blank_fields(fields: list[TemplateField], level: int) -> list[Item]:
    return [_blank_item(f, " ".join(filter(None, [f.hint, printable.condition(f, fields)])) or None, level)
            for f in fields]


def _blank_item(f: TemplateField, hint: str | None, level: int) -> Item:
    kind, at = f.type, _level(level)
    if kind in BOXES:
        return Item("box", f.label, at, hint=hint, size=BOXES[kind])
    if kind == "yes_no":
        return Item("ticks", f.label, at, hint=hint, options=["Yes", "No"])
    if kind in ("single_choice", "multiple_choice"):
        return Item("ticks", f.label, at, hint=hint, note="Tick one" if kind == "single_choice" else
                    "Tick all that apply", options=[o.label for o in f.options or []])
    # A group: a table to fill in when its rows are short, otherwise each row's questions in turn.
    columns = f.fields or []
    rows = printable.blank_rows(f)
    note = f"Up to {f.max_rows}." if f.max_rows else "Add more on a separate sheet if you need to."
    if printable.as_table(f) and not any(c.type in ("yes_no", "single_choice") for c in columns):
        return Item("table", f.label, at, hint=hint, note=note, columns=[c.label for c in columns],
                    rows=[[""] * len(columns) for _ in range(rows)])
    entries = [(f"{f.label}: {i}", _blank_fields(columns, level + 2)) for i in range(1, rows + 1)]
    return Item("entries", f.label, at, hint=hint, note=note, entries=entries)
