"""Tasks in delegation's schema: reading them, and changing them in one place, so every change is kept in the
task's history and announced (delegation.task.changed, in the outbox, in the caller's transaction)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from services.delegation import timescale_store
from services.delegation.domain.tasks import CHOSEN, due_from_rule
from shared.api.tasks import OPEN_STATUSES
from shared.bus import add_event
from shared.contracts import TaskChanged

TASK_SQL = ("SELECT t.*, c.given_name, c.family_name, o.given_name AS o_given, o.family_name AS o_family "
            "FROM tasks t LEFT JOIN children c ON c.id = t.child_id LEFT JOIN users o ON o.id = t.originator_id ")


# The PP+ requests of the task `t` as one JSON array, target by target, for an approve_funding task (NULL for any
# other): what funding_tasks.funding_of finds, joined into a task read so the tray is one round trip (issue 19).
TASK_FUNDING_SQL = (
    "LEFT JOIN LATERAL (SELECT json_agg(json_build_object('target', r.target, 'what', r.what, 'amount', "
    "r.amount::text, 'funding_type', r.funding_type, 'decision', r.decision) ORDER BY r.target) AS funding "
    "FROM funding_requests r WHERE t.kind = 'approve_funding' AND (r.pep_id = coalesce(t.pep_id, "
    "t.action_target_id) OR r.action_target_id = coalesce(t.pep_id, t.action_target_id))) f ON true ")


# ---- reading ----------------------------------------------------------------------------------------------


async def task(conn: asyncpg.Connection, task_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    """The task with its child's and originator's names; `lock` holds its row for this transaction."""
    if lock:
        await conn.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", task_id)
    return await conn.fetchrow(TASK_SQL + "WHERE t.id = $1", task_id)


async def history(conn: asyncpg.Connection, task_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT e.*, u.given_name, u.family_name FROM task_events e "
                            "LEFT JOIN users u ON u.id = e.by_user WHERE e.task_id = $1 ORDER BY e.id", task_id)


async def of_pep(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every task of a PEP, newest first."""
    return await conn.fetch(TASK_SQL + "WHERE t.pep_id = $1 ORDER BY t.created_at DESC", pep_id)


async def tray_candidates(conn: asyncpg.Connection, me: uuid.UUID, settings: list[uuid.UUID], since: datetime,
                          pep_id: uuid.UUID | None, las: list[uuid.UUID] | None = None) -> list[asyncpg.Record]:
    """Tasks that may be in one of the caller's trays: theirs, their settings', for a role at one of `las`, or
    delegated by them; open or changed since `since`; of one PEP if `pep_id`. In the same round trip, each with
    its LA's own tray days where it chose some (`la_tray_days`) and an approve_funding task's PP+ requests
    (`funding`, TASK_FUNDING_SQL)."""
    return await conn.fetch(
        "SELECT t.*, c.given_name, c.family_name, o.given_name AS o_given, o.family_name AS o_family, "
        "s.tray_days AS la_tray_days, f.funding FROM tasks t LEFT JOIN children c ON c.id = t.child_id "
        "LEFT JOIN users o ON o.id = t.originator_id LEFT JOIN tray_settings s ON s.la_id = t.la_id "
        + TASK_FUNDING_SQL +
        "WHERE (t.assignee_user_id = $1 OR t.originator_id = $1 "
        "OR (t.assignee_user_id IS NULL AND t.setting_id = ANY($2::uuid[])) "
        "OR (t.assignee_role IS NOT NULL AND t.la_id = ANY($5::uuid[]))) "
        "AND (t.status IN ('assigned', 'in_progress', 'returned') OR t.updated_at >= $3) "
        "AND ($4::uuid IS NULL OR t.pep_id = $4)", me, settings, since, pep_id, las or [])


async def open_tasks(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    """A PEP's open tasks, oldest first, held for this transaction."""
    return await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = ANY($2::text[]) "
                            "ORDER BY created_at FOR UPDATE", pep_id, list(OPEN_STATUSES))


async def submitted_tasks(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = 'submitted' FOR UPDATE", pep_id)


async def rescheduled_by_meeting(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    """A PEP's open tasks whose due date came from the LA's rules (not one someone chose), held."""
    return await conn.fetch("SELECT * FROM tasks WHERE pep_id = $1 AND status = ANY($2::text[]) "
                            "AND (due_rule IS NULL OR due_rule <> $3) FOR UPDATE", pep_id, list(OPEN_STATUSES), CHOSEN)


async def last_contribution(conn: asyncpg.Connection, pep_id: uuid.UUID) -> asyncpg.Record | None:
    """The PEP's latest task for the school (complete sections or amend)."""
    return await conn.fetchrow("SELECT * FROM tasks WHERE pep_id = $1 AND kind IN ('complete_sections', "
                               "'amend') ORDER BY created_at DESC LIMIT 1", pep_id)


async def child(conn: asyncpg.Connection, child_id: uuid.UUID) -> asyncpg.Record | None:
    """The child as delegation last heard of them (its read model of pep's children)."""
    return await conn.fetchrow("SELECT * FROM children WHERE id = $1", child_id)


async def la_of_child(conn: asyncpg.Connection, child_id: uuid.UUID) -> uuid.UUID | None:
    return await conn.fetchval("SELECT la_id FROM children WHERE id = $1", child_id)


async def last_finalised_meeting(conn: asyncpg.Connection, child_id: uuid.UUID, other_than: uuid.UUID) -> date | None:
    """The meeting date of the child's latest finalised PEP other than this one."""
    return await conn.fetchval("SELECT max(meeting_date) FROM peps WHERE child_id = $1 AND status = "
                               "'finalised' AND id <> $2", child_id, other_than)


async def tray_days_of(conn: asyncpg.Connection, la_id: uuid.UUID) -> int | None:
    return await conn.fetchval("SELECT tray_days FROM tray_settings WHERE la_id = $1", la_id)


async def set_tray_days(conn: asyncpg.Connection, la_id: uuid.UUID, days: int, by: uuid.UUID) -> None:
    await conn.execute("INSERT INTO tray_settings (la_id, tray_days, changed_by) VALUES ($1, $2, $3) "
                       "ON CONFLICT (la_id) DO UPDATE SET tray_days = $2, changed_by = $3, changed_at = now()",
                       la_id, days, by)


async def due_by_rule(conn: asyncpg.Connection, la_id: uuid.UUID, meeting: date | None,
                      rule: str) -> tuple[date | None, str | None]:
    """The due date the LA's rule gives from the meeting date, with the rule in words; (None, None) without a
    meeting date or when the LA's term dates do not reach far enough."""
    if meeting is None:
        return None, None
    config, _ = await timescale_store.current(conn, la_id)
    return due_from_rule(config, meeting, rule)


# ---- changing tasks: one place, so every change is kept and announced ---------------------------------------


async def _announce(conn: asyncpg.Connection, task: asyncpg.Record, action: str, by: uuid.UUID | None,
                    correlation_id: str | None, reason: str | None = None) -> None:
    await add_event(conn, "delegation", TaskChanged(
        task_id=task["id"], pep_id=task["pep_id"], child_id=task["child_id"], la_id=task["la_id"],
        setting_id=task["setting_id"], kind=task["kind"], sections=list(task["sections"]), status=task["status"],
        action=action, assignee_user_id=task["assignee_user_id"], originator_id=task["originator_id"],
        due_date=task["due_date"], by_user=by, version=task["version"], reason=reason,
        assignee_role=task["assignee_role"], action_target_id=task["action_target_id"]),
        tenant=str(task["la_id"]), correlation_id=correlation_id)


async def create_task(conn: asyncpg.Connection, *, kind: str, pep_id: uuid.UUID | None, child_id: uuid.UUID,
                      la_id: uuid.UUID, setting_id: uuid.UUID | None, sections: list[str],
                      assignee_user_id: uuid.UUID | None, originator_id: uuid.UUID | None, due_date: date | None,
                      due_rule: str | None, note: str | None, feedback: str | None, by: uuid.UUID | None,
                      correlation_id: str | None, assignee_role: str | None = None,
                      action_target_id: uuid.UUID | None = None) -> asyncpg.Record | None:
    """A new assigned task, kept and announced; None if the PEP already has an open task of this kind. Only an
    approve_funding task for a target raised between PEPs has no PEP (`action_target_id` names the target)."""
    row = await conn.fetchrow(
        "INSERT INTO tasks (id, kind, status, pep_id, child_id, la_id, setting_id, sections, assignee_user_id, "
        "originator_id, due_date, due_rule, note, feedback, assignee_role, action_target_id) VALUES ($1, $2, "
        "'assigned', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (pep_id, kind) WHERE "
        "status IN ('assigned', 'in_progress', 'returned') DO NOTHING RETURNING *", uuid.uuid4(), kind, pep_id,
        child_id, la_id, setting_id, sections, assignee_user_id, originator_id, due_date, due_rule, note, feedback,
        assignee_role, action_target_id)
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


async def reschedule(conn: asyncpg.Connection, task: asyncpg.Record, due: date, rule: str | None,
                     correlation_id: str | None) -> asyncpg.Record:
    """A new due date from the LA's rules (the meeting moved): kept with the rule in words, and announced."""
    row = await conn.fetchrow("UPDATE tasks SET due_date = $2, due_rule = $3, version = version + 1, "
                              "updated_at = now() WHERE id = $1 RETURNING *", task["id"], due, rule)
    assert row is not None
    await conn.execute("INSERT INTO task_events (task_id, action, from_status, to_status, reason, by_user) "
                       "VALUES ($1, 'reschedule', $2, $2, $3, NULL)", task["id"], task["status"], rule)
    await _announce(conn, row, "reschedule", None, correlation_id, rule)
    return row
