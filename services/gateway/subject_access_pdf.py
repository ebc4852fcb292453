"""The subject access export as a tagged, accessible PDF (PDF/UA-1): every part of the export, in the order the
export holds it, under headings a screen reader can move between.

The child's record and each part held by a service is a heading (H2, then H3... for what is inside it, never
skipping a level); plain values are a two-column table whose row headers name each field; a list of short
records (the access log, emails sent) is a table with column headers; longer records follow one another, each
under its own numbered heading. Rendering is blocking: call `render_pdf` through `asyncio.to_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.pdfdoc import PdfTemplates

TEMPLATES = PdfTemplates(Path(__file__).parent / "pdf_templates")
SKIPPED = ("exported_at", "held_by")  # said in the introduction
# A list of records prints as a table when each has at most this many plain fields (a portrait A4 page's width).
TABLE_COLUMNS = 4
DEEPEST = 6  # the deepest heading level HTML (and the PDF's tags) has


@dataclass(frozen=True)
class Block:
    """One piece of the export: `kind` is "part" (a `heading` at `level` over `blocks`), "fields" (`rows` of
    label and value), "table" (`columns` and `rows`) or "none" (an empty list)."""

    kind: str
    heading: str = ""
    level: int = 2
    blocks: list[Block] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"  # as stored
    return str(value)


def _plain(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _of_dict(value: dict[str, Any], level: int) -> list[Block]:
    """Plain fields together in one table, each nested part under its own heading, in the export's order."""
    blocks: list[Block] = []
    for key, item in value.items():
        if _plain(item):
            if not blocks or blocks[-1].kind != "fields":
                blocks.append(Block("fields"))
            blocks[-1].rows.append([_words(key), _text(item)])
        else:
            blocks.append(_part(_words(key), item, level))
    return blocks


def _of_list(label: str, value: list[Any], level: int) -> list[Block]:
    if not value:
        return [Block("none")]
    if all(_plain(v) for v in value):
        return [Block("fields", rows=[[str(n), _text(v)] for n, v in enumerate(value, start=1)])]
    records = [v for v in value if isinstance(v, dict)]
    columns = list(dict.fromkeys(k for r in records for k in r))
    if len(records) == len(value) and len(columns) <= TABLE_COLUMNS and all(
            _plain(v) for r in records for v in r.values()):
        return [Block("table", columns=[_words(c) for c in columns],
                      rows=[[_text(r.get(c)) for c in columns] for r in records])]
    return [_part(f"{label}: {n} of {len(value)}", v, level) for n, v in enumerate(value, start=1)]


def _part(heading: str, value: Any, level: int) -> Block:
    inner = min(level + 1, DEEPEST)
    if isinstance(value, dict):
        blocks = _of_dict(value, inner)
    elif isinstance(value, list):
        blocks = _of_list(heading, value, inner)
    else:
        blocks = [Block("fields", rows=[[heading, _text(value)]])]
    return Block("part", heading=heading, level=min(level, DEEPEST), blocks=blocks)


def render_pdf(export: dict[str, Any]) -> bytes:
    child = export.get("child", {})
    title = f"Subject access export: {child.get('given_name', '')} {child.get('family_name', '')}".strip()
    parts = [_part(_words(key), value, 2) for key, value in export.items() if key not in SKIPPED]
    return TEMPLATES.render("subject_access.html", title=title, subject="Subject access export",
                            exported_at=export.get("exported_at", ""), parts=parts)
