"""Children: the list someone may see, a child's profile with their PEPs, and starting a PEP.

pep decides who sees which child (another's child is "Page not found") and who may start a PEP; the
"Start a PEP" button is offered to those it would allow, and whatever it says when it refuses is shown.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import clock_words, pep_words
from services.portal.child_record_pages import (
    activity_rows,
    attendance_chart,
    months_back,
    note_problem,
    record_parts,
)
from services.portal.gateway_client import SESSION_COOKIE, Caller, GatewayProblem, GatewayUnavailable, NotSignedIn
from services.portal.pagekit import caller, gateway, optional_uuid, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import long_date
from shared.api import children as children_api
from shared.api.attachments import LIST_ATTACHMENTS, AttachmentOut
from shared.api.auth import GET_ME
from shared.api.children import ChildProfile, Indicators
from shared.api.identity import LIST_SETTINGS
from shared.api.peps import LIST_CHILD_PEPS, START_PEP, PepSummary
from shared.api.qa import CHILD_PEP_RATINGS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PAGE_SIZE = 25
CHILD_EDITORS = ("vs_admin", "vs_caseworker")  # who may add and import children (pep decides)
PROFILE_DONE = {**pep_words.ACTION_DONE, "uploaded": "File uploaded", "deleted": "File deleted",
                "added": "Child added", "changed": "Details saved", "attendance": "Attendance recorded",
                "note": "Note added", "school": "School changed", "placement": "Placement changed",
                "people": "Social worker, IRO and carers saved"}


def ensure_signed_in(request: web.Request) -> Caller:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    return caller(request, signed_in=True)


async def setting_names(request: web.Request, who: Caller) -> dict[str, str]:
    """Names of the settings this person can know of: their own, and those in the LAs they work for."""
    me = await gateway(request).call(GET_ME, who)
    names = {str(m.organisation_id): m.organisation_name for m in me.memberships if m.organisation_type == "setting"}
    las = sorted({str(m.organisation_id) for m in me.memberships if m.organisation_type == "local_authority"})
    found = await asyncio.gather(*(gateway(request).call(LIST_SETTINGS, who, la_id=la) for la in las),
                                 return_exceptions=True)
    for result in found:
        if isinstance(result, GatewayProblem | GatewayUnavailable):
            continue  # the names are a nicety: the page works without them
        if isinstance(result, BaseException):
            raise result
        names.update({str(s.id): s.name for s in result})
    return names


def _page_number(text: str) -> int:
    return max(1, min(int(text), 10_000)) if text.isdigit() else 1


def pagination(page: int, total: int, size: int, query: dict[str, str]) -> dict[str, Any] | None:
    """A govukPagination's params, keeping the search; None when everything fits on one page."""
    pages = max(1, -(-total // size))
    if pages <= 1:
        return None

    def href(n: int) -> str:
        return "/children?" + urlencode({**{k: v for k, v in query.items() if v}, "page": str(n)})

    shown = sorted({1, pages, *range(max(1, page - 1), min(pages, page + 1) + 1)})
    items: list[dict[str, Any]] = []
    for before, n in zip([0, *shown], shown, strict=False):
        if before and n - before > 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": href(n), "current": n == page})
    params: dict[str, Any] = {"items": items, "landmarkLabel": "Pages of children"}
    if page > 1:
        params["previous"] = {"href": href(page - 1)}
    if page < pages:
        params["next"] = {"href": href(page + 1)}
    return params


@routes.get("/children")
async def children(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    q = request.query.get("q", "").strip()[:100]
    setting_id = optional_uuid(request.query.get("setting", ""))
    page = _page_number(request.query.get("page", "1"))
    found, names, me = await asyncio.gather(
        gateway(request).call(children_api.LIST_CHILDREN, who, query={
            "q": q, "setting_id": setting_id, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}),
        setting_names(request, who), gateway(request).call(GET_ME, who))
    first = (page - 1) * PAGE_SIZE + 1
    return await render_signed_in(request, "children.html", {
        "current_page": "children", "children": found.items, "total": found.total, "q": q, "names": names,
        "can_add": any(m.organisation_type == "local_authority" and m.role in CHILD_EDITORS for m in me.memberships),
        "first": first, "last": first + len(found.items) - 1,
        "setting_items": [{"value": "", "text": "All settings"}] + [
            {"value": k, "text": v, "selected": k == setting_id}
            for k, v in sorted(names.items(), key=lambda kv: kv[1].casefold())],
        "pagination": pagination(page, found.total, PAGE_SIZE, {"q": q, "setting": setting_id})})


def profile_rows(child: ChildProfile, names: dict[str, str]) -> list[dict[str, Any]]:
    """The child's core data as a summary list's rows, saying "Not recorded" for what is missing."""
    def row(key: str, value: str | None) -> dict[str, Any]:
        return {"key": {"text": key}, "value": {"text": value or "Not recorded"}}

    carer = child.carer
    carer_text = ", ".join(x for x in (carer.name, carer.phone, carer.email) if x) if carer else None
    setting = names.get(str(child.setting_id), "An education setting") if child.setting_id else None
    return [
        row("Name", child.full_name),
        row("Date of birth", long_date(child.date_of_birth.isoformat())),
        row("Gender", pep_words.words(pep_words.GENDERS, child.gender)),
        row("Ethnicity", child.ethnicity),
        row("First language", child.first_language),
        row("Unique Pupil Number (UPN)", child.upn),
        *([row("Unique Learner Number (ULN)", child.uln)] if child.uln else []),
        row("Social care ID", child.social_care_id),
        row("Date entered care", (long_date(child.date_entered_care.isoformat()) + (
            ", by emergency placement" if child.entered_care_emergency else "")) if child.date_entered_care else None),
        row("Legal status", pep_words.words(pep_words.LEGAL_STATUSES, child.legal_status)),
        row("Placement", pep_words.words(pep_words.PLACEMENT_TYPES, child.placement_type)),
        row("Carer", carer_text),
        row("Education setting", setting),
        row("Year group", child.year_group),
        row("Latest change of school or placement", move_words(child)),
        row("Special educational needs", pep_words.words(pep_words.SEN_STATUSES, child.sen_status)),
        row("Health", child.health_notes),
    ]


def move_words(child: ChildProfile) -> str | None:
    """The latest change of school or placement: what, from when, and why (the why only for professionals)."""
    if child.moved_on is None:
        return None
    kind = "Change of school" if child.move_kind == "school" else "Change of placement"
    return f"{kind} from {long_date(child.moved_on.isoformat())}" + (f": {child.move_reason}"
                                                                       if child.move_reason else "")


def indicator_rows(child: ChildProfile) -> list[dict[str, Any]]:
    i = child.indicators
    key_stage: str = i.key_stage or child.key_stage or "Not recorded"
    rows: list[dict[str, Any]] = [
        {"key": {"text": "Key stage"}, "value": {"text": key_stage}},
        {"key": {"text": "Attendance this academic year"}, "value": {"text": pep_words.percent(i.attendance_percent)}},
        {"key": {"text": "Last PEP meeting"},
         "value": {"text": long_date(i.last_pep_date.isoformat()) if i.last_pep_date else "None yet"}},
        {"key": {"text": "Next PEP due"},
         "value": {"text": long_date(i.next_pep_due.isoformat()) if i.next_pep_due else "No date set"}},
    ]
    return rows + ([{"key": {"text": f"PP+ agreed this financial year ({i.pp_plus_financial_year})"
                             if i.pp_plus_financial_year else "PP+ agreed this financial year"},
                     "value": {"text": pp_plus_words(i)}}]
                   if i.pp_plus_agreed is not None else [])


def pp_plus_words(i: Indicators) -> str:
    requests = i.pp_plus_requests or 0
    parts = [f"{requests} {'request' if requests == 1 else 'requests'}"] if requests else []
    if i.pp_plus_paid_termly and Decimal(i.pp_plus_paid_termly):
        parts.append(f"£{Decimal(i.pp_plus_paid_termly):,.2f} paid termly")
    return f"£{Decimal(i.pp_plus_agreed or 0):,.2f}" + (f" ({' and '.join(parts)})" if parts else "")


def attachment_rows(files: list[AttachmentOut]) -> list[dict[str, Any]]:
    return [{"id": f.id, "filename": f.filename, "kind": pep_words.words(pep_words.ATTACHMENT_KINDS, f.kind),
             "size": pep_words.file_size(f.size_bytes), "by": f.uploaded_by_name or "Someone", "at": f.uploaded_at,
             "can_delete": f.can_delete} for f in files if f.deleted_at is None]


async def child_attachments(request: web.Request, child_id: str) -> list[dict[str, Any]] | None:
    try:
        return attachment_rows(await gateway(request).call(LIST_ATTACHMENTS, ensure_signed_in(request),
                                                           child_id=child_id))
    except GatewayProblem as p:
        if p.status in (403, 404):
            return None  # this person may not see the child's files
        raise


async def pep_ratings(request: web.Request, who: Caller, child_id: str) -> dict[str, Any] | None:
    """Each decided PEP's QA rating as a tag, by PEP id; None for those who do not see QA (carers, staff)."""
    from services.portal.qa_pages import grade_tag  # qa_pages builds on this module

    try:
        found = await gateway(request).call(CHILD_PEP_RATINGS, who, child_id=child_id)
    except GatewayProblem as p:
        if p.status in (403, 404):
            return None
        raise
    return {str(r.pep_id): grade_tag(r.grade, r.grade_label) for r in found.items if r.outcome != "return"}


async def _child_page(request: web.Request, child_id: str, who: Caller) -> tuple[ChildProfile, list[PepSummary],
                                                                                   dict[str, str]]:
    child, peps, names = await asyncio.gather(gateway(request).call(children_api.GET_CHILD, who, child_id=child_id),
                                              gateway(request).call(LIST_CHILD_PEPS, who, child_id=child_id),
                                              setting_names(request, who))
    return child, peps, names


@routes.get("/children/{child_id}")
async def child_profile(request: web.Request) -> web.Response:
    return await _profile(request, ensure_signed_in(request), require_uuid(request, "child_id"))


async def _profile(request: web.Request, who: Caller, child_id: str, note: str = "",
                   note_error: str | None = None) -> web.Response:
    child, peps, names = await _child_page(request, child_id, who)
    done = request.query.get("done", "")
    files = await child_attachments(request, str(child.id))
    ratings = await pep_ratings(request, who, str(child.id))
    notes, activity, attendance = await record_parts(gateway(request), who, child.id)
    clocks = await clock_words.child_clocks(request, who, str(child.id))
    is_vs_admin = child.access == "virtual_school" and any(
        m.role == "vs_admin" and m.organisation_id == child.la_id
        for m in (await gateway(request).call(GET_ME, who)).memberships)
    return await render_signed_in(request, "child.html", {
        "is_vs_admin": is_vs_admin, "notes": notes, "note": note, "errors": {"note": note_error} if note_error else {},
        "activity": activity_rows(activity), "chart": attendance_chart(attendance),
        "files": files, "can_edit": child.can_edit, "clock_rows": clock_words.card(clocks),
        "current_page": "children", "child": child, "peps": peps, "names": names, "ratings": ratings,
        "profile_rows": profile_rows(child, names), "indicator_rows": indicator_rows(child),
        "people": sorted(child.people, key=lambda p: (p.family_name.casefold(), p.given_name.casefold())),
        "can_start": child.access in pep_words.STARTERS,
        "done": {"heading": PROFILE_DONE[done], "body": ""} if done in PROFILE_DONE else None})


@routes.post("/children/{child_id}/notes")
async def add_note(request: web.Request) -> web.Response:
    """Add a case note. A note that cannot be saved comes back in the box with the reason, never lost."""
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    text = str((await request.post()).get("note", ""))
    problem = note_problem(text)
    if problem is None:
        try:
            await gateway(request).call(children_api.ADD_NOTE, who, {"body": text.strip()}, child_id=child_id)
        except GatewayProblem as p:
            if p.status == 404:
                raise
            log.info("note not added", extra={"status": p.status, "code": p.code})
            problem = p.field_errors().get("body") or p.message
        else:
            return redirect(f"/children/{child_id}?done=note#notes")
    return await _profile(request, who, child_id, text, problem)


@routes.get("/children/{child_id}/subject-access.json")
async def subject_access_download(request: web.Request) -> web.Response:
    """Everything pep holds about the child, as a file: for answering a subject access request."""
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    found = await gateway(request).call(children_api.SUBJECT_ACCESS, who, child_id=child_id)
    body = found.model_dump_json(indent=2).encode()
    # No name in the file name: downloads folders and mail attachments outlive the request.
    return web.Response(body=body, content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{child_id[:8]}.json"',
        "Cache-Control": "no-store"})


@routes.get("/children/{child_id}/subject-access.pdf")
async def subject_access_pdf(request: web.Request) -> web.Response:
    """The same export as PDF, for sending to the person who asked."""
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    pdf = children_api.SUBJECT_ACCESS_PDF
    async with gateway(request).download(who, pdf.bind(pdf.path, child_id=child_id)) as upstream:
        body = await upstream.read()
    return web.Response(body=body, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{child_id[:8]}.pdf"',
        "Cache-Control": "no-store"})


@routes.get("/children/{child_id}/access-log")
async def access_log_page(request: web.Request) -> web.Response:
    """Who has looked at or changed this child's record and PEPs, month by month: the Virtual School's page."""
    who = ensure_signed_in(request)
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=require_uuid(request, "child_id"))
    if child.access != "virtual_school":
        raise web.HTTPNotFound()
    months = months_back(date.today())
    month = next((m for m in months if m[0] == request.query.get("month")), months[0])
    reads_only = request.query.get("reads_only") == "true"
    found = await gateway(request).call(children_api.CHILD_ACCESS_LOG, who, query={
        "since": month[1], "until": month[2], "reads_only": reads_only or None}, child_id=child.id)
    return await render_signed_in(request, "child_access_log.html", {
        "current_page": "children", "child": child, "month": month[0], "reads_only": reads_only,
        "month_items": [{"value": m[0], "text": date.fromisoformat(m[1]).strftime("%B %Y"),
                         "selected": m[0] == month[0]} for m in months],
        "entries": [{"at": v[0].at, "name": v[0].name or "Someone",
                     "via": pep_words.words(pep_words.ACCESS_VIA, v[0].via), "what": pep_words.visit_words(v),
                     "pep_href": next((f"/peps/{e.pep_id}" for e in v if e.pep_id), None),
                     "address": v[0].address or ""} for v in pep_words.visits(found.entries)]})


# ---- starting a PEP ----------------------------------------------------------------------------------------


def _start_items(values: dict[str, str], errors: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {
        "meeting_date_items": pep_words.MEETING_DATE.items(values, errors.get("meeting_date")),
        "kind_items": [{"value": k, "text": v, "hint": {"text": pep_words.KIND_HINTS[k]},
                        "checked": values.get("kind") == k} for k, v in pep_words.KINDS.items()],
        "term_items": [{"value": k, "text": v, "checked": values.get("term") == k}
                       for k, v in pep_words.TERMS.items()],
    }


async def _start_page(request: web.Request, child: ChildProfile, values: dict[str, str],
                      errors: dict[str, str] | None = None, problem: str | None = None,
                      in_progress: PepSummary | None = None) -> web.Response:
    errors = errors or {}
    return await render_signed_in(request, "pep_start.html", {
        "current_page": "children", "child": child, "values": values, "errors": errors, "problem": problem,
        "in_progress": in_progress, **_start_items(values, errors or {})})


@routes.get("/children/{child_id}/peps/new")
async def start_pep_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=require_uuid(request, "child_id"))
    today = date.today()
    values = {"kind": "", "term": pep_words.term_of(today), "academic_year": pep_words.academic_year(today),
              **pep_words.MEETING_DATE.values_for("", "", "")}
    return await _start_page(request, child, values)


@routes.post("/children/{child_id}/peps/new")
async def start_pep(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    form = pep_words.check_start(await request.post())
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
    if form.errors:
        return await _start_page(request, child, form.values, form.errors)
    try:
        pep = await gateway(request).call(START_PEP, who, form.body, child_id=child_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("PEP start refused", extra={"status": p.status, "code": p.code})
        errors = {k: v for k, v in p.field_errors().items() if k in pep_words.START_FIELDS}
        in_progress = None
        if p.code == "pep_in_progress":
            peps = await gateway(request).call(LIST_CHILD_PEPS, who, child_id=child_id)
            in_progress = next((x for x in peps if x.status in pep_words.OPEN_STATUSES), None)
        return await _start_page(request, child, form.values, errors, None if errors else p.message, in_progress)
    return redirect(f"/peps/{pep.id}")

