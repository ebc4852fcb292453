"""Tasks over HTTP: who must do what on which PEP by when, and the trays people find them in.

The flow (Kent's guide is the model): the Virtual School, or the child's social worker, delegates chosen
sections of a PEP to the Designated Teacher of the child's current setting; while the task is open only the
delegate writes those sections (pep follows delegation.task.changed). The DT's sign-off of the PEP is the
"submit contribution"; QA returning the PEP gives the setting an amend task with the feedback; approval gives
the social worker a finalise task; finalising completes it. pep's lifecycle events drive those steps
(task_consumers.py), so a task can never disagree with the PEP it is about.

Who may see a task (domain/tasks.py): the person it is for; for a setting's task the setting's DT, and its
staff whose DT lets them see the child; for a role's task (the approvers' approve_funding, funding_tasks.py)
whoever holds that role at the child's LA; whoever delegated it; the child's LA's Virtual School. Anyone else gets
404. Whether the caller may delegate a PEP at all is pep's to say: delegation asks pep with the caller's own
claims. The SQL is in task_store.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import asyncpg
from aiohttp import web

from services.delegation import task_store as store
from services.delegation import timescale_store
from services.delegation.domain.tasks import (
    CHOSEN,
    DELEGATORS,
    MAX_TRAY_DAYS,
    PEP_OPEN,
    TRAY_DAYS,
    VIRTUAL_SCHOOL,
    fill_trays,
    is_overdue,
    may_retract,
    reach,
    sort_tray,
    via,
)
from services.delegation.domain.timescales import Deadline, TermDatesMissing, deadlines
from services.delegation.funding_tasks import funding_of, task_funding
from shared.api import tasks as api
from shared.api.tasks import (
    OPEN_STATUSES,
    DelegationIn,
    RetractIn,
    Task,
    TaskEvent,
    TaskFunding,
    TaskQuery,
    TraySettings,
)
from shared.authz import not_found, require_user, roles_at, sees_qa
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, ServiceClient, client_session, parse_body, path_uuid, serves

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PEP = web.AppKey("pep", ServiceClient)


async def pep_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pep_url: str = settings.pep_url  # type: ignore[attr-defined]  # delegation's Settings has it
    session = client_session()
    app[PEP] = ServiceClient("pep", pep_url, settings.internal_signer(), session)
    yield
    await session.close()


# ---- the task as the API shows it -------------------------------------------------------------------------


def _name(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given else None


def _task(row: asyncpg.Record, claims: Claims, today: date, access: str | None = None,
          funding: dict[uuid.UUID, list[TaskFunding]] | None = None) -> Task:
    """The task as the caller may see it. An amend task's feedback is QA's, for those who see QA (shared.authz):
    `access`, pep's word for how the caller reaches the child when it was asked, else what the task shows.
    `funding`: the PP+ requests of approve_funding tasks' PEPs (funding_tasks.funding_of)."""
    feedback = row["feedback"] if sees_qa(access or via(claims, row)) else None
    return Task(
        id=row["id"], kind=row["kind"], status=row["status"], pep_id=row["pep_id"], child_id=row["child_id"],
        child_name=_name(row["given_name"], row["family_name"]), la_id=row["la_id"], setting_id=row["setting_id"],
        sections=list(row["sections"]), assignee_user_id=row["assignee_user_id"],
        originator_id=row["originator_id"], originator_name=_name(row["o_given"], row["o_family"]),
        due_date=row["due_date"], due_rule=row["due_rule"], overdue=is_overdue(row, today), note=row["note"],
        feedback=feedback, created_at=row["created_at"], updated_at=row["updated_at"],
        version=row["version"], can_retract=may_retract(claims, row), assignee_role=row["assignee_role"],
        funding=(funding or {}).get(row["pep_id"] or row["action_target_id"], [])
        if row["kind"] == "approve_funding" else [], action_target_id=row["action_target_id"])


async def _funding(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> dict[uuid.UUID, list[TaskFunding]]:
    return await funding_of(conn, [r["pep_id"] or r["action_target_id"] for r in rows
                                   if r["kind"] == "approve_funding"])


def _history(rows: list[asyncpg.Record]) -> list[TaskEvent]:
    return [TaskEvent(action=r["action"], from_status=r["from_status"], to_status=r["to_status"], reason=r["reason"],
                      by_user=r["by_user"], by_name=_name(r["given_name"], r["family_name"]), at=r["at"])
            for r in rows]


# ---- delegating, retracting ----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "The request has invalid fields", f"Check these fields: {field}", code="validation",
                   errors=[FieldError(field=field, message=message)])


@serves(routes, api.DELEGATE)
async def delegate(request: web.Request) -> Task:
    """Delegate sections of a PEP to the DT of the child's current setting, due by a date."""
    claims = request[CLAIMS]
    me = uuid.UUID(require_user(claims))
    pep_id = path_uuid(request, "pep_id")
    body = await parse_body(request, DelegationIn)
    client, rid = request.app[PEP], request[REQUEST_ID]
    pep = await client.call("GET", f"/peps/{pep_id}", claims, request_id=rid)  # pep's 404 is ours
    child = await client.call("GET", f"/children/{pep['child_id']}", claims, request_id=rid)
    if child["access"] not in DELEGATORS:
        raise Problem(403, "You cannot delegate this PEP", "The Virtual School or the child's social worker "
                      "delegates a PEP to the school.", code="forbidden")
    if pep["status"] not in PEP_OPEN:
        raise Problem(409, "This PEP cannot be delegated now", f"It is {pep['status'].replace('_', ' ')}; only a "
                      "PEP being written can be delegated.", code="pep_not_open")
    keys = [s["key"] for s in pep["sections"]]
    if unknown := [k for k in body.sections if k not in keys]:
        raise _invalid("sections", f"These are not sections of this PEP: {', '.join(unknown)}")
    if child["setting_id"] is None:
        raise _invalid("sections", "The child has no current school or setting to delegate to: add it to their "
                                   "record first")
    if body.due_date is not None and body.due_date < date.today():
        raise _invalid("due_date", "The due date must be today or in the future")
    sections = [k for k in keys if k in body.sections]  # in the PEP's order, each once
    la_id = uuid.UUID(child["la_id"])
    meeting = date.fromisoformat(pep["meeting_date"]) if pep.get("meeting_date") else None
    async with request.app[POOL].acquire() as conn, conn.transaction():
        due, rule = (body.due_date, CHOSEN) if body.due_date else \
            await store.due_by_rule(conn, la_id, meeting, "dt_return")
        if due is None:
            raise _invalid("due_date", "Enter the due date: the PEP has no meeting date for the LA's timescales to "
                                       "work from")
        row = await store.create_task(conn, kind="complete_sections", pep_id=pep_id,
                                      child_id=uuid.UUID(pep["child_id"]), la_id=la_id,
                                      setting_id=uuid.UUID(child["setting_id"]), sections=sections,
                                      assignee_user_id=None, originator_id=me, due_date=due, due_rule=rule,
                                      note=body.note, feedback=None, by=me, correlation_id=rid)
        if row is None:
            raise Problem(409, "This PEP is already delegated", "Retract the open task first to delegate other "
                          "sections or change the date.", code="already_delegated")
        task = await store.task(conn, row["id"])
    return _task(task, claims, date.today())


async def _task_or_404(conn: asyncpg.Connection, claims: Claims, raw: str, *, lock: bool = False) -> asyncpg.Record:
    try:
        task_id = uuid.UUID(raw)
    except ValueError:
        raise not_found("task") from None
    row = await store.task(conn, task_id, lock=lock)
    if row is None or reach(claims, row) is None:
        raise not_found("task")
    return row


@serves(routes, api.RETRACT_TASK)
async def retract(request: web.Request) -> Task:
    """Take a delegated task back: the sections are the originator's again, and the setting sees why."""
    claims = request[CLAIMS]
    me = uuid.UUID(require_user(claims))
    body = await parse_body(request, RetractIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        task = await _task_or_404(conn, claims, request.match_info["task_id"], lock=True)
        if not may_retract(claims, task):
            if task["status"] not in OPEN_STATUSES:
                raise Problem(409, "This task cannot be retracted now", f"It is {task['status']}.",
                              code="task_not_open")
            raise Problem(403, "You cannot retract this task", "Whoever delegated it, or the Virtual School, can.",
                          code="forbidden")
        await store.move_task(conn, task, "retract", "retracted", body.reason, me, request[REQUEST_ID])
        row = await store.task(conn, task["id"])
    return _task(row, claims, date.today())


# ---- reading: one task, a PEP's tasks, the trays -------------------------------------------------------------


@serves(routes, api.GET_TASK)
async def get_task(request: web.Request) -> Task:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        task = await _task_or_404(conn, claims, request.match_info["task_id"])
        out = _task(task, claims, date.today(), funding=await _funding(conn, [task]))
        out.history = _history(await store.history(conn, task["id"]))
    return out


@serves(routes, api.LIST_PEP_TASKS)
async def pep_tasks(request: web.Request) -> list[Task]:
    """Every task of a PEP, newest first, for anyone pep lets see the PEP; QA's feedback only for those pep says
    reach the child in a way that sees QA (never carers or setting staff)."""
    claims = request[CLAIMS]
    pep_id = path_uuid(request, "pep_id")
    client, rid = request.app[PEP], request[REQUEST_ID]
    pep = await client.call("GET", f"/peps/{pep_id}", claims, request_id=rid)  # pep's 404 is ours
    child = await client.call("GET", f"/children/{pep['child_id']}", claims, request_id=rid)
    async with request.app[POOL].acquire() as conn:
        rows = await store.of_pep(conn, pep_id)
        funding = await _funding(conn, rows)
    return [_task(r, claims, date.today(), access=child["access"], funding=funding) for r in rows]


@serves(routes, api.LIST_TASKS)
async def trays(request: web.Request) -> api.TaskList:
    """The caller's tray (current, retracted, submitted: theirs to do; sent: what they delegated) and the counts
    of all four. Retracted and submitted tasks stay for the LA's number of days (30 unless it set another)."""
    claims = request[CLAIMS]
    me = require_user(claims)
    query = TaskQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})
    settings = [uuid.UUID(m.organisation_id) for m in claims.memberships
                if m.role in ("designated_teacher", "setting_staff")]
    # The LAs where the caller may hold a role a task is for (approve_funding: the approvers).
    las = list({uuid.UUID(m.organisation_id) for m in claims.memberships if m.role in VIRTUAL_SCHOOL})
    now = datetime.now(UTC)
    async with request.app[POOL].acquire() as conn:  # one round trip (issue 19): the tasks, their LAs' days, PP+
        rows = await store.tray_candidates(conn, uuid.UUID(me), settings, now - timedelta(days=MAX_TRAY_DAYS),
                                           query.pep_id, las)
    days = {r["la_id"]: r["la_tray_days"] for r in rows if r["la_tray_days"] is not None}
    today = date.today()
    chosen, counts = fill_trays(claims, rows, query.tray, now, days)
    funding = {r["pep_id"] or r["action_target_id"]: [task_funding(f) for f in r["funding"]]
               for r in chosen if r["funding"] is not None}
    return api.TaskList(items=[_task(r, claims, today, funding=funding) for r in sort_tray(chosen, query.sort, today)],
                        counts=counts)


@serves(routes, api.PEP_DEADLINES)
async def pep_deadlines(request: web.Request) -> api.PepDeadlines:
    """Every deadline of a PEP by the LA's timescales, each with the rule that set it: from its meeting date, or
    without one, when the next meeting is due from the child's last finalised one."""
    claims = request[CLAIMS]
    pep_id = path_uuid(request, "pep_id")
    pep = await request.app[PEP].call("GET", f"/peps/{pep_id}", claims, request_id=request[REQUEST_ID])
    child_id = uuid.UUID(pep["child_id"])
    async with request.app[POOL].acquire() as conn:
        la_id = await store.la_of_child(conn, child_id)
        if la_id is None:  # not heard of yet: ask pep
            child = await request.app[PEP].call("GET", f"/children/{pep['child_id']}", claims,
                                                request_id=request[REQUEST_ID])
            la_id = uuid.UUID(child["la_id"])
        config, _ = await timescale_store.current(conn, la_id)
        meeting = date.fromisoformat(pep["meeting_date"]) if pep.get("meeting_date") else None
        based_on: Literal["meeting", "last_meeting"] | None = None
        found: dict[str, Deadline] = {}
        try:
            if meeting is not None:
                based_on, found = "meeting", deadlines(config, meeting=meeting)
            else:
                last = await store.last_finalised_meeting(conn, child_id, pep_id)
                if last is not None:
                    based_on, found = "last_meeting", {"next_pep": deadlines(config, meeting=last)["next_pep"]}
        except TermDatesMissing:
            based_on, found = None, {}
    return api.PepDeadlines(meeting_date=meeting, based_on=based_on, deadlines=[
        api.Deadline(key=d.key, label=d.label, due=d.due, rule=d.rule, rule_version=d.rule_version,
                     explanation=d.explanation) for d in found.values()])


@serves(routes, api.GET_TRAY_SETTINGS)
async def get_tray_settings(request: web.Request) -> TraySettings:
    la_id = _virtual_school_la(request, ("vs_admin", "vs_caseworker", "vs_approver"))
    async with request.app[POOL].acquire() as conn:
        days = await store.tray_days_of(conn, la_id)
    return TraySettings(tray_days=days or TRAY_DAYS)


@serves(routes, api.SET_TRAY_SETTINGS)
async def put_tray_settings(request: web.Request) -> TraySettings:
    """How long retracted and submitted tasks stay in the LA's people's trays (its VS admin decides)."""
    la_id = _virtual_school_la(request, ("vs_admin",))
    body = await parse_body(request, TraySettings)
    async with request.app[POOL].acquire() as conn:
        await store.set_tray_days(conn, la_id, body.tray_days, uuid.UUID(request[CLAIMS].sub))
    return TraySettings(tray_days=body.tray_days)


def _virtual_school_la(request: web.Request, roles: tuple[str, ...]) -> uuid.UUID:
    """The LA in the path, if the caller holds one of these roles there; 404 otherwise (403 for other VS roles)."""
    claims = request[CLAIMS]
    la_id = path_uuid(request, "la_id")
    held = roles_at(claims, str(la_id))
    if not held & VIRTUAL_SCHOOL:
        raise not_found("organisation")
    if not held & set(roles):
        raise Problem(403, "Only the Virtual School's administrators can change this", code="forbidden")
    return la_id
