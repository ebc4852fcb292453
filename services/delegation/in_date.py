"""In date, over HTTP: the percentage of an LA's children in care whose PEP is in date (domain/in_date.py, with the
clocks of domain/clocks.py), for the LA, by setting, social worker and QA caseworker, its trend by term, and the
children behind each figure with why each is not in date. Counted from delegation's read models: pep's children
and PEPs (`children`, `peps`) and who reviewed each PEP at the first level of QA (`pep_caseworkers`, kept here from
qa.review.decided). "Today" is the service's clock. The LA's Virtual School only; anyone else gets 404."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import date

import asyncpg
from aiohttp import web

from services.delegation import timescale_store
from services.delegation.domain.clocks import ChildFacts, PepFacts, in_date
from services.delegation.domain.in_date import (
    Counted,
    figure,
    in_care_on,
    overdue,
    percent,
    trend_days,
    trend_note,
)
from services.delegation.domain.timescales import Timescales
from shared.api.in_date import (
    GET_IN_DATE,
    LIST_IN_DATE_CHILDREN,
    InDate,
    InDateChild,
    InDateChildren,
    InDateChildrenQuery,
    InDateGroup,
    InDateReason,
    InDateTerm,
)
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import ReviewDecided
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.schedule import now
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, path_uuid, serves
from shared.workdays import uk_date

routes = web.RouteTableDef()


def _virtual_school(claims: Claims, la_id: uuid.UUID) -> None:
    if not roles_at(claims, str(la_id)) & VIRTUAL_SCHOOL_ROLES:
        raise not_found()


def _today(request: web.Request) -> date:
    return uk_date(now(request.app[SETTINGS].clock_file))


def _name(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given else None


class Children:
    """The LA's children in care now, with their PEPs, groups and the names of their people."""

    def __init__(self, config: Timescales, rows: list[asyncpg.Record], peps: dict[uuid.UUID, list[PepFacts]],
                 caseworkers: dict[uuid.UUID, asyncpg.Record]) -> None:
        self.config = config
        self.rows = {r["id"]: r for r in rows}
        self.caseworkers = caseworkers
        self.counted = [Counted(ChildFacts.of(r), peps.get(r["id"], []), {
            "setting": r["setting_id"], "social_worker": r["social_worker_id"],
            "caseworker": caseworkers[r["id"]]["caseworker_id"] if r["id"] in caseworkers else None}) for r in rows]

    def names(self, group: str) -> dict[uuid.UUID, str | None]:
        if group == "social_worker":
            return {r["social_worker_id"]: _name(r["sw_given"], r["sw_family"]) for r in self.rows.values()
                    if r["social_worker_id"] is not None}
        if group == "caseworker":
            return {r["caseworker_id"]: _name(r["given_name"], r["family_name"]) for r in self.caseworkers.values()}
        return {}


async def _children(conn: asyncpg.Connection, la_id: uuid.UUID) -> Children:
    config, _ = await timescale_store.current(conn, la_id)
    rows = await conn.fetch(
        "SELECT c.*, u.given_name AS sw_given, u.family_name AS sw_family FROM children c "
        "LEFT JOIN users u ON u.id = c.social_worker_id WHERE c.la_id = $1 AND c.in_care "
        "ORDER BY c.family_name, c.given_name, c.id", la_id)
    peps: dict[uuid.UUID, list[PepFacts]] = defaultdict(list)
    for p in await conn.fetch("SELECT p.* FROM peps p JOIN children c ON c.id = p.child_id "
                              "WHERE c.la_id = $1 AND c.in_care", la_id):
        peps[p["child_id"]].append(PepFacts.of(p))
    # The QA caseworker of each child: the first-level reviewer of their most recently reviewed PEP.
    caseworkers = {r["child_id"]: r for r in await conn.fetch(
        "SELECT DISTINCT ON (w.child_id) w.child_id, w.caseworker_id, u.given_name, u.family_name "
        "FROM pep_caseworkers w LEFT JOIN users u ON u.id = w.caseworker_id WHERE w.la_id = $1 "
        "ORDER BY w.child_id, w.review_id DESC", la_id)}
    return Children(config, list(rows), peps, caseworkers)


def _groups(found: Children, group: str, today_ok: dict[uuid.UUID, bool]) -> list[InDateGroup]:
    """Each group's figure, from whether each child counted today is in date (`today_ok`)."""
    members: dict[uuid.UUID | None, list[bool]] = defaultdict(list)
    for c in found.counted:
        if c.child.child_id in today_ok:
            members[c.groups[group]].append(today_ok[c.child.child_id])
    names = found.names(group)
    out = [InDateGroup(id=key, name=names.get(key) if key else None, children=len(oks), in_date=sum(oks),
                       percent=percent(sum(oks), len(oks))) for key, oks in members.items()]
    # The lowest share first: where the Virtual School is most needed.
    return sorted(out, key=lambda g: (g.percent if g.percent is not None else 101, g.name or "", str(g.id)))


def _in_date(found: Children, la_id: uuid.UUID, today: date) -> InDate:
    # Each child once for today (the LA's figure and every breakdown), then the LA's figure on each trend day.
    today_ok = {c.child.child_id: in_date(c.child, c.peps, found.config, today) for c in found.counted
                if in_care_on(c.child, today)}
    trend = []
    for term, day, current in trend_days(found.config, today):
        n, ok = figure(found.counted, found.config, day)
        trend.append(InDateTerm(term=term, as_of=day, current=current, children=n, in_date=ok, percent=percent(ok, n)))
    children, ok_today = len(today_ok), sum(today_ok.values())
    return InDate(la_id=la_id, today=today, children=children, in_date=ok_today, percent=percent(ok_today, children),
                  by_setting=_groups(found, "setting", today_ok),
                  by_social_worker=_groups(found, "social_worker", today_ok),
                  by_caseworker=_groups(found, "caseworker", today_ok), trend=trend,
                  trend_note=trend_note(found.config, today))


@serves(routes, GET_IN_DATE)
async def get_in_date(request: web.Request) -> InDate:
    la_id = path_uuid(request, "la_id")
    _virtual_school(request[CLAIMS], la_id)
    today = _today(request)
    async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        found = await _children(conn, la_id)
    # Pure counting, thousands of children times a few days: off the event loop, so the bus keeps its heartbeats.
    return await asyncio.to_thread(_in_date, found, la_id, today)


def _query(request: web.Request) -> InDateChildrenQuery:
    """The query as the operation declares it (a value that is not valid: 422 naming the field)."""
    return InDateChildrenQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})


def _child(found: Children, c: Counted, today: date) -> InDateChild:
    row = found.rows[c.child.child_id]
    worker = found.caseworkers.get(c.child.child_id)
    late = overdue(c.child, c.peps, found.config, today)
    return InDateChild(
        child_id=row["id"], child_name=f"{row['given_name']} {row['family_name']}", setting_id=row["setting_id"],
        social_worker_id=row["social_worker_id"], social_worker_name=_name(row["sw_given"], row["sw_family"]),
        caseworker_id=worker["caseworker_id"] if worker else None,
        caseworker_name=_name(worker["given_name"], worker["family_name"]) if worker else None,
        in_date=not late, reasons=[InDateReason(clock=k.key, label=k.label, due=k.due, explanation=k.explanation)
                                   for k in late])


def _listed(found: Children, la_id: uuid.UUID, query: InDateChildrenQuery, today: date) -> InDateChildren:
    chosen = [c for c in found.counted if in_care_on(c.child, today)
              and (query.group == "la" or c.groups[query.group] == query.id)]
    items = [_child(found, c, today) for c in chosen]
    ok = sum(i.in_date for i in items)
    shown = [i for i in items if not (query.not_in_date and i.in_date)]
    shown.sort(key=lambda i: i.in_date)  # stable: by name within each
    return InDateChildren(la_id=la_id, today=today, group=query.group, id=query.id,
                          name=found.names(query.group).get(query.id) if query.id else None,
                          children=len(items), in_date=ok, percent=percent(ok, len(items)), items=shown)


@serves(routes, LIST_IN_DATE_CHILDREN)
async def list_in_date_children(request: web.Request) -> InDateChildren:
    la_id = path_uuid(request, "la_id")
    _virtual_school(request[CLAIMS], la_id)
    query = _query(request)
    if query.group == "la" and query.id is not None:
        raise Problem(422, "Check the query", "Leave out the id for the whole LA's children.", code="validation",
                      errors=[FieldError(field="id", message="Leave out the id for the whole LA's children")])
    today = _today(request)
    async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        found = await _children(conn, la_id)
    return await asyncio.to_thread(_listed, found, la_id, query, today)


# ---- who reviewed each PEP (qa.review.decided) ------------------------------------------------------------------


async def _on_review(ctx: MessageContext, data: ReviewDecided) -> None:
    if data.review_id is None or data.by_user is None or data.level != 1:
        return  # nothing to order it by, no reviewer named, or the second level (not the caseworker)
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO pep_caseworkers (pep_id, child_id, la_id, review_id, caseworker_id) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (pep_id) DO UPDATE SET review_id = $4, caseworker_id = $5 "
            "WHERE pep_caseworkers.review_id < $4",
            data.pep_id, data.child_id, data.la_id, data.review_id, data.by_user)


def subscriptions() -> list[Subscription]:
    return [subscribe("delegation.in_date_reviewers", ReviewDecided, _on_review)]
