"""The rest of a child's profile: case notes, what has happened on the record, and the Pupil Premium Plus agreed.

- Notes are written by the professionals who reach the child (not carers, who never see them). They are
  appended, never edited or deleted: a correction is a new note.
- Activity is read from what the record already keeps (PEP moves, section saves, files, notes, attendance,
  placement and setting changes), so nothing can happen without showing here. It says what happened and who
  did it, never the content: no answers, no QA feedback, no note text.
- PP+ agreed: qa publishes its funding decisions (qa.funding.decided); pep keeps the latest per PEP target
  (a target raised between PEPs keeps its own: services/pep/action_plan.py, which adds them up as qa does).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg
from aiohttp import web

from services.pep import action_plan
from services.pep.child_access import child_or_404
from services.pep.domain.access import Access
from shared.api import children as api
from shared.api.children import ActivityItem, ActivityList, ActivityQuery, Note, NoteIn
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import FundingDecided
from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS, parse_body, serves

routes = web.RouteTableDef()
NOTE_READERS = frozenset({"virtual_school", "social_worker", "designated_teacher", "setting_staff", "iro"})


def _may_read_notes(access: Access) -> bool:
    return access.via in NOTE_READERS


def _name(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given else None


def _note(row: asyncpg.Record) -> Note:
    return Note(id=row["id"], body=row["body"], written_at=row["written_at"], written_by=row["written_by"],
                written_by_name=_name(row["given_name"], row["family_name"]))


NOTES_SQL = ("SELECT n.*, u.given_name, u.family_name FROM child_notes n LEFT JOIN users u ON u.id = n.written_by "
             "WHERE n.child_id = $1 ORDER BY n.written_at DESC, n.id LIMIT $2")


@serves(routes, api.LIST_NOTES)
async def list_notes(request: web.Request) -> list[Note]:
    async with request.app[POOL].acquire() as conn:
        row, access = await child_or_404(conn, request[CLAIMS], request.match_info["child_id"])
        if not _may_read_notes(access):
            raise Problem(403, "Case notes are for the professionals working with the child", code="forbidden")
        rows = await conn.fetch(NOTES_SQL, row["id"], 200)
    return [_note(r) for r in rows]


@serves(routes, api.ADD_NOTE)
async def add_note(request: web.Request) -> Note:
    claims = request[CLAIMS]
    body = await parse_body(request, NoteIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, access = await child_or_404(conn, claims, request.match_info["child_id"])
        if not _may_read_notes(access):
            raise Problem(403, "Case notes are for the professionals working with the child", code="forbidden")
        note_id = uuid.uuid4()
        await conn.execute("INSERT INTO child_notes (id, child_id, la_id, body, written_by) "
                           "VALUES ($1, $2, $3, $4, $5)",
                           note_id, row["id"], row["la_id"], body.body, uuid.UUID(claims.sub))
        saved = await conn.fetchrow("SELECT n.*, u.given_name, u.family_name FROM child_notes n "
                                    "LEFT JOIN users u ON u.id = n.written_by WHERE n.id = $1", note_id)
    return _note(saved)


# ---- activity -------------------------------------------------------------------------------------------

# One row per thing that happened: (at, kind, action, by, pep_id, section_key, section_title, times, detail,
# starts_on, reason). A change of school or placement (with its start date and reason) is 'moved'; its reason,
# like a note, is for the professionals only.
# Section saves are counted per person, section and day, since autosave writes many versions of one sitting.
ACTIVITY_SQL = """
WITH child_peps AS (SELECT p.id, p.template_id FROM peps p WHERE p.child_id = $1)
SELECT * FROM (
    SELECT t.at, 'pep' AS kind, t.action, t.by_user AS by_user, t.pep_id, NULL::text AS section_key, 1 AS times,
           t.to_status AS detail, NULL::date AS starts_on, NULL::text AS reason
    FROM pep_transitions t JOIN child_peps p ON p.id = t.pep_id
  UNION ALL
    SELECT max(h.saved_at), 'section', 'saved', h.saved_by, h.pep_id, h.section_key, count(*)::int, NULL, NULL, NULL
    FROM section_history h JOIN child_peps p ON p.id = h.pep_id
    WHERE h.version > 0  -- version 0 is what the PEP started with: part of its 'start'
    GROUP BY h.pep_id, h.section_key, h.saved_by, (h.saved_at AT TIME ZONE 'Europe/London')::date
  UNION ALL
    SELECT a.at, 'file', a.action, a.by_user, f.pep_id, NULL, 1, f.filename, NULL, NULL
    FROM attachment_audit a JOIN attachments f ON f.id = a.attachment_id
    WHERE a.child_id = $1 AND a.action IN ('uploaded', 'deleted')
  UNION ALL
    SELECT n.written_at, 'note', 'added', n.written_by, NULL, NULL, 1, NULL, NULL, NULL
    FROM child_notes n WHERE n.child_id = $1 AND $3
  UNION ALL
    SELECT r.recorded_at, 'attendance', 'recorded', r.recorded_by, NULL, NULL, 1,
           to_char(r.period_start, 'YYYY-MM-DD') || '/' || to_char(r.period_end, 'YYYY-MM-DD'), NULL, NULL
    FROM attendance r WHERE r.child_id = $1
  UNION ALL
    SELECT max(h.changed_at), 'placement', CASE WHEN max(h.starts_on) IS NULL THEN 'changed' ELSE 'moved' END,
           h.changed_by, NULL, NULL, count(*)::int, string_agg(h.what, ',' ORDER BY h.what), max(h.starts_on),
           max(h.reason)
    FROM placement_history h WHERE h.child_id = $1 GROUP BY h.version, h.changed_by
  UNION ALL
    SELECT max(h.changed_at), 'setting', CASE WHEN max(h.starts_on) IS NULL THEN 'changed' ELSE 'moved' END,
           h.changed_by, NULL, NULL, count(*)::int, string_agg(h.what, ',' ORDER BY h.what), max(h.starts_on),
           max(h.reason)
    FROM setting_history h WHERE h.child_id = $1 GROUP BY h.version, h.changed_by
) activity
WHERE $2::timestamptz IS NULL OR at < $2
ORDER BY at DESC
LIMIT $4
"""


async def _section_titles(conn: asyncpg.Connection, pep_ids: set[uuid.UUID]) -> dict[tuple[uuid.UUID, str], str]:
    rows = await conn.fetch(
        "SELECT p.id, s->>'key' AS key, s->>'title' AS title FROM peps p JOIN templates t ON t.id = p.template_id, "
        "jsonb_array_elements(t.body->'sections') s WHERE p.id = ANY($1::uuid[])", list(pep_ids))
    return {(r["id"], r["key"]): r["title"] for r in rows}


async def activity(conn: asyncpg.Connection, child_id: uuid.UUID, access: Access, before: datetime | None,
                   limit: int) -> list[ActivityItem]:
    """What happened on the child's record that this caller may know of, newest first."""
    items: list[ActivityItem] = []
    fetch = limit
    while True:
        rows = await conn.fetch(ACTIVITY_SQL, child_id, before, _may_read_notes(access), fetch)
        # A setting's staff may be granted only some sections: saves of the others are not theirs to see.
        seen = [r for r in rows if r["section_key"] is None or access.may_see_section(r["section_key"])]
        if len(seen) >= limit or len(rows) < fetch:
            break
        fetch *= 4
    seen = seen[:limit]
    names = {r["id"]: _name(r["given_name"], r["family_name"]) for r in await conn.fetch(
        "SELECT id, given_name, family_name FROM users WHERE id = ANY($1::uuid[])",
        list({r["by_user"] for r in seen if r["by_user"] is not None}))}
    titles = await _section_titles(conn, {r["pep_id"] for r in seen if r["section_key"] is not None})
    for r in seen:
        items.append(ActivityItem(at=r["at"], kind=r["kind"], action=r["action"], by=r["by_user"],
                                  by_name=names.get(r["by_user"]), pep_id=r["pep_id"], section_key=r["section_key"],
                                  section_title=titles.get((r["pep_id"], r["section_key"])) if r["section_key"]
                                  else None, times=r["times"], detail=r["detail"], starts_on=r["starts_on"],
                                  reason=r["reason"] if _may_read_notes(access) else None))
    return items


@serves(routes, api.CHILD_ACTIVITY)
async def list_activity(request: web.Request) -> ActivityList:
    query = ActivityQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})
    async with request.app[POOL].acquire() as conn:
        row, access = await child_or_404(conn, request[CLAIMS], request.match_info["child_id"])
        items = await activity(conn, row["id"], access, query.before, query.limit)
    return ActivityList(items=items)


# ---- PP+ agreed --------------------------------------------------------------------------------------------


async def _on_funding_decided(ctx: MessageContext, data: FundingDecided) -> None:
    async with ctx.effect() as conn:
        # A decision about a child pep does not know (yet, or any more) cannot be shown: recorded as seen.
        if await conn.fetchval("SELECT 1 FROM children WHERE id = $1 AND la_id = $2", data.child_id,
                               data.la_id) is None:
            return
        if data.action_target_id is not None:  # a target raised between PEPs: kept on the target
            return await action_plan.target_decided(conn, data, ctx.envelope.occurred_at)
        if data.pep_id is None:
            return
        await conn.execute(
            "INSERT INTO funding_decisions (pep_id, target, child_id, la_id, academic_year, decision, amount, "
            "decided_at, financial_year, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT "
            "(pep_id, target) DO UPDATE SET decision = $6, amount = $7, academic_year = $5, decided_at = $8, "
            "financial_year = $9, reason = $10 WHERE funding_decisions.decided_at <= $8",
            data.pep_id, data.target, data.child_id, data.la_id, data.academic_year, data.decision,
            Decimal(data.amount) if data.amount is not None and data.decision == "approved" else None,
            ctx.envelope.occurred_at, data.financial_year, data.reason)


def funding_subscription() -> Subscription:
    return subscribe("pep.funding_decisions", FundingDecided, _on_funding_decided)
