"""A PEP to keep or send on: the Full PEP and the Termly PEP as PDF, the PEP as JSON, and blank forms.

The Full PEP carries the Virtual School's quality assurance when there is some, so only those who may see QA
get it (404 for anyone else, as for a PEP they cannot reach); the Termly PEP is for everyone who can read the
PEP, carers included. Each shows only the sections the caller may see. Rendering is blocking work: a thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from services.pep import children_store, pdf, qa_outcomes
from services.pep import pep_store as store
from services.pep.attachments import DOWNLOAD_HEADERS, content_disposition
from services.pep.domain.access import Access
from services.pep.domain.peps import shown_state
from services.pep.peps import _pep_or_404, _summary
from services.pep.target_funding import in_words, of_pep
from services.pep.template_library import load_default_templates
from shared.api import peps as api
from shared.api.templates import Template
from shared.authz import QA_SECTION_OWNER, not_found
from shared.errors import FieldError, Problem
from shared.service import POOL
from shared.web import CLAIMS, path_uuid, serves

routes = web.RouteTableDef()
LONDON = ZoneInfo("Europe/London")
VARIANTS = {"full": "Full PEP", "termly": "Termly PEP"}
KIND_WORDS = {"initial": "Initial PEP", "termly_review": "Termly review", "change_of_placement": "Change of placement",
              "change_of_setting": "Change of setting", "emergency": "Emergency PEP"}
# Blank forms depend only on the template version: render each once per process.
_blank_forms: dict[tuple[str, int], bytes] = {}


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(body=body, content_type=content_type, headers={
        **DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(filename)})


def _file_stem(pep: asyncpg.Record) -> str:
    # No names in file names: they end up in download folders, mail attachments and proxies' logs.
    return f"pep-{pep['academic_year'].replace('/', '-')}-{pep['term']}"


async def _gather(request: web.Request) -> tuple[asyncpg.Record, Access, Template, asyncpg.Record,
                                                 dict[str, asyncpg.Record]]:
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        child = await children_store.child(conn, pep["child_id"])
        saved = await store.sections(conn, pep["id"])
    assert child is not None  # _pep_or_404 found it
    return pep, access, template, child, saved


@serves(routes, api.EXPORT_PDF)
async def export_pdf(request: web.Request) -> web.Response:
    """`?variant=termly` (the default) or `full`."""
    variant = request.query.get("variant", "termly")
    if variant not in VARIANTS:
        raise Problem(422, "Choose full or termly", code="validation",
                      errors=[FieldError(field="variant", message="Choose full or termly")])
    pep, access, template, child, saved = await _gather(request)
    if variant == "full" and not access.sees_qa:
        raise not_found("PEP")
    qa = None
    if variant == "full":
        async with request.app[POOL].acquire() as conn:
            qa = await qa_outcomes.outcome_of(conn, pep["id"])
    document = pep_document(VARIANTS[variant], pep, template, child, saved, access, with_review=variant == "full",
                            printed_at=datetime.now(LONDON), qa=qa)
    async with request.app[POOL].acquire() as conn:  # each target's funding and its decision (VSK Approval)
        funding = await of_pep(conn, pep["id"], template, {s.section.key: s.answers for s in document.sections})
    document = dataclasses.replace(document, funding={f.target: in_words(f) for f in funding})
    body = await asyncio.to_thread(pdf.render_pep, document)
    return _download(body, "application/pdf", f"{_file_stem(pep)}-{variant}.pdf")


def pep_document(heading: str, pep: asyncpg.Record | dict[str, Any], template: Template,
                 child: asyncpg.Record | dict[str, Any], saved: dict[str, Any], access: Access,
                 printed_at: datetime | None = None, with_review: bool = True,
                 qa: Mapping[str, Any] | None = None) -> pdf.PepDocument:
    """What the reader's PDF holds: the cover, then each section they may see, in the template's order, and, in
    the Full PEP (`with_review`), the Virtual School's review as qa last announced it (`qa`, qa_outcomes.py):
    each area's rating and feedback, the overall rating (Gold where awarded) and feedback, in the framework's
    words. A PEP QA has not decided prints no QA section rather than an empty one."""
    personal = saved.get("personal")
    setting = (personal["answers"].get("setting_name") if personal is not None else None) or ""
    name = f"{child['given_name']} {child['family_name']}"
    born: date = child["date_of_birth"]
    cover = [("Child", name), ("Date of birth", f"{born.day} {born:%B %Y}"), ("Setting", setting),
             ("Year group", child["year_group"] or ""), ("PEP", KIND_WORDS.get(pep["kind"], pep["kind"])),
             ("Term", pep["term"].capitalize()), ("Academic year", pep["academic_year"]),
             ("Meeting date", f"{pep['meeting_date'].day} {pep['meeting_date']:%B %Y}" if pep["meeting_date"] else ""),
             ("Status", pep["status"].replace("_", " ").capitalize()),
             ("Template", f"{template.name}, version {template.version}")]
    # The Termly PEP is shared with carers: the Virtual School's review (its sign-off checklist and comments)
    # stays in the Full PEP.
    sections = [pdf.FilledSection(s, saved[s.key]["answers"], shown_state(pep["status"], saved[s.key]["status"], [])[0])
                for s in template.sections
                if access.may_see(s) and s.key in saved and (with_review or s.owner != QA_SECTION_OWNER)]
    summary, areas = _review(qa) if with_review and qa is not None else ([], [])
    return pdf.PepDocument(title=f"{heading}: {name}, {pep['term']} term {pep['academic_year']}", heading=heading,
                           cover=cover, sections=sections, printed_at=printed_at, qa=summary, qa_areas=areas)


QA_OUTCOMES = {"approve": "Approved", "confirm": "Approved, and its rating confirmed",
               "return": "Returned to the school for changes",
               "reviewed": "Approved at the first level, waiting for the second review"}


def _review(qa: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[pdf.QaArea]]:
    """The review's summary and each area's rating and feedback, as the Full PEP prints them."""
    overall = qa["grade_label"] or qa["overall_label"] or ""
    if qa["grade"] != qa["overall_grade"] and qa["overall_label"]:
        overall = f"{overall} (rated {qa['overall_label']}, and recorded on time)"
    reviewed = qa["submitted_at"].astimezone(LONDON) if qa["submitted_at"] else None
    summary = [("Framework", qa["framework_name"] or ""), ("Overall rating", overall),
               ("Overall feedback", qa["overall_feedback"] or "None given"),
               ("Outcome", QA_OUTCOMES.get(qa["outcome"], qa["outcome"]))]
    if qa["reason"]:
        summary.append(("What the school was asked to change", qa["reason"]))
    if reviewed is not None:
        summary.append(("Submission reviewed", f"{reviewed.day} {reviewed:%B %Y}"))
    areas = [pdf.QaArea(a.get("title") or a.get("key") or "", a.get("grade_label") or "Not rated",
                        a.get("feedback") or "None given") for a in qa["areas"] or []]
    return summary, areas


@serves(routes, api.EXPORT_JSON)
async def export_json(request: web.Request) -> web.Response:
    """The PEP, the template version it was written on and the answers of every section the caller may see."""
    pep, access, template, child, saved = await _gather(request)
    visible = [s for s in template.sections if access.may_see(s)]  # QA's sign-off only for those who see QA
    body = {
        "export": {"format": "epep.pep", "version": 1, "exported_at": datetime.now(UTC).isoformat()},
        "pep": _summary(pep).model_dump(mode="json"),
        "child": {"id": str(child["id"]), "given_name": child["given_name"], "family_name": child["family_name"],
                  "date_of_birth": child["date_of_birth"].isoformat(), "year_group": child["year_group"]},
        "template": {**template.model_dump(mode="json"), "sections": [s.model_dump(mode="json") for s in visible]},
        "sections": [_section_export(s.key, s.title, saved[s.key]) for s in visible if s.key in saved],
    }
    text = json.dumps(body, ensure_ascii=False, indent=2)
    return _download(text.encode(), "application/json", f"{_file_stem(pep)}.json")


def _section_export(key: str, title: str, row: asyncpg.Record) -> dict[str, Any]:
    return {"key": key, "title": title, "status": row["status"], "version": row["version"],
            "answers": row["answers"], "to_check": row["to_check"], "updated_at": row["updated_at"].isoformat(),
            "updated_by_name": row["updated_by_name"],
            "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None}


@serves(routes, api.BLANK_FORM)
async def blank_form(request: web.Request) -> web.Response:
    """A national default template as a printable form: every question with space to answer it."""
    template = load_default_templates().get(request.match_info["key"])
    if template is None:
        raise not_found("template")
    cache_key = (template.key, template.version)
    if cache_key not in _blank_forms:
        _blank_forms[cache_key] = await asyncio.to_thread(pdf.render_blank, template)
    return _download(_blank_forms[cache_key], "application/pdf", f"{template.key}-v{template.version}-blank.pdf")
