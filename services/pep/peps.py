"""PEP documents: start one, read and save its sections, see what is missing, move it through its lifecycle."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from aiohttp import web

from services.pep import children_store, reached
from services.pep import pep_store as store
from services.pep.child_access import child_or_404
from services.pep.delegations import delegated_sections, held_by_delegate
from services.pep.domain import core_data, lifecycle
from services.pep.domain.access import Access
from services.pep.domain.carry_forward import core_values, funding_requests, start_answers
from services.pep.domain.lifecycle import next_term
from services.pep.domain.templates import Section, Template, clean_answers, missing, progress
from shared.api.peps import PepAction, PepStart, SectionSave
from shared.authz import not_found
from shared.bus import add_event
from shared.contracts import (
    FundingRequested,
    MeetingInvitee,
    PepMeetingChanged,
    PepOutcomesSubmitted,
    PepStatusChanged,
    SubjectAttainment,
)
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, REQUEST_ID, parse_body, path_uuid

routes = web.RouteTableDef()


async def _pep_or_404(conn: asyncpg.Connection, claims: Claims, pep_id: uuid.UUID, *,
                      lock: bool = False) -> tuple[asyncpg.Record, Access, Template]:
    pep = await store.pep(conn, pep_id, lock=lock)
    if pep is None:
        raise not_found("PEP")
    child, access = await child_or_404(conn, claims, pep["child_id"])
    reached.note(child, access.via, pep["id"])
    return pep, access, await store.template_by_id(conn, pep["template_id"])


def _section_or_404(template: Template, access: Access, key: str) -> Section:
    section = template.section(key)
    if section is None or not access.may_see_section(key):
        raise not_found("section")
    return section


def _summary(pep: asyncpg.Record) -> dict[str, Any]:
    return {"id": str(pep["id"]), "child_id": str(pep["child_id"]), "kind": pep["kind"], "term": pep["term"],
            "academic_year": pep["academic_year"], "status": pep["status"],
            "meeting_date": pep["meeting_date"].isoformat() if pep["meeting_date"] else None,
            "created_at": pep["created_at"].isoformat(), "updated_at": pep["updated_at"].isoformat()}


@routes.get("/children/{child_id}/peps")
async def list_peps(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        child, _ = await child_or_404(conn, request[CLAIMS], path_uuid(request, "child_id"))
        rows = await conn.fetch("SELECT * FROM peps WHERE child_id = $1 ORDER BY created_at DESC", child["id"])
    return web.json_response([_summary(r) for r in rows])


@routes.post("/children/{child_id}/peps")
async def start_pep(request: web.Request) -> web.Response:
    """A new PEP from the right template for the child's phase, carried forward from their last one."""
    claims = request[CLAIMS]
    body = await parse_body(request, PepStart)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        child, access = await child_or_404(conn, claims, path_uuid(request, "child_id"))
        if access.via not in ("virtual_school", "social_worker"):
            raise Problem(403, "Only the Virtual School or the child's social worker can start a PEP",
                          code="forbidden")
        # Serialise starts for this child, so two clicks cannot make two PEPs.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", str(child["id"]))
        if await conn.fetchval("SELECT 1 FROM peps WHERE child_id = $1 AND status NOT IN ('finalised', 'cancelled')",
                               child["id"]):
            raise Problem(409, "This child already has a PEP in progress",
                          "Finish or cancel it before starting another.", code="pep_in_progress")
        pep = await _create_pep(conn, child, body.kind, body.term, body.academic_year, body.meeting_date, claims)
    return web.json_response(_summary(pep), status=201)


@routes.get("/peps/{pep_id}")
async def overview(request: web.Request) -> web.Response:
    """The task list: each section with its owner, status, progress and whether the caller may edit it."""
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        saved = await store.sections(conn, pep["id"])
        delegated = await delegated_sections(conn, pep["id"])
    sections = []
    for section in template.sections:
        if not access.may_see_section(section.key):
            continue
        row = saved[section.key]
        answered, shown = progress(section, row["answers"])
        sections.append({"key": section.key, "title": section.title, "owner": section.owner,
                         "status": row["status"], "answered": answered, "questions": shown,
                         "to_check": len(row["to_check"]), "delegated": section.key in delegated,
                         "can_edit": _may_edit(pep, access, section, delegated)})
    return web.json_response({**_summary(pep), "template": {"key": template.key, "name": template.name,
                                                            "version": template.version},
                              "sections": sections,
                              "actions": lifecycle.allowed_actions(pep["status"], access.via)
                              if access.can_edit else []})


@routes.get("/peps/{pep_id}/sections/{key}")
async def read_section(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        row = (await store.sections(conn, pep["id"]))[section.key]
        delegated = await delegated_sections(conn, pep["id"])
    return web.json_response(_section_out(pep, access, section, row, delegated))


def _section_out(pep: asyncpg.Record, access: Access, section: Section, row: asyncpg.Record,
                 delegated: frozenset[str]) -> dict[str, Any]:
    return {"pep_id": str(pep["id"]), "key": section.key, "definition": section.model_dump(mode="json"),
            "answers": row["answers"], "version": row["version"], "status": row["status"],
            "to_check": row["to_check"], "updated_at": row["updated_at"].isoformat(),
            "updated_by_name": row.get("updated_by_name"),
            "missing": [e.model_dump() for e in missing(section.fields, row["answers"])],
            "delegated": section.key in delegated, "can_edit": _may_edit(pep, access, section, delegated)}


@routes.put("/peps/{pep_id}/sections/{key}")
async def save_section(request: web.Request) -> web.Response:
    """A partial save: only the answers sent change. A bad answer is refused by name and nothing is saved;
    a save started from an older version gets 409 with what is there now and who saved it."""
    claims = request[CLAIMS]
    body = await parse_body(request, SectionSave)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        section = _section_or_404(template, access, request.match_info["key"])
        delegated = await delegated_sections(conn, pep["id"])
        _require_edit(pep, access, section, delegated)
        clean, errors = clean_answers(section.fields, body.answers)
        if errors:
            raise Problem(422, "Some answers need changing", "Check these answers: " +
                          ", ".join(e.field for e in errors), code="validation",
                          errors=[FieldError(field=f"answers.{e.field}", message=e.message) for e in errors])
        saved = await store.save_section(conn, pep["id"], section.key, clean, body.version, uuid.UUID(claims.sub))
        if saved is None:
            current = (await store.sections(conn, pep["id"]))[section.key]
            raise Problem(409, "Someone else saved this section", f"{current['updated_by_name'] or 'Someone'} "
                          "saved it after you opened it. Your answers have not been saved: compare them with theirs.",
                          code="conflict", extra={"current": {
                              "answers": current["answers"], "version": current["version"],
                              "updated_by_name": current["updated_by_name"],
                              "updated_at": current["updated_at"].isoformat()}})
        if pep["status"] == "created":
            await conn.execute("UPDATE peps SET status = 'in_progress', updated_at = now() WHERE id = $1", pep["id"])
        else:
            await conn.execute("UPDATE peps SET updated_at = now() WHERE id = $1", pep["id"])
        if section.key == MEETING and MEETING_KEYS & set(clean):
            await _meeting_changed(conn, pep, saved["answers"], request[REQUEST_ID])
        row = (await store.sections(conn, pep["id"]))[section.key]
        pep = await store.pep(conn, pep["id"])
        assert pep is not None
    return web.json_response(_section_out(pep, access, section, row, delegated))


def _may_edit(pep: asyncpg.Record, access: Access, section: Section, delegated: frozenset[str]) -> bool:
    """The section's writers may edit it while the PEP is open; a delegated section, only the delegate (whatever
    role usually writes it: delegating is how the Virtual School hands a section to the school)."""
    if not access.can_edit:
        return False
    if section.key in delegated:
        return pep["status"] in lifecycle.EDITABLE and not held_by_delegate(section.key, access.via, delegated)
    return lifecycle.may_edit_section(section.owner, pep["status"], access.via)


def _require_edit(pep: asyncpg.Record, access: Access, section: Section, delegated: frozenset[str]) -> None:
    if held_by_delegate(section.key, access.via, delegated) and access.can_edit:
        raise Problem(403, "This section is with the school", "It is delegated to the Designated Teacher until they "
                      "submit their contribution or the task is retracted.", code="delegated")
    if not _may_edit(pep, access, section, delegated):
        raise Problem(403, "You cannot change this section now", code="read_only",
                      detail=f"This PEP is {pep['status'].replace('_', ' ')}." if pep["status"] not in
                      lifecycle.EDITABLE else "Another role writes this section.")


@routes.post("/peps/{pep_id}/sections/{key}/complete")
async def mark_section_complete(request: web.Request) -> web.Response:
    """The section's writer says it is done: only when every mandatory answer shown is there."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        section = _section_or_404(template, access, request.match_info["key"])
        delegated = await delegated_sections(conn, pep["id"])
        _require_edit(pep, access, section, delegated)
        row = (await store.sections(conn, pep["id"]))[section.key]
        if gaps := missing(section.fields, row["answers"]):
            raise Problem(422, "Some answers are missing", f"{len(gaps)} mandatory answers are missing.",
                          code="incomplete", errors=[FieldError(field=f"answers.{e.field}", message=e.message)
                                                     for e in gaps])
        await conn.execute("UPDATE pep_sections SET status = 'complete', to_check = '{}', completed_by = $3, "
                           "completed_at = now() WHERE pep_id = $1 AND section_key = $2", pep["id"], section.key,
                           uuid.UUID(claims.sub))
        row = (await store.sections(conn, pep["id"]))[section.key]
    return web.json_response(_section_out(pep, access, section, row, delegated))


@routes.get("/peps/{pep_id}/missing")
async def what_is_missing(request: web.Request) -> web.Response:
    """Everything that stops sign-off, section by section."""
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        saved = await store.sections(conn, pep["id"])
    return web.json_response(_missing(template, saved, access))


def _missing(template: Template, saved: dict[str, asyncpg.Record], access: Access | None) -> list[dict[str, Any]]:
    found = []
    for section in template.sections:
        if section.owner == "virtual_school" or (access is not None and not access.may_see_section(section.key)):
            continue  # the Virtual School's own sign-off comes after submission
        for gap in missing(section.fields, saved[section.key]["answers"]):
            found.append({"section": section.key, "section_title": section.title, "field": gap.field,
                          "message": gap.message})
    return found


@routes.get("/peps/{pep_id}/sections/{key}/history")
async def section_history(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        rows = await store.history(conn, pep["id"], section.key)
    return web.json_response([{"version": r["version"], "changed": r["changed"], "saved_at": r["saved_at"].isoformat(),
                               "saved_by_name": r["saved_by_name"]} for r in rows])


@routes.get("/peps/{pep_id}/sections/{key}/compare")
async def compare_versions(request: web.Request) -> web.Response:
    """Any two saved versions of a section (`from`, `to`), or this PEP's section beside the same section of
    another PEP of the same child (`with_pep`: term against term), question by question."""
    if "with_pep" in request.query:
        return await _compare_terms(request)
    try:
        before, after = int(request.query["from"]), int(request.query["to"])
    except (KeyError, ValueError):
        raise Problem(422, "Say which versions to compare", code="validation", errors=[
            FieldError(field="from", message="Enter a version number"),
            FieldError(field="to", message="Enter a version number")]) from None
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        old = await store.answers_at(conn, pep["id"], section.key, before)
        new = await store.answers_at(conn, pep["id"], section.key, after)
    if old is None or new is None:
        raise not_found("version")
    return web.json_response([{"field": f.key, "label": f.label, "before": old.get(f.key), "after": new.get(f.key),
                               "changed": old.get(f.key) != new.get(f.key)} for f in section.fields])


async def _compare_terms(request: web.Request) -> web.Response:
    try:
        other_id = uuid.UUID(request.query["with_pep"])
    except ValueError:
        raise not_found("PEP") from None
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        other = await store.pep(conn, other_id)
        if other is None or other["child_id"] != pep["child_id"]:
            raise not_found("PEP")  # only ever this child's own PEPs
        mine = (await store.sections(conn, pep["id"]))[section.key]["answers"]
        theirs_row = (await store.sections(conn, other["id"])).get(section.key)
    theirs = theirs_row["answers"] if theirs_row else {}
    earlier, later = (theirs, mine) if other["created_at"] <= pep["created_at"] else (mine, theirs)
    return web.json_response([{"field": f.key, "label": f.label, "before": earlier.get(f.key),
                               "after": later.get(f.key), "changed": earlier.get(f.key) != later.get(f.key)}
                              for f in section.fields])


async def _create_pep(conn: asyncpg.Connection, child: asyncpg.Record, kind: str, term: str, academic_year: str,
                      meeting_date: date | None, claims: Claims, correlation_id: str | None = None) -> asyncpg.Record:
    """A new PEP from the right template for the child's phase, carried forward from their last one."""
    template_id, template = await store.template_for(conn, child["la_id"], store.phase_for(child["year_group"]))
    previous_id, previous = await store.previous_answers(conn, child["id"])
    answers, to_check = start_answers(template, previous, core_values(dict(child)))
    pep_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO peps (id, child_id, la_id, setting_id, template_id, kind, term, academic_year, meeting_date, "
        "previous_pep_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        pep_id, child["id"], child["la_id"], child["setting_id"], template_id, kind, term, academic_year,
        meeting_date, previous_id, uuid.UUID(claims.sub))
    for section in template.sections:
        start = answers.get(section.key, {})
        await conn.execute(
            "INSERT INTO pep_sections (pep_id, section_key, answers, to_check, status) VALUES ($1, $2, $3, $4, $5)",
            pep_id, section.key, start, to_check.get(section.key, []), "in_progress" if start else "not_started")
        await conn.execute("INSERT INTO section_history (pep_id, section_key, version, changed, answers, saved_by) "
                           "VALUES ($1, $2, 0, $3, $4, $5)", pep_id, section.key, sorted(start), start,
                           uuid.UUID(claims.sub))
    await _record_transition(conn, pep_id, child["la_id"], "created", "created", "start", None, claims,
                             correlation_id)
    pep = await store.pep(conn, pep_id)
    assert pep is not None
    return pep


async def _start_next_termly(conn: asyncpg.Connection, finalised: asyncpg.Record, claims: Claims,
                             correlation_id: str) -> None:
    """Signing a PEP off starts the next termly review, carried forward, for a child still in care: nobody has
    to remember to. Its meeting date is for whoever arranges the meeting; the LA's timescales say by when."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", str(finalised["child_id"]))
    child = await children_store.child(conn, finalised["child_id"])
    if child is None or not child["in_care"] or await conn.fetchval(
            "SELECT 1 FROM peps WHERE child_id = $1 AND status NOT IN ('finalised', 'cancelled')", child["id"]):
        return
    term, academic_year = next_term(finalised["term"], finalised["academic_year"])
    await _create_pep(conn, child, "termly_review", term, academic_year, None, claims, correlation_id)


@routes.post("/peps/{pep_id}/actions/{action}")
async def take_action(request: web.Request) -> web.Response:
    """submit, return (with a reason), approve, finalise, cancel (with a reason): one table says who may."""
    claims = request[CLAIMS]
    action = request.match_info["action"]
    body = await parse_body(request, PepAction) if request.can_read_body else PepAction()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        move = lifecycle.transition(action, pep["status"], access.via) if access.can_edit else None
        if move is None:
            raise Problem(409, "You cannot do that now", f"This PEP is {pep['status'].replace('_', ' ')}.",
                          code="not_allowed", extra={"allowed": lifecycle.allowed_actions(pep["status"], access.via)})
        if move.needs_reason and not (body.reason or "").strip():
            raise Problem(422, "Give a reason", code="validation",
                          errors=[FieldError(field="reason", message="Enter the reason")])
        if action == "submit" and (gaps := _missing(template, await store.sections(conn, pep["id"]), None)):
            raise Problem(422, "The PEP is not ready to submit", f"{len(gaps)} mandatory answers are missing.",
                          code="incomplete", extra={"missing": gaps})
        await conn.execute("UPDATE peps SET status = $2, version = version + 1, updated_at = now() WHERE id = $1",
                           pep["id"], move.to_state)
        if move.to_state == "submitted":
            await _request_funding(conn, pep, request[REQUEST_ID])
            await _outcomes_submitted(conn, pep, request[REQUEST_ID])
        if move.to_state == "cancelled" and pep["meeting_date"] is not None:
            await _meeting_cancelled(conn, pep, request[REQUEST_ID])
        await _record_transition(conn, pep["id"], pep["la_id"], pep["status"], move.to_state, action, body.reason,
                                 claims, request[REQUEST_ID])
        if move.to_state == "finalised":
            await _start_next_termly(conn, pep, claims, request[REQUEST_ID])
        pep = await store.pep(conn, pep["id"])
        assert pep is not None
    return web.json_response(_summary(pep))


async def _request_funding(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    saved = await store.sections(conn, pep["id"])
    for row_number, target in funding_requests({k: r["answers"] for k, r in saved.items()}):
        await add_event(conn, "pep", FundingRequested(
            pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
            target=row_number, description=str(target.get("what") or ""), funding_type=target.get("funding_type"),
            amount=target.get("amount"), area_of_focus=target.get("area_of_focus"),
            intervention_type=target.get("intervention_type"), academic_year=pep["academic_year"],
            term=pep["term"]), tenant=str(pep["la_id"]), correlation_id=correlation_id)


def subject_attainment(answers: dict[str, dict[str, Any]]) -> list[SubjectAttainment]:
    """Each subject row of the attainment section (its `subjects` group), where the template has one."""
    for section_answers in answers.values():
        rows = section_answers.get("subjects")
        if isinstance(rows, list):
            return [SubjectAttainment(subject=_text(r.get("subject")),
                                      compared_with_are=_text(r.get("compared_with_are")),
                                      progress=_text(r.get("progress"))) for r in rows if isinstance(r, dict)]
    return []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def _outcomes_submitted(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    """Tell qa's dashboard the child's attendance this academic year and the attainment rows the PEP records."""
    start, end = core_data.academic_year_of(date.today())
    attended, possible = await children_store.attendance_between(conn, pep["child_id"], start, end)
    saved = await store.sections(conn, pep["id"])
    await add_event(conn, "pep", PepOutcomesSubmitted(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], attended_sessions=attended,
        possible_sessions=possible, attainment=subject_attainment({k: r["answers"] for k, r in saved.items()})),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)


MEETING, MEETING_KEYS = "meeting", {"meeting_date", "meeting_time", "location", "attendees"}


async def _meeting_changed(conn: asyncpg.Connection, pep: asyncpg.Record, answers: dict[str, Any],
                           correlation_id: str) -> None:
    """Keep the PEP's meeting date in step with its meeting section, and tell others (calendar invitations)."""
    when = answers.get("meeting_date")
    if not when:
        return
    meeting_date = date.fromisoformat(when)
    sequence = await conn.fetchval("UPDATE peps SET meeting_date = $2, meeting_sequence = meeting_sequence + 1 "
                                   "WHERE id = $1 RETURNING meeting_sequence - 1", pep["id"], meeting_date)
    await add_event(conn, "pep", PepMeetingChanged(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
        change="moved" if pep["meeting_date"] is not None else "scheduled", meeting_date=meeting_date,
        meeting_time=answers.get("meeting_time"), location=answers.get("location"), sequence=int(sequence),
        # Everyone listed as invited; notify sends the calendar invitation to those with an email address.
        invitees=[MeetingInvitee(name=str(a["name"]), email=a.get("email") or None, role=a.get("role"))
                  for a in answers.get("attendees") or [] if isinstance(a, dict) and a.get("name")]),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)


async def _meeting_cancelled(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    """A cancelled PEP's meeting is cancelled too (invitations are withdrawn: iCalendar METHOD:CANCEL)."""
    meeting = (await store.sections(conn, pep["id"])).get(MEETING)
    answers = meeting["answers"] if meeting is not None else {}
    sequence = await conn.fetchval("UPDATE peps SET meeting_sequence = meeting_sequence + 1 WHERE id = $1 "
                                   "RETURNING meeting_sequence - 1", pep["id"])
    await add_event(conn, "pep", PepMeetingChanged(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
        change="cancelled", meeting_date=pep["meeting_date"], meeting_time=answers.get("meeting_time"),
        location=answers.get("location"), sequence=int(sequence),
        invitees=[MeetingInvitee(name=str(a["name"]), email=a.get("email") or None, role=a.get("role"))
                  for a in answers.get("attendees") or [] if isinstance(a, dict) and a.get("name")]),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)


async def _record_transition(conn: asyncpg.Connection, pep_id: uuid.UUID, la_id: uuid.UUID, from_status: str,
                             to_status: str, action: str, reason: str | None, claims: Claims,
                             correlation_id: str | None = None) -> None:
    await conn.execute("INSERT INTO pep_transitions (pep_id, from_status, to_status, action, reason, by_user) "
                       "VALUES ($1, $2, $3, $4, $5, $6)", pep_id, from_status, to_status, action, reason,
                       uuid.UUID(claims.sub))
    pep = await store.pep(conn, pep_id)
    assert pep is not None
    await add_event(conn, "pep", PepStatusChanged(
        pep_id=pep_id, child_id=pep["child_id"], la_id=la_id, setting_id=pep["setting_id"], kind=pep["kind"],
        term=pep["term"], academic_year=pep["academic_year"], from_status=from_status, status=to_status,
        action=action, reason=reason, by_user=uuid.UUID(claims.sub), version=pep["version"],
        meeting_date=pep["meeting_date"]), tenant=str(la_id), correlation_id=correlation_id)
