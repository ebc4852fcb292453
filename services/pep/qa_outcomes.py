"""The PEP's quality assurance as pep keeps it, so the Full PEP can carry it (Welfare Call) and the rating shows
where people look: qa announces every decision with the whole review in its framework's words
(qa.review.decided); pep keeps the newest per PEP (qa numbers its review rows, so an older event arriving late
never overwrites a newer one).

- the Full PEP prints each area's rating and feedback, the overall rating (Gold where awarded) and feedback
  (`outcome_of`, used by exports.py); the Termly PEP, shared with carers, never does;
- a child's profile lists each decided PEP's rating (`GET /children/{id}/pep-ratings`);
- the social worker's, DT's and IRO's home page shows the latest rating of each of their children's PEPs
  (`GET /pep-ratings`).
Only those who see QA (shared.authz.sees_qa: the Virtual School, the social worker, the DT, the IRO) read any of
it; carers and setting staff get 404, as for anything else of QA's.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web

from services.pep.child_access import child_or_404, ref_of
from services.pep.domain.access import access_to
from shared.api import qa as api
from shared.api.qa import PepRating, PepRatings
from shared.authz import not_found
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import ReviewDecided
from shared.service import POOL
from shared.web import CLAIMS, path_uuid, serves

routes = web.RouteTableDef()
DECIDED = ("approve", "return", "confirm")  # a rating the PEP shows; `reviewed` still waits for the second level
HOME_READERS = frozenset({"social_worker", "designated_teacher", "iro"})
HOME_LIMIT = 50


async def _on_review(ctx: MessageContext, data: ReviewDecided) -> None:
    if data.review_id is None:  # from before qa numbered its reviews: nothing to order it by
        return
    async with ctx.effect() as conn:
        # Only for a PEP pep holds (an erased child's PEP is gone, and its QA with it).
        await conn.execute(
            "INSERT INTO qa_outcomes (pep_id, child_id, review_id, outcome, level, framework_name, grade, grade_label, "
            "overall_grade, overall_label, overall_feedback, areas, reason, submitted_at, decided_at) "
            "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 WHERE EXISTS (SELECT 1 FROM peps "
            "WHERE id = $1) ON CONFLICT (pep_id) DO UPDATE SET review_id = $3, outcome = $4, level = $5, "
            "framework_name = $6, grade = $7, grade_label = $8, overall_grade = $9, overall_label = $10, "
            "overall_feedback = $11, areas = $12, reason = $13, submitted_at = $14, decided_at = $15 "
            "WHERE qa_outcomes.review_id < $3",
            data.pep_id, data.child_id, data.review_id, data.outcome, data.level, data.framework_name, data.grade,
            data.grade_label, data.overall_grade, data.overall_label, data.overall_feedback,
            [a.model_dump() for a in data.areas], data.reason, data.submitted_at, ctx.envelope.occurred_at)


def subscription() -> Subscription:
    return subscribe("pep.qa_outcomes", ReviewDecided, _on_review)


async def outcome_of(conn: asyncpg.Connection, pep_id: uuid.UUID) -> asyncpg.Record | None:
    """The PEP's latest QA outcome as qa announced it, if it has one."""
    return await conn.fetchrow("SELECT * FROM qa_outcomes WHERE pep_id = $1", pep_id)


def _rating(row: asyncpg.Record, child: Any = None) -> PepRating:
    name = f"{child['given_name']} {child['family_name']}" if child is not None else None
    return PepRating(pep_id=row["pep_id"], child_id=row["child_id"], child_name=name, kind=row["kind"],
                     term=row["term"], academic_year=row["academic_year"], status=row["status"], grade=row["grade"],
                     grade_label=row["grade_label"], outcome=row["outcome"], decided_at=row["decided_at"])


RATINGS_SQL = ("SELECT o.*, p.kind, p.term, p.academic_year, p.status FROM qa_outcomes o JOIN peps p ON p.id = "
               "o.pep_id WHERE o.outcome = ANY($2::text[]) ")


@serves(routes, api.CHILD_PEP_RATINGS)
async def child_ratings(request: web.Request) -> PepRatings:
    async with request.app[POOL].acquire() as conn:
        child, access = await child_or_404(conn, request[CLAIMS], path_uuid(request, "child_id"))
        if not access.sees_qa:
            raise not_found("child")
        rows = await conn.fetch(RATINGS_SQL + "AND o.child_id = $1 ORDER BY o.decided_at DESC", child["id"],
                                list(DECIDED))
    return PepRatings(items=[_rating(r) for r in rows])


@serves(routes, api.MY_PEP_RATINGS)
async def my_ratings(request: web.Request) -> PepRatings:
    """Each child the caller works with as their social worker, Designated Teacher or IRO: their latest rated PEP."""
    claims = request[CLAIMS]
    if claims.is_service:
        raise not_found("ratings")
    settings = [uuid.UUID(m.organisation_id) for m in claims.memberships if m.role == "designated_teacher"]
    async with request.app[POOL].acquire() as conn:
        children = await conn.fetch(
            "SELECT * FROM children WHERE social_worker_id = $1 OR iro_id = $1 OR setting_id = ANY($2::uuid[])",
            uuid.UUID(claims.sub), settings)
        mine = {c["id"]: c for c in children if (a := access_to(claims, ref_of(c))) is not None
                and a.via in HOME_READERS}
        rows = await conn.fetch(
            "SELECT DISTINCT ON (o.child_id) o.*, p.kind, p.term, p.academic_year, p.status FROM qa_outcomes o "
            "JOIN peps p ON p.id = o.pep_id WHERE o.outcome = ANY($2::text[]) AND o.child_id = ANY($1::uuid[]) "
            "ORDER BY o.child_id, o.decided_at DESC", list(mine), list(DECIDED))
    newest = sorted(rows, key=lambda r: r["decided_at"], reverse=True)[:HOME_LIMIT]
    return PepRatings(items=[_rating(r, mine[r["child_id"]]) for r in newest])
