"""Caseload trackers and alerts: for each child someone works with, what about their PEPs is late, due soon or
missing; counted, listed, and for the Virtual School broken down by setting and by social worker.

A child is
- overdue when a task on their PEP is past its due date; when the PEP's meeting has passed and the LA's
  "DT returns" deadline with it without the PEP being submitted; or when one of their PEP clocks (initial PEP,
  review after a change, termly review, Post-16 review: domain/clocks.py) has run out. An LA that has set no
  termly deadline cannot date the termly review: then the next PEP is due by the LA's "next PEP" rule from the
  last finalised meeting (without term dates: 17 weeks, about a term with its holidays);
- due soon when a PEP clock runs out within the LA's "due soon" working days;
- initial PEP late when the initial PEP clock has run out (the child is also overdue);
- review after a change due when a change of school or placement has started a review clock not yet met;
- awaiting QA too long when a submitted PEP has waited past the LA's QA rule for the caseworker's review;
- without a PEP date when no PEP under way has a meeting date (or none is under way);
- upcoming when the PEP under way meets within the next 4 weeks.
Each alert carries its reason in words and the date it was due. "Today" is the service's clock.
Who sees which children: the Virtual School its LA's; a social worker their allocated children; a DT their
setting's; setting staff those their DT lets them see. The data are delegation's read models of pep's events.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from services.delegation import timescale_store
from services.delegation.domain.clocks import ChildFacts, Clock, PepFacts, clocks
from services.delegation.domain.timescales import TermDatesMissing, Timescales, deadlines, long_date
from shared.api.caseload import CATEGORIES, Alert, Breakdown, Caseload, CaseloadItem, CaseloadQuery, Category, Counts
from shared.api.tasks import GET_CASELOAD
from shared.authz import require_user
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import PepMeetingChanged, PepStatusChanged
from shared.internal_auth import Claims
from shared.schedule import now
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, serves
from shared.workdays import uk_date

routes = web.RouteTableDef()
VIRTUAL_SCHOOL = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})
UNDER_WAY = ("created", "in_progress", "returned", "submitted", "approved")
WRITING = ("created", "in_progress", "returned")
UPCOMING_DAYS = 28
NO_TERM_DATES_WEEKS = 17


@dataclass
class Entry:
    child: asyncpg.Record
    pep: asyncpg.Record | None = None
    alerts: list[Alert] = field(default_factory=list)

    @property
    def categories(self) -> list[Category]:
        """The trackers the child is in, in the trackers' order."""
        kinds = {a.kind for a in self.alerts}
        return [c for c in CATEGORIES if c in kinds]

    @property
    def reasons(self) -> list[str]:
        """Why the child is overdue."""
        return [a.reason for a in self.alerts if a.kind == "overdue"]


def _scope_sql(claims: Claims) -> tuple[str, list[Any]]:
    """The children this caller works with, as a WHERE clause on `c` (before staff grants narrow it)."""
    me = uuid.UUID(require_user(claims))
    las = [uuid.UUID(m.organisation_id) for m in claims.memberships if m.role in VIRTUAL_SCHOOL]
    sw_las = [uuid.UUID(m.organisation_id) for m in claims.memberships if m.role == "social_worker"]
    settings = [uuid.UUID(m.organisation_id) for m in claims.memberships
                if m.role in ("designated_teacher", "setting_staff")]
    return ("(c.la_id = ANY($1::uuid[]) OR (c.social_worker_id = $2 AND c.la_id = ANY($3::uuid[])) "
            "OR c.setting_id = ANY($4::uuid[]))", [las, me, sw_las, settings])


def _staff_may_not_see(claims: Claims, child: asyncpg.Record) -> bool:
    """Setting staff whose DT limited them to some children, and no other way to this child."""
    ways = []
    for m in claims.memberships:
        if m.organisation_id == str(child["la_id"]) and m.role in VIRTUAL_SCHOOL:
            return False
        if m.role == "social_worker" and child["social_worker_id"] is not None \
                and str(child["social_worker_id"]) == claims.sub and m.organisation_id == str(child["la_id"]):
            return False
        if child["setting_id"] is not None and m.organisation_id == str(child["setting_id"]):
            if m.role == "designated_teacher" or m.children is None or str(child["id"]) in m.children:
                return False
            ways.append(m)
    return bool(ways)


def _next_due(config: Timescales, last_meeting: date) -> tuple[date, str]:
    try:
        deadline = deadlines(config, meeting=last_meeting)["next_pep"]
        if deadline.due is not None:
            return deadline.due, deadline.explanation
    except TermDatesMissing:
        pass
    due = last_meeting + timedelta(weeks=NO_TERM_DATES_WEEKS)
    return due, (f"{NO_TERM_DATES_WEEKS} weeks after the last meeting on {long_date(last_meeting)} (the LA has no "
                 "term dates for the next-PEP rule)")


def clock_alerts(found: list[Clock]) -> list[Alert]:
    """The alerts a child's clocks raise: a PEP clock run out is overdue (and, for the initial PEP, initial PEP
    late), one about to run out due soon; a review after a change not yet held is due whatever its state; QA
    past its rule is awaiting QA too long (the caseworker's lateness, not the school's: not overdue)."""
    out = []
    for c in found:
        if c.state == "met" or c.due is None:
            continue
        why = c.explanation  # a termly review booked after its deadline says so here
        if c.key == "qa_review":
            if c.state == "overdue":
                out.append(Alert(kind="awaiting_qa", clock=c.key, due=c.due,
                                 reason=f"{c.label} was due by {long_date(c.due)}: {why}"))
            continue
        if c.state == "overdue":
            out.append(Alert(kind="overdue", clock=c.key, due=c.due,
                             reason=f"{c.label} was due by {long_date(c.due)}: {why}"))
            if c.key == "initial_pep":
                out.append(Alert(kind="initial_pep_late", clock=c.key, due=c.due,
                                 reason=f"{c.label} was due by {long_date(c.due)}: {why}"))
        elif c.state == "due_soon":
            out.append(Alert(kind="due_soon", clock=c.key, due=c.due,
                             reason=f"{c.label} is due by {long_date(c.due)}: {why}"))
        if c.key == "review_after_change":
            late = c.state == "overdue"
            out.append(Alert(kind="review_after_change", clock=c.key, due=c.due,
                             reason=f"{c.label} {'was' if late else 'is'} due by {long_date(c.due)}: {why}"))
    return out


def classify(entry: Entry, peps: list[asyncpg.Record], overdue_tasks: list[asyncpg.Record], config: Timescales,
             today: date, contributed: frozenset[uuid.UUID] = frozenset()) -> None:
    """`contributed`: the PEPs whose school's contribution is in (the PEP waits for another part): the school is not
    late with them, whatever their status."""
    under_way = [p for p in peps if p["status"] in UNDER_WAY]
    current = max(under_way, key=lambda p: p["started_at"], default=None)
    entry.pep = current
    for t in overdue_tasks:
        entry.alerts.append(Alert(kind="overdue", due=t["due_date"],
                                  reason=f"A task was due on {long_date(t['due_date'])}"))
    found = clocks(ChildFacts.of(entry.child), [PepFacts.of(p) for p in peps], config, today)
    entry.alerts.extend(clock_alerts(found))
    # An LA without termly deadlines cannot date the termly review: the next PEP is then due by its next-PEP rule.
    dated = any(c.due is not None for c in found if c.key in ("termly_review", "post16_review"))
    finished = [p["meeting_date"] for p in peps if p["status"] == "finalised" and p["meeting_date"] is not None]
    meeting = current["meeting_date"] if current is not None else None
    if meeting is None:
        entry.alerts.append(Alert(kind="no_pep_date", reason="No PEP under way has a meeting date"))
        if current is None and finished and not dated:
            due, why = _next_due(config, max(finished))
            if due < today:
                entry.alerts.append(Alert(kind="overdue", due=due,
                                          reason=f"The next PEP was due by {long_date(due)}: {why}"))
    else:
        if today <= meeting <= today + timedelta(days=UPCOMING_DAYS):
            entry.alerts.append(Alert(kind="upcoming", due=meeting,
                                      reason=f"The PEP meeting is on {long_date(meeting)}"))
        if meeting < today and current is not None and current["status"] in WRITING \
                and current["id"] not in contributed:
            try:
                back = deadlines(config, meeting=meeting)["dt_return"]
            except TermDatesMissing:
                back = None
            if back is not None and back.due is not None and back.due < today:
                entry.alerts.append(Alert(kind="overdue", due=back.due,
                                          reason=f"Not submitted by {long_date(back.due)}: {back.explanation}"))
    # Overdue reasons first, then the rest in the trackers' order (a stable sort keeps each tracker's own order).
    entry.alerts.sort(key=lambda a: CATEGORIES.index(a.kind))


async def _contributed(conn: asyncpg.Connection, pep_ids: list[uuid.UUID]) -> frozenset[uuid.UUID]:
    """The PEPs whose school's contribution is in: their latest school task (to complete sections, or to amend
    after a return) was submitted (task_consumers: pep's `submit_contribution` or `submit`)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (pep_id) pep_id, status FROM tasks WHERE pep_id = ANY($1::uuid[]) "
        "AND kind IN ('complete_sections', 'amend') ORDER BY pep_id, created_at DESC", pep_ids)
    return frozenset(r["pep_id"] for r in rows if r["status"] == "submitted")


async def caseload(conn: asyncpg.Connection, claims: Claims, query: CaseloadQuery, today: date) -> list[Entry]:
    where, args = _scope_sql(claims)
    filters, n = [], len(args)
    for column, value in (("la_id", query.la_id), ("setting_id", query.setting_id),
                          ("social_worker_id", query.social_worker_id)):
        if value is not None:
            n += 1
            filters.append(f"c.{column} = ${n}")
            args.append(value)
    children = await conn.fetch(
        f"SELECT c.*, u.given_name AS sw_given, u.family_name AS sw_family FROM children c "
        f"LEFT JOIN users u ON u.id = c.social_worker_id WHERE c.in_care AND {where}"
        + "".join(f" AND {f}" for f in filters) + " ORDER BY c.family_name, c.given_name", *args)
    children = [c for c in children if not _staff_may_not_see(claims, c)]
    ids = [c["id"] for c in children]
    peps: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for p in await conn.fetch("SELECT * FROM peps WHERE child_id = ANY($1::uuid[])", ids):
        peps.setdefault(p["child_id"], []).append(p)
    late: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for t in await conn.fetch("SELECT * FROM tasks WHERE child_id = ANY($1::uuid[]) AND due_date < $2 AND status IN "
                              "('assigned', 'in_progress', 'returned')", ids, today):
        late.setdefault(t["child_id"], []).append(t)
    contributed = await _contributed(conn, [p["id"] for ps in peps.values() for p in ps])
    configs: dict[uuid.UUID, Timescales] = {}
    out = []
    for c in children:
        if c["la_id"] not in configs:
            configs[c["la_id"]], _ = await timescale_store.current(conn, c["la_id"])
        entry = Entry(c)
        classify(entry, peps.get(c["id"], []), late.get(c["id"], []), configs[c["la_id"]], today, contributed)
        out.append(entry)
    return out


def _item(e: Entry) -> CaseloadItem:
    c, p = e.child, e.pep
    return CaseloadItem(
        child_id=c["id"], child_name=f"{c['given_name']} {c['family_name']}", la_id=c["la_id"],
        setting_id=c["setting_id"], social_worker_id=c["social_worker_id"],
        social_worker_name=f"{c['sw_given']} {c['sw_family']}" if c["sw_given"] else None,
        pep_id=p["id"] if p else None, pep_status=p["status"] if p else None,
        meeting_date=p["meeting_date"] if p else None, categories=e.categories, reasons=e.reasons,
        alerts=e.alerts)


def _counts(entries: list[Entry]) -> Counts:
    counted = Counter(cat for e in entries for cat in e.categories)
    return Counts(**{c: counted[c] for c in CATEGORIES}, children=len(entries))


def _breakdown(entries: list[Entry], key: str) -> list[Breakdown]:
    groups: dict[uuid.UUID | None, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.child[key] or None, []).append(e)
    rows = []
    for value, members in groups.items():
        name = None
        if key == "social_worker_id":
            first = members[0].child
            name = f"{first['sw_given']} {first['sw_family']}" if first["sw_given"] else None
        rows.append(Breakdown(id=value, name=name, counts=_counts(members)))
    return sorted(rows, key=lambda r: (-r.counts.overdue, -r.counts.no_pep_date, r.name or ""))


@serves(routes, GET_CASELOAD)
async def get_caseload(request: web.Request) -> Caseload:
    """Counts of each tracker, the children in the one asked for (or all), and for the Virtual School the same
    counts by setting and by social worker."""
    claims = request[CLAIMS]
    query = CaseloadQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})
    today = uk_date(now(request.app[SETTINGS].clock_file))
    async with request.app[POOL].acquire() as conn:
        entries = await caseload(conn, claims, query, today)
    chosen = [e for e in entries if query.category is None or query.category in e.categories]
    is_vs = any(m.role in VIRTUAL_SCHOOL for m in claims.memberships)
    return Caseload(today=today, counts=_counts(entries), items=[_item(e) for e in chosen],
                    by_setting=_breakdown(entries, "setting_id") if is_vs else None,
                    by_social_worker=_breakdown(entries, "social_worker_id") if is_vs else None)


# ---- the PEPs read model ---------------------------------------------------------------------------------------


async def _on_status(ctx: MessageContext, data: PepStatusChanged) -> None:
    # status_on: the UK day of this change; submitted_on: of the latest submission (the QA clock counts from it).
    day = uk_date(ctx.envelope.occurred_at)
    submitted = day if data.status == "submitted" else None
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO peps (id, child_id, la_id, status, kind, term, academic_year, meeting_date, status_version, "
            "started_at, status_on, submitted_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
            "ON CONFLICT (id) DO UPDATE SET "
            "status = $4, kind = $5, term = $6, academic_year = $7, status_version = $9, status_on = $11, "
            "submitted_on = coalesce($12, peps.submitted_on), "
            "meeting_date = CASE WHEN peps.meeting_sequence < 0 THEN $8 "
            "ELSE peps.meeting_date END WHERE peps.status_version < $9",
            data.pep_id, data.child_id, data.la_id, data.status, data.kind, data.term, data.academic_year,
            data.meeting_date, data.version, ctx.envelope.occurred_at, day, submitted)


async def _on_meeting(ctx: MessageContext, data: PepMeetingChanged) -> None:
    async with ctx.effect() as conn:
        date_now = None if data.change == "cancelled" else data.meeting_date
        # A meeting event may arrive before the PEP's start: keep it, and the start fills in the rest.
        await conn.execute(
            "INSERT INTO peps (id, child_id, la_id, status, kind, term, academic_year, meeting_date, "
            "meeting_sequence, started_at) VALUES ($1, $2, $3, 'created', '', '', '', $4, $5, $6) "
            "ON CONFLICT (id) DO UPDATE SET meeting_date = $4, meeting_sequence = $5 "
            "WHERE peps.meeting_sequence < $5",
            data.pep_id, data.child_id, data.la_id, date_now, data.sequence, ctx.envelope.occurred_at)


def subscriptions() -> list[Subscription]:
    return [subscribe("delegation.caseload_peps", PepStatusChanged, _on_status),
            subscribe("delegation.caseload_meetings", PepMeetingChanged, _on_meeting)]
