"""PEPs moving through their lifecycle in pep's schema: starting one, changing its status, completing a section,
its meeting; each change that others must hear of written to the outbox in the caller's transaction
(pep.pep.status_changed, pep.meeting.changed, pep.funding.requested, pep.outcomes.submitted)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.pep import action_plan, children_store
from services.pep import pep_store as store
from services.pep.domain import carry_forward, core_data
from services.pep.domain.carry_forward import (
    add_targets_between_peps,
    core_values,
    funding_requests,
    next_meeting,
    start_answers,
)
from services.pep.domain.lifecycle import next_term
from services.pep.domain.peps import MEETING, meeting_invitees, subject_attainment
from shared.api.qa import VIRTUAL_SCHOOL_FUNDING
from shared.api.templates import Template
from shared.bus import add_event
from shared.contracts import FundingRequested, PepMeetingChanged, PepOutcomesSubmitted, PepStatusChanged
from shared.internal_auth import Claims


async def of_child(conn: asyncpg.Connection, child_id: uuid.UUID) -> list[asyncpg.Record]:
    """A child's PEPs, newest first."""
    return await conn.fetch("SELECT * FROM peps WHERE child_id = $1 ORDER BY created_at DESC", child_id)


async def hold_child(conn: asyncpg.Connection, child_id: uuid.UUID) -> None:
    """Serialise PEP starts for this child until the transaction ends, so two clicks cannot make two PEPs."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", str(child_id))


async def has_open_pep(conn: asyncpg.Connection, child_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM peps WHERE child_id = $1 AND status NOT IN ('finalised', "
                                    "'cancelled')", child_id))


async def create_pep(conn: asyncpg.Connection, child: asyncpg.Record, kind: str, term: str, academic_year: str,
                     meeting_date: date | None, claims: Claims, correlation_id: str | None = None,
                     meeting: dict[str, Any] | None = None) -> asyncpg.Record:
    """A new PEP from the right template for the child's phase, carried forward from their last one; `meeting`:
    its meeting section's answers already agreed (the date, time and venue the last PEP set for this one)."""
    template_id, template = await store.template_for(conn, child["la_id"], store.phase_for(child["year_group"]))
    previous_id, previous = await store.previous_answers(conn, child["id"])
    answers, to_check = start_answers(template, previous, core_values(dict(child)), meeting)
    between = await action_plan.to_carry(conn, child["id"])  # targets raised since the last PEP
    taken = between[:add_targets_between_peps(template, answers, to_check, [action_plan.review_words(t)
                                                                           for t in between])]
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
    await action_plan.carried(conn, [t["id"] for t in taken], pep_id)
    await record_transition(conn, pep_id, child["la_id"], "created", "created", "start", None, claims,
                            correlation_id)
    pep = await store.pep(conn, pep_id)
    assert pep is not None
    return pep


async def start_next_termly(conn: asyncpg.Connection, finalised: asyncpg.Record, claims: Claims,
                            correlation_id: str) -> None:
    """Signing a PEP off starts the next termly review, carried forward, for a child still in care: nobody has
    to remember to. The next meeting its meeting section agreed (date, time, venue) is the new PEP's meeting,
    announced as scheduled, so the school's delegation, task dates, invitations and reminders follow from it.
    Without an agreed date still to come, the new PEP has none: whoever arranges the meeting sets it, and the
    LA's timescales say by when."""
    await hold_child(conn, finalised["child_id"])
    child = await children_store.child(conn, finalised["child_id"])
    if child is None or not child["in_care"] or await has_open_pep(conn, child["id"]):
        return
    term, academic_year = next_term(finalised["term"], finalised["academic_year"])
    section = (await store.sections(conn, finalised["id"])).get(MEETING)
    agreed = next_meeting(section["answers"] if section is not None else {}, finalised["meeting_date"],
                          date.today())
    when = date.fromisoformat(agreed["meeting_date"]) if agreed else None
    pep = await create_pep(conn, child, "termly_review", term, academic_year, when, claims, correlation_id,
                           meeting=agreed)
    if agreed and when is not None:
        await _announce_meeting(conn, pep, when, agreed, "scheduled", correlation_id)


async def section_saved(conn: asyncpg.Connection, pep: asyncpg.Record) -> None:
    """A save: the PEP is in progress once anything is written, and changed now."""
    if pep["status"] == "created":
        await conn.execute("UPDATE peps SET status = 'in_progress', updated_at = now() WHERE id = $1", pep["id"])
    else:
        await conn.execute("UPDATE peps SET updated_at = now() WHERE id = $1", pep["id"])


async def complete_section(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str, by: uuid.UUID) -> None:
    await conn.execute("UPDATE pep_sections SET status = 'complete', to_check = '{}', completed_by = $3, "
                       "completed_at = now() WHERE pep_id = $1 AND section_key = $2", pep_id, key, by)


async def set_status(conn: asyncpg.Connection, pep_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE peps SET status = $2, version = version + 1, updated_at = now() WHERE id = $1",
                       pep_id, status)


async def record_transition(conn: asyncpg.Connection, pep_id: uuid.UUID, la_id: uuid.UUID, from_status: str,
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


def _target_labels(template: Template) -> dict[str, dict[str, str]]:
    """The current targets' choices in the template's words: {"funding_type": {"vs_pp_plus": "Virtual School PP+
    …"}, "area_of_focus": …, "intervention_type": …}."""
    for section in template.sections:
        for f in section.fields:
            if f.key == carry_forward.CURRENT_TARGETS:
                return {c.key: {o.value: o.label for o in c.options or []} for c in f.fields or []}
    return {}


async def part_submitted(conn: asyncpg.Connection, pep: asyncpg.Record, action: str, claims: Claims,
                         correlation_id: str, *, announce: bool) -> None:
    """A part of the PEP is in while the PEP waits for another: kept among its transitions (its status unchanged).
    `announce`: told to others too (pep.pep.status_changed with this action; delegation ends the school's task)."""
    if not announce:
        await conn.execute("INSERT INTO pep_transitions (pep_id, from_status, to_status, action, by_user) "
                           "VALUES ($1, $2, $2, $3, $4)", pep["id"], pep["status"], action, uuid.UUID(claims.sub))
        return
    await conn.execute("UPDATE peps SET version = version + 1, updated_at = now() WHERE id = $1", pep["id"])
    await record_transition(conn, pep["id"], pep["la_id"], pep["status"], pep["status"], action, None, claims,
                            correlation_id)


async def request_funding(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    """Each request the submitted PEP's targets make for funding the Virtual School decides (its PP+), for qa's
    queue and the approver's tray; a target paid from another budget (school funding, high needs) is recorded in
    the PEP only. Labels travel with the keys, so the queue, the tray and the emails read the template's words."""
    saved = await store.sections(conn, pep["id"])
    labels = _target_labels(await store.template_by_id(conn, pep["template_id"]))
    for row_number, target in funding_requests({k: r["answers"] for k, r in saved.items()}):
        if target.get("funding_type") not in VIRTUAL_SCHOOL_FUNDING:
            continue

        def label(key: str, target: dict[str, Any] = target) -> str | None:
            value = target.get(key)
            return labels.get(key, {}).get(value, value) if value is not None else None

        await add_event(conn, "pep", FundingRequested(
            pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
            target=row_number, description=str(target.get("what") or ""), funding_type=target.get("funding_type"),
            amount=target.get("amount"), area_of_focus=target.get("area_of_focus"),
            intervention_type=target.get("intervention_type"), academic_year=pep["academic_year"],
            term=pep["term"], funding_type_label=label("funding_type"), area_of_focus_label=label("area_of_focus"),
            intervention_type_label=label("intervention_type"), meeting_date=pep["meeting_date"]),
            tenant=str(pep["la_id"]), correlation_id=correlation_id)


async def outcomes_submitted(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    """Tell qa's dashboard the child's attendance this academic year and the attainment rows the PEP records."""
    start, end = core_data.academic_year_of(date.today())
    attended, possible = await children_store.attendance_between(conn, pep["child_id"], start, end)
    saved = await store.sections(conn, pep["id"])
    await add_event(conn, "pep", PepOutcomesSubmitted(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], attended_sessions=attended,
        possible_sessions=possible, attainment=subject_attainment({k: r["answers"] for k, r in saved.items()})),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)


async def meeting_changed(conn: asyncpg.Connection, pep: asyncpg.Record, answers: dict[str, Any],
                          correlation_id: str) -> None:
    """Keep the PEP's meeting date in step with its meeting section, and tell others (calendar invitations)."""
    when = answers.get("meeting_date")
    if not when:
        return
    await _announce_meeting(conn, pep, date.fromisoformat(when), answers,
                            "moved" if pep["meeting_date"] is not None else "scheduled", correlation_id)


async def _announce_meeting(conn: asyncpg.Connection, pep: asyncpg.Record, meeting_date: date,
                            answers: dict[str, Any], change: str, correlation_id: str) -> None:
    sequence = await conn.fetchval("UPDATE peps SET meeting_date = $2, meeting_sequence = meeting_sequence + 1 "
                                   "WHERE id = $1 RETURNING meeting_sequence - 1", pep["id"], meeting_date)
    await add_event(conn, "pep", PepMeetingChanged(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
        change=change, meeting_date=meeting_date, meeting_time=answers.get("meeting_time"),
        location=answers.get("location"), sequence=int(sequence), invitees=meeting_invitees(answers)),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)


async def meeting_cancelled(conn: asyncpg.Connection, pep: asyncpg.Record, correlation_id: str) -> None:
    """A cancelled PEP's meeting is cancelled too (invitations are withdrawn: iCalendar METHOD:CANCEL)."""
    meeting = (await store.sections(conn, pep["id"])).get(MEETING)
    answers = meeting["answers"] if meeting is not None else {}
    sequence = await conn.fetchval("UPDATE peps SET meeting_sequence = meeting_sequence + 1 WHERE id = $1 "
                                   "RETURNING meeting_sequence - 1", pep["id"])
    await add_event(conn, "pep", PepMeetingChanged(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], setting_id=pep["setting_id"],
        change="cancelled", meeting_date=pep["meeting_date"], meeting_time=answers.get("meeting_time"),
        location=answers.get("location"), sequence=int(sequence), invitees=meeting_invitees(answers)),
        tenant=str(pep["la_id"]), correlation_id=correlation_id)
