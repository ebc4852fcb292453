"""SQL for children's core data, their history, siblings and attendance (pep's own schema only)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.pep.domain import core_data
from shared.api.children import CoreData
from shared.bus import add_event
from shared.contracts import ChildChanged

CORE_FIELDS = tuple(CoreData.model_fields)  # the columns a create or an edit may write
_JSONB = {"carer", "contacts"}


def to_json(value: Any) -> Any:
    """A value as it is kept in a jsonb column (history, carer, contacts)."""
    if isinstance(value, uuid.UUID | date):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _column_value(name: str, value: Any) -> Any:
    return to_json(value) if name in _JSONB and value is not None else value


async def child(conn: asyncpg.Connection, child_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM children WHERE id = $1" + (" FOR UPDATE" if lock else ""), child_id)


async def insert_child(conn: asyncpg.Connection, child_id: uuid.UUID, la_id: uuid.UUID, values: dict[str, Any],
                       by: uuid.UUID | None) -> asyncpg.Record:
    names = [n for n in values if n in CORE_FIELDS and values[n] is not None]
    columns = ", ".join(["id", "la_id", "updated_by", *names])
    params = ", ".join(f"${i}" for i in range(1, len(names) + 4))
    row = await conn.fetchrow(f"INSERT INTO children ({columns}) VALUES ({params}) RETURNING *", child_id, la_id, by,
                              *[_column_value(n, values[n]) for n in names])
    assert row is not None
    await _record_history(conn, row, {n: (None, values[n]) for n in names if values[n] != []}, by)
    return row


@dataclass(frozen=True)
class Move:
    """A change of school or placement: the day it starts and the reason given (the clocks count from it)."""

    kind: str  # school | placement
    starts_on: date
    reason: str


async def update_child(conn: asyncpg.Connection, current: asyncpg.Record, changed: dict[str, tuple[Any, Any]],
                       by: uuid.UUID | None, move: Move | None = None) -> asyncpg.Record:
    """Write the changes, one version up, with their history. The caller holds the row lock. A `move` is also kept
    on the record as the latest change of school or placement, and with each change in the history."""
    names = [n for n in changed if n in CORE_FIELDS]
    values = [_column_value(n, changed[n][1]) for n in names]
    if move is not None:
        names += ["moved_on", "move_kind", "move_reason"]
        values += [move.starts_on, move.kind, move.reason]
    assignments = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=3))
    row = await conn.fetchrow(
        f"UPDATE children SET {assignments}{', ' if names else ''}version = version + 1, updated_at = now(), "
        "updated_by = $2 WHERE id = $1 RETURNING *", current["id"], by, *values)
    assert row is not None
    await _record_history(conn, row, {n: changed[n] for n in changed if n in CORE_FIELDS}, by, move)
    return row


async def _record_history(conn: asyncpg.Connection, row: asyncpg.Record, changed: dict[str, tuple[Any, Any]],
                          by: uuid.UUID | None, move: Move | None = None) -> None:
    starts_on, reason = (move.starts_on, move.reason) if move is not None else (None, None)
    for table, fields in (("placement_history", core_data.PLACEMENT_FIELDS),
                          ("setting_history", core_data.SETTING_FIELDS)):
        entries = [(row["id"], row["version"], n, to_json(old), to_json(new), by, starts_on, reason)
                   for n, (old, new) in changed.items() if n in fields]
        if entries:
            await conn.executemany(f"INSERT INTO {table} (child_id, version, what, from_value, to_value, changed_by, "
                                   "starts_on, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", entries)


async def history(conn: asyncpg.Connection, table: str, child_id: uuid.UUID) -> list[asyncpg.Record]:
    assert table in ("placement_history", "setting_history")
    return await conn.fetch(
        f"SELECT h.*, u.given_name || ' ' || u.family_name AS changed_by_name FROM {table} h "
        "LEFT JOIN users u ON u.id = h.changed_by WHERE h.child_id = $1 ORDER BY h.id DESC LIMIT 100", child_id)


async def publish_changed(conn: asyncpg.Connection, row: asyncpg.Record, correlation_id: str | None) -> None:
    """Tell the other services, in the same transaction as the change."""
    await add_event(conn, "pep", ChildChanged(
        child_id=row["id"], version=row["version"], la_id=row["la_id"], setting_id=row["setting_id"],
        social_worker_id=row["social_worker_id"], iro_id=row["iro_id"], carer_ids=list(row["carer_ids"]),
        given_name=row["given_name"], family_name=row["family_name"], year_group=row["year_group"],
        sen_status=row["sen_status"], in_care=row["in_care"], date_of_birth=row["date_of_birth"],
        date_entered_care=row["date_entered_care"], entered_care_emergency=row["entered_care_emergency"],
        moved_on=row["moved_on"], move_kind=row["move_kind"], move_reason=row["move_reason"]),
        tenant=str(row["la_id"]), correlation_id=correlation_id)


async def candidates(conn: asyncpg.Connection, la_ids: list[uuid.UUID], setting_ids: list[uuid.UUID], *,
                     setting_id: uuid.UUID | None = None, q: str | None = None) -> list[asyncpg.Record]:
    """Children who might be the caller's: of their LAs or at their settings. Who really is, access_to decides."""
    like = None
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return await conn.fetch(
        "SELECT * FROM children WHERE (la_id = ANY($1::uuid[]) OR setting_id = ANY($2::uuid[])) "
        "AND ($3::uuid IS NULL OR setting_id = $3) "
        "AND ($4::text IS NULL OR given_name || ' ' || family_name ILIKE $4 OR family_name || ' ' || given_name "
        "ILIKE $4) ORDER BY family_name, given_name, id", la_ids, setting_ids, setting_id, like)


async def by_social_care_ids(conn: asyncpg.Connection, la_id: uuid.UUID, ids: Iterable[str],
                             *, lock: bool = False) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM children WHERE la_id = $1 AND social_care_id = ANY($2::text[]) ORDER BY id"
                            + (" FOR UPDATE" if lock else ""), la_id, list(ids))
    return {r["social_care_id"]: r for r in rows}


async def by_upns(conn: asyncpg.Connection, la_id: uuid.UUID, upns: Iterable[str]) -> dict[str, list[asyncpg.Record]]:
    found: dict[str, list[asyncpg.Record]] = {}
    for r in await conn.fetch("SELECT * FROM children WHERE la_id = $1 AND upn = ANY($2::text[])", la_id,
                              list(upns)):
        found.setdefault(r["upn"], []).append(r)
    return found


# ---- people (pep's read model of identity's users) ------------------------------------------------


async def users(conn: asyncpg.Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM users WHERE id = ANY($1::uuid[]) AND NOT disabled", list(ids))
    return {r["id"]: r for r in rows}


async def users_by_email(conn: asyncpg.Connection, emails: Iterable[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM users WHERE lower(email) = ANY($1::text[]) AND NOT disabled",
                            [e.lower() for e in emails])
    return {r["email"].lower(): r for r in rows}


async def people_near(conn: asyncpg.Connection, org_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """Active people with a membership in any of these organisations (the child's LA and setting)."""
    return await conn.fetch(
        "SELECT * FROM users WHERE NOT disabled AND EXISTS (SELECT 1 FROM jsonb_array_elements(memberships) m "
        "WHERE m->>'organisation_id' = ANY($1::text[])) ORDER BY family_name, given_name",
        [str(o) for o in org_ids])


async def people_with_role(conn: asyncpg.Connection, la_id: uuid.UUID, role: str) -> list[asyncpg.Record]:
    """Active people who hold `role` in this LA, by name."""
    return await conn.fetch(
        "SELECT * FROM users WHERE NOT disabled AND EXISTS (SELECT 1 FROM jsonb_array_elements(memberships) m "
        "WHERE m->>'organisation_id' = $1 AND m->>'role' = $2) ORDER BY family_name, given_name, id", str(la_id), role)


# ---- organisations (pep's read model of identity's LAs and settings) --------------------------------


async def settings_of(conn: asyncpg.Connection, la_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM organisations WHERE la_id = $1 AND organisation_type = 'setting' "
                            "ORDER BY lower(name), id", la_id)


async def organisation(conn: asyncpg.Connection, org_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM organisations WHERE id = $1", org_id)


# ---- siblings -------------------------------------------------------------------------------------


def _pair(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    # Postgres orders uuids by their bytes, as Python does.
    return (a, b) if a.bytes < b.bytes else (b, a)


async def siblings(conn: asyncpg.Connection, child_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT c.* FROM sibling_links l JOIN children c ON c.id = CASE WHEN l.child_id = $1 THEN l.sibling_id "
        "ELSE l.child_id END WHERE l.child_id = $1 OR l.sibling_id = $1 ORDER BY c.date_of_birth, c.id", child_id)


async def link_siblings(conn: asyncpg.Connection, la_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID,
                        by: uuid.UUID | None) -> bool:
    first, second = _pair(a, b)
    return bool(await conn.fetchval(
        "INSERT INTO sibling_links (la_id, child_id, sibling_id, linked_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING 1", la_id, first, second, by))


async def unlink_siblings(conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> bool:
    first, second = _pair(a, b)
    return bool(await conn.fetchval("DELETE FROM sibling_links WHERE child_id = $1 AND sibling_id = $2 RETURNING 1",
                                    first, second))


async def bump_version(conn: asyncpg.Connection, child_id: uuid.UUID, by: uuid.UUID | None) -> asyncpg.Record:
    row = await conn.fetchrow("UPDATE children SET version = version + 1, updated_at = now(), updated_by = $2 "
                              "WHERE id = $1 RETURNING *", child_id, by)
    assert row is not None
    return row


# ---- attendance -----------------------------------------------------------------------------------


async def attendance(conn: asyncpg.Connection, child_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM attendance WHERE child_id = $1 ORDER BY period_start DESC", child_id)


async def attendance_between(conn: asyncpg.Connection, child_id: uuid.UUID, start: date,
                             end: date) -> tuple[int, int]:
    """Attended and possible sessions in periods that start within [start, end]."""
    row = await conn.fetchrow(
        "SELECT coalesce(sum(attended_sessions), 0) AS attended, coalesce(sum(possible_sessions), 0) AS possible "
        "FROM attendance WHERE child_id = $1 AND period_start BETWEEN $2 AND $3", child_id, start, end)
    assert row is not None
    return int(row["attended"]), int(row["possible"])


async def overlapping_period(conn: asyncpg.Connection, child_id: uuid.UUID, start: date,
                             end: date) -> asyncpg.Record | None:
    """Another period (not exactly this one) that shares a day with it: counting both would count days twice."""
    return await conn.fetchrow(
        "SELECT * FROM attendance WHERE child_id = $1 AND period_start <= $3 AND period_end >= $2 "
        "AND NOT (period_start = $2 AND period_end = $3) LIMIT 1", child_id, start, end)


async def record_attendance(conn: asyncpg.Connection, child_id: uuid.UUID, record: Any, source: str,
                            by: uuid.UUID | None) -> asyncpg.Record:
    """Record a period; the same period again replaces what was there."""
    row = await conn.fetchrow(
        "INSERT INTO attendance (id, child_id, period_start, period_end, possible_sessions, attended_sessions, "
        "authorised_absences, unauthorised_absences, source, recorded_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (child_id, period_start, period_end) "
        "DO UPDATE SET possible_sessions = $5, attended_sessions = $6, authorised_absences = $7, "
        "unauthorised_absences = $8, source = $9, recorded_by = $10, recorded_at = now() RETURNING *",
        uuid.uuid4(), child_id, record.period_start, record.period_end, record.possible_sessions,
        record.attended_sessions, record.authorised_absences, record.unauthorised_absences, source, by)
    assert row is not None
    return row
