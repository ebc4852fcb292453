"""Tasks: who must do what on which PEP by when, and the trays people find them in.

The flow (Kent's guide is the model): the Virtual School, or the child's social worker, delegates chosen
sections of a PEP to the Designated Teacher of the child's current setting; while the task is open only the
delegate writes those sections (pep follows delegation.task.changed). The DT's sign-off of the PEP is the
"submit contribution"; QA returning the PEP gives the setting an amend task with the feedback; approval gives
the social worker a finalise task; finalising completes it. pep's lifecycle events drive those steps, so a
task can never disagree with the PEP it is about.

Who may see a task: the person it is for; for a setting's task the setting's DT, and its staff whose DT lets
them see the child; whoever delegated it; the child's LA's Virtual School. Anyone else gets 404. Whether the
caller may delegate a PEP at all is pep's to say: delegation asks pep with the caller's own claims.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from services.delegation import timescale_store
from services.delegation.domain.timescales import TermDatesMissing, deadlines
from shared.api.tasks import OPEN_STATUSES, DelegationIn, RetractIn, TaskQuery, TraySettings
from shared.authz import not_found, require_user, roles_at
from shared.bus import MessageContext, Subscription, add_event
from shared.contracts import ChildChanged, PepMeetingChanged, PepStatusChanged, TaskChanged, event_type_of, parse_data
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, ServiceClient, client_session, parse_body, path_uuid

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
PEP = web.AppKey("pep", ServiceClient)
VIRTUAL_SCHOOL = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})
DELEGATORS = ("virtual_school", "social_worker")  # how the caller reaches the child (pep's word)
PEP_OPEN = ("created", "in_progress", "returned")
TRAY_DAYS = 30  # how long retracted and submitted tasks stay in those trays, unless the LA says otherwise
MAX_TRAY_DAYS = 365
RULE_OF_KIND = {"complete_sections": "dt_return", "amend": "dt_return", "finalise": "finalise"}
CHOSEN = "Chosen when the PEP was delegated"  # a due date a person chose does not follow the meeting


async def pep_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pep_url: str = settings.pep_url  # type: ignore[attr-defined]  # delegation's Settings has it
    session = client_session()
    app[PEP] = ServiceClient("pep", pep_url, settings.internal_token_keys, session)
    yield
    await session.close()


# ---- who reaches a task ---------------------------------------------------------------------------------


def _staff_may_see(claims: Claims, setting_id: str, child_id: str) -> bool:
    for m in claims.memberships:
        if m.organisation_id != setting_id:
            continue
        if m.role == "designated_teacher":
            return True
        if m.role == "setting_staff" and (m.children is None or child_id in m.children):
            return True
    return False


def reach(claims: Claims, task: asyncpg.Record) -> str | None:
    """How the caller reaches this task: delegate (it is theirs to do), originator, virtual_school; or None."""
    me = claims.sub
    if task["assignee_user_id"] is not None and str(task["assignee_user_id"]) == me:
        return "delegate"
    if task["assignee_user_id"] is None and task["setting_id"] is not None \
            and _staff_may_see(claims, str(task["setting_id"]), str(task["child_id"])):
        return "delegate"
    if task["originator_id"] is not None and str(task["originator_id"]) == me:
        return "originator"
    if roles_at(claims, str(task["la_id"])) & VIRTUAL_SCHOOL:
        return "virtual_school"
    return None


def _may_retract(claims: Claims, task: asyncpg.Record) -> bool:
    return task["kind"] == "complete_sections" and task["status"] in OPEN_STATUSES \
        and reach(claims, task) in ("originator", "virtual_school")


# ---- the task as the API shows it -------------------------------------------------------------------------


TASK_SQL = ("SELECT t.*, c.given_name, c.family_name, o.given_name AS o_given, o.family_name AS o_family "
            "FROM tasks t LEFT JOIN children c ON c.id = t.child_id LEFT JOIN users o ON o.id = t.originator_id ")


def _name(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given else None


def _task(row: asyncpg.Record, claims: Claims, today: date) -> dict[str, Any]:
    return {
        "id": str(row["id"]), "kind": row["kind"], "status": row["status"], "pep_id": str(row["pep_id"]),
        "child_id": str(row["child_id"]), "child_name": _name(row["given_name"], row["family_name"]),
        "la_id": str(row["la_id"]), "setting_id": str(row["setting_id"]) if row["setting_id"] else None,
        "sections": list(row["sections"]),
        "assignee_user_id": str(row["assignee_user_id"]) if row["assignee_user_id"] else None,
        "originator_id": str(row["originator_id"]) if row["originator_id"] else None,
        "originator_name": _name(row["o_given"], row["o_family"]),
        "due_date": row["due_date"].isoformat() if row["due_date"] else None, "due_rule": row["due_rule"],
        "overdue": row["due_date"] is not None and row["due_date"] < today and row["status"] in OPEN_STATUSES,
        "note": row["note"], "feedback": row["feedback"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(), "version": row["version"],
        "can_retract": _may_retract(claims, row)}


async def _history(conn: asyncpg.Connection, task_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT e.*, u.given_name, u.family_name FROM task_events e "
                            "LEFT JOIN users u ON u.id = e.by_user WHERE e.task_id = $1 ORDER BY e.id", task_id)
    return [{"action": r["action"], "from_status": r["from_status"], "to_status": r["to_status"],
             "reason": r["reason"], "by_user": str(r["by_user"]) if r["by_user"] else None,
             "by_name": _name(r["given_name"], r["family_name"]), "at": r["at"].isoformat()} for r in rows]


# ---- changing tasks: one place, so every change is kept and announced ---------------------------------------


async def _announce(conn: asyncpg.Connection, task: asyncpg.Record, action: str, by: uuid.UUID | None,
                    correlation_id: str | None, reason: str | None = None) -> None:
    await add_event(conn, "delegation", TaskChanged(
        task_id=task["id"], pep_id=task["pep_id"], child_id=task["child_id"], la_id=task["la_id"],
        setting_id=task["setting_id"], kind=task["kind"], sections=list(task["sections"]), status=task["status"],
        action=action, assignee_user_id=task["assignee_user_id"], originator_id=task["originator_id"],
        due_date=task["due_date"], by_user=by, version=task["version"], reason=reason),
        tenant=str(task["la_id"]), correlation_id=correlation_id)


async def create_task(conn: asyncpg.Connection, *, kind: str, pep_id: uuid.UUID, child_id: uuid.UUID,
                      la_id: uuid.UUID, setting_id: uuid.UUID | None, sections: list[str],
                      assignee_user_id: uuid.UUID | None, originator_id: uuid.UUID | None, due_date: date | None,
                      due_rule: str | None, note: str | None, feedback: str | None, by: uuid.UUID | None,
                      correlation_id: str | None) -> asyncpg.Record | None:
    """A new assigned task, kept and announced; None if the PEP already has an open task of this kind."""
    row = await conn.fetchrow(
        "INSERT INTO tasks (id, kind, status, pep_id, child_id, la_id, setting_id, sections, assignee_user_id, "
        "originator_id, due_date, due_rule, note, feedback) VALUES ($1, $2, 'assigned', $3, $4, $5, $6, $7, $8, $9, "
        "$10, $11, $12, $13) ON CONFLICT (pep_id, kind) WHERE status IN ('assigned', 'in_progress', 'returned') "
        "DO NOTHING RETURNING *", uuid.uuid4(), kind, pep_id, child_id, la_id, setting_id, sections,
        assignee_user_id, originator_id, due_date, due_rule, note, feedback)
    if row is None:
        return None
    await conn.execute("INSERT INTO task_events (task_id, action, from_status, to_status, reason, by_user) "
                       "VALUES ($1, 'assign', NULL, 'assigned', $2, $3)", row["id"], note, by)
    await _announce(conn, row, "assign", by, correlation_id)
    return row


async def move_task(conn: asyncpg.Connection, task: asyncpg.Record, action: str, to_status: str,
                    reason: str | None, by: uuid.UUID | None, correlation_id: str | None) -> asyncpg.Record:
    row = await conn.fetchrow("UPDATE tasks SET status = $2, version = version + 1, updated_at = now() "
                              "WHERE id = $1 RETURNING *", task["id"], to_status)
    assert row is not None
    await conn.execute("INSERT INTO task_events (task_id, action, from_status, to_status, reason, by_user) "
                       "VALUES ($1, $2, $3, $4, $5, $6)", task["id"], action, task["status"], to_status, reason, by)
    await _announce(conn, row, action, by, correlation_id, reason)
    return row


# ---- due dates from the LA's timescales ------------------------------------------------------------------


async def due_by_rule(conn: asyncpg.Connection, la_id: uuid.UUID, meeting: date | None,
                      rule: str) -> tuple[date | None, str | None]:
    """The due date the LA's rule gives from the meeting date, with the rule in words; (None, None) without a
    meeting date or when the LA's term dates do not reach far enough."""
    if meeting is None:
        return None, None
    config, _ = await timescale_store.current(conn, la_id)
    try:
        deadline = deadlines(config, meeting=meeting)[rule]
    except TermDatesMissing:
        return None, None
    return deadline.due, deadline.explanation if deadline.due else None


# ---- delegating, retracting ----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "The request has invalid fields", f"Check these fields: {field}", code="validation",
                   errors=[FieldError(field=field, message=message)])


@routes.post("/peps/{pep_id}/delegations")
async def delegate(request: web.Request) -> web.Response:
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
            await due_by_rule(conn, la_id, meeting, "dt_return")
        if due is None:
            raise _invalid("due_date", "Enter the due date: the PEP has no meeting date for the LA's timescales to "
                                       "work from")
        row = await create_task(conn, kind="complete_sections", pep_id=pep_id, child_id=uuid.UUID(pep["child_id"]),
                                la_id=la_id, setting_id=uuid.UUID(child["setting_id"]), sections=sections,
                                assignee_user_id=None, originator_id=me, due_date=due, due_rule=rule,
                                note=body.note, feedback=None, by=me, correlation_id=rid)
        if row is None:
            raise Problem(409, "This PEP is already delegated", "Retract the open task first to delegate other "
                          "sections or change the date.", code="already_delegated")
        task = await conn.fetchrow(TASK_SQL + "WHERE t.id = $1", row["id"])
    return web.json_response(_task(task, claims, date.today()), status=201)


async def _task_or_404(conn: asyncpg.Connection, claims: Claims, raw: str, *, lock: bool = False) -> asyncpg.Record:
    try:
        task_id = uuid.UUID(raw)
    except ValueError:
        raise not_found("task") from None
    if lock:
        await conn.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", task_id)
    row = await conn.fetchrow(TASK_SQL + "WHERE t.id = $1", task_id)
    if row is None or reach(claims, row) is None:
        raise not_found("task")
    return row


@routes.post("/tasks/{task_id}/retract")
async def retract(request: web.Request) -> web.Response:
    """Take a delegated task back: the sections are the originator's again, and the setting sees why."""
    claims = request[CLAIMS]
    me = uuid.UUID(require_user(claims))
    body = await parse_body(request, RetractIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        task = await _task_or_404(conn, claims, request.match_info["task_id"], lock=True)
        if not _may_retract(claims, task):
            if task["status"] not in OPEN_STATUSES:
                raise Problem(409, "This task cannot be retracted now", f"It is {task['status']}.",
                              code="task_not_open")
            raise Problem(403, "You cannot retract this task", "Whoever delegated it, or the Virtual School, can.",
                          code="forbidden")
        await move_task(conn, task, "retract", "retracted", body.reason, me, request[REQUEST_ID])
        row = await conn.fetchrow(TASK_SQL + "WHERE t.id = $1", task["id"])
    return web.json_response(_task(row, claims, date.today()))


# ---- reading: one task, a PEP's tasks, the trays -------------------------------------------------------------


@routes.get("/tasks/{task_id}")
async def get_task(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        task = await _task_or_404(conn, claims, request.match_info["task_id"])
        out = _task(task, claims, date.today())
        out["history"] = await _history(conn, task["id"])
    return web.json_response(out)


@routes.get("/peps/{pep_id}/tasks")
async def pep_tasks(request: web.Request) -> web.Response:
    """Every task of a PEP, newest first, for anyone pep lets see the PEP."""
    claims = request[CLAIMS]
    pep_id = path_uuid(request, "pep_id")
    await request.app[PEP].call("GET", f"/peps/{pep_id}", claims, request_id=request[REQUEST_ID])
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(TASK_SQL + "WHERE t.pep_id = $1 ORDER BY t.created_at DESC", pep_id)
    return web.json_response([_task(r, claims, date.today()) for r in rows])


def _tray_of(row: asyncpg.Record, how: str | None, me: str, now: datetime, days: dict[uuid.UUID, int]) -> str | None:
    since = now - timedelta(days=days.get(row["la_id"], TRAY_DAYS))
    if how == "delegate":
        if row["status"] in OPEN_STATUSES:
            return "current"
        if row["updated_at"] >= since:
            return {"retracted": "retracted", "submitted": "submitted", "completed": "submitted"}.get(row["status"])
        return None
    if row["originator_id"] is not None and str(row["originator_id"]) == me and (
            row["status"] in OPEN_STATUSES or row["updated_at"] >= since):
        return "sent"
    return None


@routes.get("/tasks")
async def trays(request: web.Request) -> web.Response:
    """The caller's tray (current, retracted, submitted: theirs to do; sent: what they delegated) and the counts
    of all four. Retracted and submitted tasks stay for the LA's number of days (30 unless it set another)."""
    claims = request[CLAIMS]
    me = require_user(claims)
    query = TaskQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})
    settings = [uuid.UUID(m.organisation_id) for m in claims.memberships
                if m.role in ("designated_teacher", "setting_staff")]
    now = datetime.now(UTC)
    since = now - timedelta(days=MAX_TRAY_DAYS)
    async with request.app[POOL].acquire() as conn:
        days = {r["la_id"]: r["tray_days"] for r in await conn.fetch("SELECT la_id, tray_days FROM tray_settings")}
        rows = await conn.fetch(
            TASK_SQL + "WHERE (t.assignee_user_id = $1 OR t.originator_id = $1 "
            "OR (t.assignee_user_id IS NULL AND t.setting_id = ANY($2::uuid[]))) "
            "AND (t.status IN ('assigned', 'in_progress', 'returned') OR t.updated_at >= $3) "
            "AND ($4::uuid IS NULL OR t.pep_id = $4)", uuid.UUID(me), settings, since, query.pep_id)
    today = date.today()
    counts = {"current": 0, "retracted": 0, "submitted": 0, "sent": 0}
    chosen = []
    for r in rows:
        tray = _tray_of(r, reach(claims, r), me, now, days)
        if tray is None:
            continue
        counts[tray] += 1
        if tray == query.tray:
            chosen.append(r)
    if query.sort == "updated":
        chosen.sort(key=lambda r: r["updated_at"], reverse=True)
    else:
        chosen.sort(key=lambda r: (r["due_date"] is None, r["due_date"] or today), reverse=query.sort == "-due")
    return web.json_response({"items": [_task(r, claims, today) for r in chosen], "counts": counts})


@routes.get("/peps/{pep_id}/deadlines")
async def pep_deadlines(request: web.Request) -> web.Response:
    """Every deadline of a PEP by the LA's timescales, each with the rule that set it: from its meeting date, or
    without one, when the next meeting is due from the child's last finalised one."""
    claims = request[CLAIMS]
    pep_id = path_uuid(request, "pep_id")
    pep = await request.app[PEP].call("GET", f"/peps/{pep_id}", claims, request_id=request[REQUEST_ID])
    async with request.app[POOL].acquire() as conn:
        la_id = await conn.fetchval("SELECT la_id FROM children WHERE id = $1", uuid.UUID(pep["child_id"]))
        if la_id is None:  # not heard of yet: ask pep
            child = await request.app[PEP].call("GET", f"/children/{pep['child_id']}", claims,
                                                request_id=request[REQUEST_ID])
            la_id = uuid.UUID(child["la_id"])
        config, _ = await timescale_store.current(conn, la_id)
        meeting = date.fromisoformat(pep["meeting_date"]) if pep.get("meeting_date") else None
        based_on, found = None, {}
        try:
            if meeting is not None:
                based_on, found = "meeting", deadlines(config, meeting=meeting)
            else:
                last = await conn.fetchval("SELECT max(meeting_date) FROM peps WHERE child_id = $1 AND status = "
                                           "'finalised' AND id <> $2", uuid.UUID(pep["child_id"]), pep_id)
                if last is not None:
                    based_on, found = "last_meeting", {"next_pep": deadlines(config, meeting=last)["next_pep"]}
        except TermDatesMissing:
            based_on, found = None, {}
    return web.json_response({
        "meeting_date": meeting.isoformat() if meeting else None, "based_on": based_on,
        "deadlines": [{"key": d.key, "label": d.label, "due": d.due.isoformat() if d.due else None, "rule": d.rule,
                       "rule_version": d.rule_version, "explanation": d.explanation} for d in found.values()]})


@routes.get("/organisations/{la_id}/tray-settings")
async def get_tray_settings(request: web.Request) -> web.Response:
    la_id = _virtual_school_la(request, ("vs_admin", "vs_caseworker", "vs_approver"))
    async with request.app[POOL].acquire() as conn:
        days = await conn.fetchval("SELECT tray_days FROM tray_settings WHERE la_id = $1", la_id)
    return web.json_response({"tray_days": days or TRAY_DAYS})


@routes.put("/organisations/{la_id}/tray-settings")
async def put_tray_settings(request: web.Request) -> web.Response:
    """How long retracted and submitted tasks stay in the LA's people's trays (its VS admin decides)."""
    la_id = _virtual_school_la(request, ("vs_admin",))
    body = await parse_body(request, TraySettings)
    async with request.app[POOL].acquire() as conn:
        await conn.execute("INSERT INTO tray_settings (la_id, tray_days, changed_by) VALUES ($1, $2, $3) "
                           "ON CONFLICT (la_id) DO UPDATE SET tray_days = $2, changed_by = $3, changed_at = now()",
                           la_id, body.tray_days, uuid.UUID(request[CLAIMS].sub))
    return web.json_response({"tray_days": body.tray_days})


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


# ---- following pep --------------------------------------------------------------------------------------------


async def _on_meeting_moved(ctx: MessageContext) -> None:
    """The meeting moved: open tasks whose date came from the LA's rules follow it (a date someone chose stays)."""
    data = parse_data(ctx.envelope)
    assert isinstance(data, PepMeetingChanged)
    if data.change == "cancelled":
        return
    async with ctx.effect() as conn:
        for task in await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = ANY($2::text[]) "
                                     "AND (due_rule IS NULL OR due_rule <> $3) FOR UPDATE",
                                     data.pep_id, list(OPEN_STATUSES), CHOSEN):
            due, rule = await due_by_rule(conn, task["la_id"], data.meeting_date, RULE_OF_KIND[task["kind"]])
            if due is None or (due, rule) == (task["due_date"], task["due_rule"]):
                continue
            row = await conn.fetchrow("UPDATE tasks SET due_date = $2, due_rule = $3, version = version + 1, "
                                      "updated_at = now() WHERE id = $1 RETURNING *", task["id"], due, rule)
            await conn.execute("INSERT INTO task_events (task_id, action, from_status, to_status, reason, by_user) "
                               "VALUES ($1, 'reschedule', $2, $2, $3, NULL)", task["id"], task["status"], rule)
            await _announce(conn, row, "reschedule", None, ctx.envelope.correlation_id, rule)


async def _on_child_changed(ctx: MessageContext) -> None:
    data = parse_data(ctx.envelope)
    assert isinstance(data, ChildChanged)
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO children (id, la_id, setting_id, social_worker_id, given_name, family_name, version, "
            "in_care) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET la_id = $2, "
            "setting_id = $3, social_worker_id = $4, given_name = $5, family_name = $6, version = $7, in_care = $8 "
            "WHERE children.version < $7",
            data.child_id, data.la_id, data.setting_id, data.social_worker_id, data.given_name, data.family_name,
            data.version, data.in_care)


async def _on_pep_status(ctx: MessageContext) -> None:
    """The PEP moved on: the tasks follow. Submitting is the delegate's contribution; returning gives the setting
    an amend task with the feedback; approval gives the social worker a finalise task; finalising or
    cancelling closes what is left."""
    data = parse_data(ctx.envelope)
    assert isinstance(data, PepStatusChanged)
    rid = ctx.envelope.correlation_id
    async with ctx.effect() as conn:
        open_tasks = await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = ANY($2::text[]) "
                                      "ORDER BY created_at FOR UPDATE", data.pep_id, list(OPEN_STATUSES))
        if data.action == "submit":
            for t in open_tasks:
                if t["kind"] in ("complete_sections", "amend"):
                    await move_task(conn, t, "submit", "submitted", None, data.by_user, rid)
        elif data.action == "return":
            last = await conn.fetchrow("SELECT * FROM tasks WHERE pep_id = $1 AND kind IN ('complete_sections', "
                                       "'amend') ORDER BY created_at DESC LIMIT 1", data.pep_id)
            child = await conn.fetchrow("SELECT * FROM children WHERE id = $1", data.child_id)
            setting = data.setting_id or (child["setting_id"] if child else None)
            due, rule = await due_by_rule(conn, data.la_id, data.meeting_date, "dt_return")
            if due is not None and due < date.today():  # the return date has passed: the amendment is due now
                due, rule = date.today(), "The Designated Teacher's return date had passed when QA returned it"
            if setting is not None:
                await create_task(conn, kind="amend", pep_id=data.pep_id, child_id=data.child_id, la_id=data.la_id,
                                  setting_id=setting, sections=list(last["sections"]) if last else [],
                                  assignee_user_id=None, originator_id=data.by_user,
                                  due_date=due, due_rule=rule, note=None, feedback=data.reason, by=data.by_user,
                                  correlation_id=rid)
        elif data.action == "approve":
            child = await conn.fetchrow("SELECT * FROM children WHERE id = $1", data.child_id)
            if child is not None and child["social_worker_id"] is not None:
                due, rule = await due_by_rule(conn, data.la_id, data.meeting_date, "finalise")
                await create_task(conn, kind="finalise", pep_id=data.pep_id, child_id=data.child_id,
                                  la_id=data.la_id, setting_id=None, sections=[],
                                  assignee_user_id=child["social_worker_id"], originator_id=data.by_user,
                                  due_date=due, due_rule=rule, note=None, feedback=None, by=data.by_user,
                                  correlation_id=rid)
        elif data.action == "finalise":
            for t in open_tasks:
                await move_task(conn, t, "finalise", "completed", None, data.by_user, rid)
            for t in await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = 'submitted' FOR UPDATE",
                                      data.pep_id):
                await move_task(conn, t, "finalise", "completed", None, data.by_user, rid)
        elif data.action == "cancel":
            for t in open_tasks:
                await move_task(conn, t, "cancel", "cancelled", data.reason, data.by_user, rid)


def subscriptions() -> list[Subscription]:
    child_type, child_version = event_type_of(ChildChanged)
    pep_type, pep_version = event_type_of(PepStatusChanged)
    meeting_type, meeting_version = event_type_of(PepMeetingChanged)
    return [Subscription(name="delegation.children", routing_keys=[f"{child_type}.v{child_version}"],
                         handler=_on_child_changed),
            Subscription(name="delegation.task_dates", routing_keys=[f"{meeting_type}.v{meeting_version}"],
                         handler=_on_meeting_moved),
            Subscription(name="delegation.pep_status", routing_keys=[f"{pep_type}.v{pep_version}"],
                         handler=_on_pep_status)]
