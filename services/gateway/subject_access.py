"""A subject access export of everything held about a child, from every service that holds something, as JSON
and as PDF (the child's LA's VS admin only).

pep answers first and decides: it holds the child's record, says who may export it (anyone else gets its 404 or
403), and records the export in the child's access log. Then delegation, qa and notify each give their own part
(tasks and their history, QA reviews and PP+ funding, emails sent about the child), asked with the caller's own
claims, so each still reads only its own schema and only its VS admin's LAs. Accounts are identity's and stay
out: they are the staff's data, not the child's. Should any part fail the whole export fails, rather than
hand over an incomplete one as if it were complete."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from fpdf import FPDF
from pydantic import TypeAdapter

from services.gateway.handlers import CLIENTS, authenticate
from services.gateway.openapi import Operation, ProblemDocument, operation
from shared.api.children import SubjectAccess
from shared.web import REQUEST_ID

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
OTHERS = ("delegation", "qa", "notify")
_ADAPTER = TypeAdapter(SubjectAccess)
_tags = ["children"]
_answers = {401: ProblemDocument, 403: ProblemDocument, 404: ProblemDocument}

operation(Operation("get", "/api/v1/children/{child_id}/subject-access", "Everything held about a child, for a "
                    "subject access request: pep's record, PEPs, files, notes and access log, with delegation's "
                    "tasks, qa's reviews and PP+ funding, and notify's emails about the child (the child's LA's VS "
                    "admin only; recorded in the access log)", None, {200: SubjectAccess, **_answers}, tags=_tags))
operation(Operation("get", "/api/v1/children/{child_id}/subject-access.pdf", "The same export as PDF",
                    None, {200: None, **_answers}, tags=_tags))


async def gather(request: web.Request) -> dict[str, Any]:
    claims = await authenticate(request)
    child_id = request.match_info["child_id"]
    clients, request_id = request.app[CLIENTS], request[REQUEST_ID]
    export = await clients["pep"].call("GET", f"/children/{child_id}/subject-access", claims, request_id=request_id)
    query = urlencode([("pep_id", p["id"]) for p in export.get("peps", [])])
    parts = await asyncio.gather(*(clients[s].call("GET", f"/children/{child_id}/subject-access?{query}", claims,
                                                   request_id=request_id) for s in OTHERS))
    export["held_by_others"] = dict(zip(OTHERS, parts, strict=True))
    export["held_elsewhere"] = ["the accounts of the staff involved (identity): theirs, not the child's"]
    return _ADAPTER.dump_python(_ADAPTER.validate_python(export), mode="json")


@routes.get("/api/v1/children/{child_id}/subject-access")
async def subject_access(request: web.Request) -> web.Response:
    return web.json_response(await gather(request), headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/children/{child_id}/subject-access.pdf")
async def subject_access_pdf(request: web.Request) -> web.Response:
    export = await gather(request)
    body = await asyncio.to_thread(render_pdf, export)  # blocking work off the event loop
    return web.Response(body=body, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{export["child"]["id"]}.pdf"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# ---- the PDF: every part as headed lists of "field: value", in the order the export holds them -------------

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"))
FONTS = (("liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf"),
         ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"))


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4", unit="mm")
        found = next(((d / r, d / b) for r, b in FONTS for d in FONT_DIRS if (d / r).is_file() and (d / b).is_file()),
                     None)
        if found:
            self.add_font("body", "", str(found[0]))
            self.add_font("body", "B", str(found[1]))
            self.face, self.unicode = "body", True
        else:
            self.face, self.unicode = "helvetica", False
        self.set_title(self.text_of(title))
        self.set_lang("en-GB")
        self.set_creator("ePEP")
        self.set_margins(16, 14, 16)
        self.set_auto_page_break(True, margin=16)
        self.add_page()

    def text_of(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if self.unicode:
            return text
        plain = unicodedata.normalize("NFKD", text).encode("latin-1", "ignore").decode("latin-1")
        return "".join(c for c in plain if not unicodedata.combining(c))

    def heading(self, text: str, size: float) -> None:
        self.set_font(self.face, "B", size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def line(self, depth: int, key: str, value: Any) -> None:
        self.set_x(self.l_margin + 5 * depth)
        self.set_font(self.face, "B", 9)
        label = f"{_words(key)}: "
        self.cell(self.get_string_width(label) + 1, 4.6, self.text_of(label))
        self.set_font(self.face, "", 9)
        self.multi_cell(0, 4.6, self.text_of(value if value not in (None, "") else "—" if self.unicode else "-"),
                        new_x="LMARGIN", new_y="NEXT")


def _write(pdf: _Pdf, value: Any, depth: int) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                pdf.set_x(pdf.l_margin + 5 * depth)
                pdf.heading(_words(key), 10)
                _write(pdf, item, depth + 1)
            else:
                pdf.line(depth, key, item)
    elif isinstance(value, list):
        if not value:
            pdf.line(depth, "entries", "none")
        for number, item in enumerate(value, start=1):
            if isinstance(item, dict | list):
                pdf.set_x(pdf.l_margin + 5 * depth)
                pdf.heading(f"{number}.", 9)
                _write(pdf, item, depth + 1)
            else:
                pdf.line(depth, f"{number}", item)


def render_pdf(export: dict[str, Any]) -> bytes:
    child = export.get("child", {})
    title = f"Subject access export: {child.get('given_name', '')} {child.get('family_name', '')}".strip()
    pdf = _Pdf(title)
    pdf.heading(title, 16)
    pdf.set_font(pdf.face, "", 9)
    pdf.multi_cell(0, 4.6, pdf.text_of(f"Exported {export.get('exported_at', '')}. Everything held about this child "
                                       "by each part of the service, as stored."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for key, value in export.items():
        if key in ("exported_at", "held_by"):
            continue
        pdf.start_section(_words(key))
        pdf.heading(_words(key), 13)
        if isinstance(value, dict | list):
            _write(pdf, value, 0)
        else:
            pdf.line(0, key, value)
        pdf.ln(2)
    return bytes(pdf.output())
