"""Reviews: a Virtual School caseworker rates a submitted PEP's areas and overall by the LA's framework, then
approves it or returns it with a reason; a second level (approver or admin) confirms or changes the overall grade.

Deciding is the only way a PEP is approved or returned: this service checks the caller is the Virtual School of
the child's LA, that the review is rated (every area and overall) and that the LA's framework lets that overall
grade be approved, then takes the action at pep's internal `POST /peps/{id}/actions/approve|return` as itself
(service:qa, with the reviewer's id), which pep accepts from qa alone. pep's lifecycle stays the one truth: if pep
refuses, nothing is recorded here. A return's words become the Designated
Teacher's amend task (delegation follows pep's event). Every save, decision and confirmation is a new row of an
append-only table.

Two-level QA, where the LA turns it on (Welfare Call: the caseworker, then the VS Head; Kent: the ESO, then the
AH): a first reviewer's approval is kept as stage `reviewed` and the PEP stays submitted; delegation gives the LA's
approvers a "Second QA review" task from the event. A VS approver or administrator other than the first reviewer
then approves it (with the first reviewer's grade or another) or returns it with a reason; only then is pep told.
A first reviewer's return still returns the PEP at once. Without the second level, an approver or the VS admin may
confirm or change the grade after the approval (`confirm`); with it, confirming a `reviewed` review is the second
level's approval. Who sees a review: whoever pep lets see the child and its QA (the Virtual School, the social
worker, the DT, the IRO); never carers or setting staff, who get 404 as if there were none.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from aiohttp import web

from services.qa.domain import reviews as rules
from services.qa.domain.frameworks import DEFAULT_FRAMEWORK, FRAMEWORKS, Framework, Grade
from services.qa.pep_client import ask, child_seen_with_qa
from shared.api import qa as api
from shared.api.peps import QaDecision
from shared.api.qa import (
    AreaOut,
    AreaRatingOut,
    ConfirmIn,
    DecideIn,
    FrameworkChoice,
    FrameworkChoiceIn,
    FrameworkOut,
    GradeOut,
    LaQaFramework,
    OverallOut,
    PepReview,
    Queue,
    QueueItem,
    ReviewDraftIn,
    ReviewOut,
)
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, require_user, roles_at
from shared.bus import add_event
from shared.contracts import ReviewDecided, ReviewedArea
from shared.db import DATABASE_AWAY_OR_CLOSED, until_database_back
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, parse_body, path_uuid, serves

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
AS_QA = Claims(sub="service:qa")  # how qa takes a decided review's action at pep (pep accepts it from qa alone)
SECOND_LEVEL = frozenset({"vs_approver", "vs_admin"})


def invalid(problems: list[rules.Invalid]) -> Problem:
    names = ", ".join(p.field for p in problems)
    return Problem(422, "The request has invalid fields", f"Check these fields: {names}", code="validation",
                   errors=[FieldError(field=p.field, message=p.message) for p in problems])


# ---- frameworks --------------------------------------------------------------------------------------------------


def _grades(grades: list[Grade]) -> list[GradeOut]:
    return [GradeOut(key=g.key, label=g.label, description=g.description, awarded_only=g.awarded_only)
            for g in grades]


def framework_out(f: Framework) -> FrameworkOut:
    """A framework as the API shows it: the rule's inner workings (Gold's grades, all_must_meet's) stay here."""
    return FrameworkOut(
        key=f.key, name=f.name, source=f.source, scale=_grades(f.scale),
        area_scale=_grades(f.area_scale) if f.area_scale is not None else None, not_applicable=f.not_applicable,
        overall=OverallOut(kind=f.overall.kind, description=f.overall.description,
                           descriptors=dict(f.overall.descriptors)),
        areas=[AreaOut(key=a.key, title=a.title, descriptors=dict(a.descriptors)) for a in f.areas],
        gold_within_working_days=f.gold.within_working_days if f.gold else None,
        approvable=list(f.approvable) if f.approvable is not None else None)


def framework_of(key: str | None) -> Framework:
    """The framework an LA's settings name (the default where it chose none)."""
    return FRAMEWORKS.get(key or DEFAULT_FRAMEWORK, FRAMEWORKS[DEFAULT_FRAMEWORK])


async def la_framework(conn: asyncpg.Connection, la_id: uuid.UUID) -> Framework:
    return framework_of(await conn.fetchval("SELECT framework_key FROM la_settings WHERE la_id = $1", la_id))


def _la_or_404(claims: Claims, raw: str, roles: frozenset[str] = VIRTUAL_SCHOOL_ROLES) -> uuid.UUID:
    """An LA where the caller has one of these roles; any other answers 404."""
    try:
        la_id = uuid.UUID(raw)
    except ValueError:
        raise not_found("organisation") from None
    if not roles_at(claims, str(la_id)) & roles:
        raise not_found("organisation")
    return la_id


async def _la_qa_framework(request: web.Request, la_id: uuid.UUID) -> LaQaFramework:
    async with request.app[POOL].acquire() as conn:
        framework = await la_framework(conn, la_id)
        row = await conn.fetchrow("SELECT changed_at, two_level FROM la_settings WHERE la_id = $1", la_id)
    return LaQaFramework(la_id=la_id, framework=framework_out(framework),
                         available=[FrameworkChoice(key=f.key, name=f.name) for f in FRAMEWORKS.values()],
                         changed_at=row["changed_at"] if row else None, two_level=bool(row and row["two_level"]))


async def la_two_level(conn: asyncpg.Connection, la_id: uuid.UUID) -> bool:
    """Whether the LA's QA has a second level (off unless its VS admin turns it on)."""
    return bool(await conn.fetchval("SELECT two_level FROM la_settings WHERE la_id = $1", la_id))


@serves(routes, api.GET_QA_FRAMEWORK)
async def get_framework(request: web.Request) -> LaQaFramework:
    return await _la_qa_framework(request, _la_or_404(request[CLAIMS], request.match_info["la_id"]))


@serves(routes, api.CHOOSE_QA_FRAMEWORK)
async def choose_framework(request: web.Request) -> LaQaFramework:
    """The LA's VS admin chooses its framework, and whether its QA has a second level; reviews already written
    keep the framework they were written with, and a review waiting for the second level still waits for it."""
    claims = request[CLAIMS]
    la_id = _la_or_404(claims, request.match_info["la_id"])
    if "vs_admin" not in roles_at(claims, str(la_id)):
        raise Problem(403, "Only the Virtual School's administrator chooses its QA framework", code="forbidden")
    body = await parse_body(request, FrameworkChoiceIn)
    if body.framework is not None and body.framework not in FRAMEWORKS:
        raise invalid([rules.Invalid("framework", "Choose one of: " + ", ".join(FRAMEWORKS))])
    async with request.app[POOL].acquire() as conn:
        await conn.execute(
            "INSERT INTO la_settings (la_id, framework_key, two_level, changed_by) VALUES ($1, coalesce($2, $5), "
            "coalesce($3, false), $4) ON CONFLICT (la_id) DO UPDATE SET framework_key = coalesce($2, "
            "la_settings.framework_key), two_level = coalesce($3, la_settings.two_level), changed_by = $4, "
            "changed_at = now()", la_id, body.framework, body.two_level, uuid.UUID(require_user(claims)),
            DEFAULT_FRAMEWORK)
    return await _la_qa_framework(request, la_id)


# ---- the queue ---------------------------------------------------------------------------------------------------


def _name(given: str | None, family: str | None) -> str | None:
    return f"{given} {family}" if given else None


@serves(routes, api.QA_QUEUE)
async def queue(request: web.Request) -> Queue:
    """PEPs of the caller's LAs awaiting review (submitted), oldest submission first: the Virtual School's only."""
    claims = request[CLAIMS]
    las = {m.organisation_id for m in claims.memberships if m.role in VIRTUAL_SCHOOL_ROLES}
    if raw := request.query.get("la_id", "").strip():
        las = {str(_la_or_404(claims, raw))}
    if not las:
        raise Problem(403, "The QA queue is the Virtual School's", code="forbidden")
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT p.*, c.given_name, c.family_name, r.overall_grade AS draft_grade, r.framework_key, r.stage "
            "FROM peps p LEFT JOIN children c ON c.id = p.child_id "
            "LEFT JOIN LATERAL (SELECT overall_grade, framework_key, stage FROM reviews WHERE pep_id = p.id "
            "AND submitted_at = p.submitted_at ORDER BY id DESC LIMIT 1) r ON true "
            "WHERE p.la_id = ANY($1::uuid[]) AND p.status = 'submitted' AND p.submitted_at IS NOT NULL "
            "ORDER BY p.submitted_at, p.id", [uuid.UUID(la) for la in las])
    items = []
    for r in rows:
        framework = FRAMEWORKS.get(r["framework_key"] or "", FRAMEWORKS[DEFAULT_FRAMEWORK])
        items.append(QueueItem(pep_id=r["id"], child_id=r["child_id"],
                               child_name=_name(r["given_name"], r["family_name"]), la_id=r["la_id"],
                               setting_id=r["setting_id"], kind=r["kind"], term=r["term"],
                               academic_year=r["academic_year"], meeting_date=r["meeting_date"],
                               submitted_at=r["submitted_at"], draft_grade=r["draft_grade"],
                               draft_label=framework.label(r["draft_grade"]),
                               waiting_for="second_review" if r["stage"] == "reviewed" else "first_review"))
    return Queue(items=items)


# ---- a PEP's review ----------------------------------------------------------------------------------------------


def _review(row: asyncpg.Record) -> ReviewOut:
    framework = FRAMEWORKS.get(row["framework_key"], FRAMEWORKS[DEFAULT_FRAMEWORK])
    areas = row["areas"] or {}
    rated = [(a, areas.get(a.key) or {}) for a in framework.areas]
    return ReviewOut(
        id=row["id"], stage=row["stage"], framework_key=framework.key,
        areas=[AreaRatingOut(key=a.key, title=a.title, grade=given.get("grade"),
                             grade_label=framework.label(given.get("grade")), feedback=given.get("feedback"))
               for a, given in rated],
        overall_grade=row["overall_grade"], overall_label=framework.label(row["overall_grade"]),
        awarded_grade=row["awarded_grade"], awarded_label=framework.label(row["awarded_grade"]),
        overall_feedback=row["overall_feedback"], outcome=row["outcome"], reason=row["reason"], note=row["note"],
        meeting_date=row["meeting_date"], submitted_at=row["submitted_at"], by_user=row["by_user"],
        by_name=row["by_name"], at=row["at"])


async def _latest(conn: asyncpg.Connection, pep_id: uuid.UUID, submitted_at: datetime | None) -> asyncpg.Record | None:
    if submitted_at is None:
        return None
    return await conn.fetchrow("SELECT * FROM reviews WHERE pep_id = $1 AND submitted_at = $2 ORDER BY id DESC "
                               "LIMIT 1", pep_id, submitted_at)


# Everything a PEP's review page shows from qa's own tables, in one round trip (issue 19): qa's record of the PEP
# and its latest submission (`known_*`), the last word on each submission's review (newest first), the first
# level's review of the latest where two-level QA has one (`first_level`), each with its author's name, and the LA's
# framework and second-level setting. One row even with no review at all (its review columns NULL).
REVIEW_READ_SQL = """
WITH known AS (SELECT * FROM peps WHERE id = $1),
shown AS (SELECT DISTINCT ON (submitted_at) *, false AS first_level FROM reviews WHERE pep_id = $1
          ORDER BY submitted_at DESC, id DESC),
first AS (SELECT *, true AS first_level FROM reviews WHERE pep_id = $1 AND stage = 'reviewed'
          AND submitted_at = (SELECT submitted_at FROM known) ORDER BY id DESC LIMIT 1),
given AS (SELECT * FROM shown UNION ALL SELECT * FROM first)
SELECT k.submitted_at AS known_submitted_at, k.status AS known_status, k.meeting_date AS known_meeting_date,
       s.framework_key AS la_framework_key, coalesce(s.two_level, false) AS la_two_level, g.*,
       u.given_name || ' ' || u.family_name AS by_name
FROM (SELECT 1) AS one LEFT JOIN known k ON true LEFT JOIN la_settings s ON s.la_id = $2 LEFT JOIN given g ON true
LEFT JOIN users u ON u.id = g.by_user
ORDER BY g.first_level, g.submitted_at DESC
"""


@dataclass
class _Read:
    """What REVIEW_READ_SQL found: qa's record of the PEP's latest submission (None until qa has heard of one), the
    last word on each submission's review, newest first, the latest one's first level, and the LA's settings."""

    submitted_at: datetime | None
    status: str | None
    meeting_date: date | None
    shown: list[Any]
    first: Any
    la_framework: Framework
    two_level: bool

    @property
    def current(self) -> Any:
        """The latest submission's review as it stands (its newest row), if any."""
        return next((r for r in self.shown if r["submitted_at"] == self.submitted_at), None)


async def _read(conn: asyncpg.Connection, pep_id: uuid.UUID, la_id: uuid.UUID) -> _Read:
    found = await conn.fetch(REVIEW_READ_SQL, pep_id, la_id)
    head = found[0]
    return _Read(submitted_at=head["known_submitted_at"], status=head["known_status"],
                 meeting_date=head["known_meeting_date"],
                 shown=[r for r in found if r["id"] is not None and not r["first_level"]],
                 first=next((r for r in found if r["id"] is not None and r["first_level"]), None),
                 la_framework=framework_of(head["la_framework_key"]), two_level=head["la_two_level"])


async def _seen(request: web.Request, claims: Claims, pep_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    """pep's view of the PEP and its child for this caller: 404 unless they see QA."""
    pep = await ask(request, "GET", f"/peps/{pep_id}", claims)
    child = await child_seen_with_qa(request, claims, pep["child_id"], "PEP")
    return pep, child


@serves(routes, api.GET_REVIEW)
async def get_review(request: web.Request) -> PepReview:
    """The review of the PEP's latest submission, and every earlier one (the last word on each), newest first."""
    return await _pep_review(request, path_uuid(request, "pep_id"))


async def _pep_review(request: web.Request, pep_id: uuid.UUID) -> PepReview:
    claims = request[CLAIMS]
    pep, child = await _seen(request, claims, pep_id)
    async with request.app[POOL].acquire() as conn:
        read = await _read(conn, pep_id, uuid.UUID(child["la_id"]))
    return _answer(claims, pep_id, pep, child, read)


def _answer(claims: Claims, pep_id: uuid.UUID, pep: dict[str, Any], child: dict[str, Any], read: _Read) -> PepReview:
    """The PEP's review as this caller sees it: pep's view of the PEP and child, and what qa read."""
    roles = roles_at(claims, child["la_id"])
    submitted_at, framework, rows, first = read.submitted_at, read.la_framework, read.shown, read.first
    current = read.current
    if current is not None:
        framework = FRAMEWORKS.get(current["framework_key"], framework)
    vs = bool(roles & VIRTUAL_SCHOOL_ROLES) and child["access"] == "virtual_school"
    stage = current["stage"] if current else None
    waiting = pep["status"] == "submitted" and submitted_at is not None
    return PepReview(
        pep_id=pep_id, child_id=pep["child_id"], child_name=_name(child.get("given_name"), child.get("family_name")),
        status=pep["status"], meeting_date=date.fromisoformat(pep["meeting_date"]) if pep.get("meeting_date") else None,
        submitted_at=submitted_at, framework=framework_out(framework),
        current=_review(current) if current else None,
        earlier=[_review(r) for r in rows if r is not current],
        can_review=vs and waiting and stage in (None, "draft"),
        can_decide=vs and waiting and stage == "draft",
        can_confirm=bool(roles & SECOND_LEVEL) and vs and stage in ("decided", "confirmed"),
        two_level=read.two_level or stage == "reviewed",
        waiting_for=("second_review" if stage == "reviewed" else "first_review") if waiting else None,
        first_review=_review(first) if first else None,
        can_second_review=bool(roles & SECOND_LEVEL) and vs and waiting and stage == "reviewed"
        and current is not None and str(current["by_user"]) != claims.sub)


async def _reviewer(request: web.Request, claims: Claims, pep_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    """pep's view of a submitted PEP and its child, for someone who reviews it for the Virtual School."""
    pep, child = await _seen(request, claims, pep_id)
    if child["access"] != "virtual_school" or not roles_at(claims, child["la_id"]) & VIRTUAL_SCHOOL_ROLES:
        raise Problem(403, "Only the Virtual School reviews a PEP", code="forbidden")
    if pep["status"] != "submitted":
        raise Problem(409, "This PEP is not waiting for review", f"It is {pep['status'].replace('_', ' ')}.",
                      code="not_submitted")
    return pep, child


def _not_yet_known() -> Problem:
    return Problem(409, "This PEP's submission has not reached QA yet", "Try again in a moment.",
                   code="not_yet_known", headers={"Retry-After": "1"})


def _decided() -> Problem:
    return Problem(409, "This submission has been decided", "The review can change when the PEP is submitted again.",
                   code="decided")


async def _reviewable(request: web.Request, claims: Claims, pep_id: uuid.UUID, conn: asyncpg.Connection
                      ) -> tuple[dict[str, Any], asyncpg.Record]:
    """A submitted PEP the caller reviews for the Virtual School, with qa's record of its submission (locked)."""
    _, child = await _reviewer(request, claims, pep_id)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa-review-{pep_id}")
    known = await conn.fetchrow("SELECT * FROM peps WHERE id = $1", pep_id)
    if known is None or known["status"] != "submitted" or known["submitted_at"] is None:
        raise _not_yet_known()
    return child, known


async def _insert(conn: asyncpg.Connection, known: Mapping[str, Any], stage: str, framework: Framework,
                  areas: dict[str, Any], overall: str | None, feedback: str | None, by: str, *,
                  outcome: str | None = None, reason: str | None = None, note: str | None = None) -> asyncpg.Record:
    awarded = framework.awarded_grade(overall, known["meeting_date"], known["submitted_at"])
    row = await conn.fetchrow(
        "INSERT INTO reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, framework_key, areas, "
        "overall_grade, awarded_grade, overall_feedback, outcome, reason, note, by_user) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *",
        known["id"], known["child_id"], known["la_id"], known["submitted_at"], known["meeting_date"], stage,
        framework.key, areas, overall, awarded, feedback, outcome, reason, note, uuid.UUID(by))
    assert row is not None
    return row


# A draft kept, with its author's name, in one statement (migration 0016): after the read, the save's second round
# trip (issue 19).
SAVE_DRAFT_SQL = ("SELECT r.*, u.given_name || ' ' || u.family_name AS by_name FROM save_review_draft($1, $2, $3, $4, "
                  "$5, $6, $7, $8, $9) r LEFT JOIN users u ON u.id = r.by_user")
SAVE_TRIES = 3  # a save whose read another submission or framework overtook reads again (rare: a race)


@serves(routes, api.SAVE_REVIEW)
async def save_draft(request: web.Request) -> PepReview:
    """A caseworker's ratings so far (each save kept): per area a grade and feedback, overall a grade and feedback.
    Two round trips (issue 19): the review as it stands, read as the answer reads it, then the draft kept by
    save_review_draft under the review's lock, which finds the submission as read or refuses; the answer is the read
    with the new draft in its place."""
    claims = request[CLAIMS]
    me = require_user(claims)
    pep_id = path_uuid(request, "pep_id")
    body = await parse_body(request, ReviewDraftIn)
    pep, child = await _reviewer(request, claims, pep_id)
    for _ in range(SAVE_TRIES):
        async with request.app[POOL].acquire() as conn:
            read = await _read(conn, pep_id, uuid.UUID(child["la_id"]))
            if read.status != "submitted" or read.submitted_at is None:
                raise _not_yet_known()
            latest = read.current
            if latest is not None and latest["stage"] != "draft":
                raise _decided()
            framework = FRAMEWORKS.get(latest["framework_key"], FRAMEWORKS[DEFAULT_FRAMEWORK]) if latest \
                else read.la_framework
            areas = {k: v.model_dump(exclude_none=True) for k, v in body.areas.items() if v.grade or v.feedback}
            if problems := rules.check_draft(framework, areas, body.overall_grade):
                raise invalid(problems)
            overall = rules.overall_by_rule(framework, areas, body.overall_grade)
            awarded = framework.awarded_grade(overall, read.meeting_date, read.submitted_at)
            try:
                row = await conn.fetchrow(SAVE_DRAFT_SQL, pep_id, read.submitted_at, read.meeting_date,
                                          framework.key, areas, overall, awarded, body.overall_feedback or None,
                                          uuid.UUID(me))
            except asyncpg.exceptions.RaiseError as exc:
                if exc.message == "changed":
                    continue
                if exc.message == "decided":
                    raise _decided() from None
                if exc.message == "not_yet_known":
                    raise _not_yet_known() from None
                raise
            assert row is not None
        read.shown = sorted([row, *(r for r in read.shown if r["submitted_at"] != read.submitted_at)],
                            key=lambda r: r["submitted_at"], reverse=True)
        return _answer(claims, pep_id, pep, child, read)
    raise Problem(409, "The review changed while it was being saved", "Look at it again and save once more.",
                  code="changed")


async def _announce(conn: asyncpg.Connection, pep: Mapping[str, Any], outcome: str, framework: Framework,
                    row: asyncpg.Record, level: int = 1) -> None:
    """Tell the others the grade the PEP shows now (notify puts it in the signed-off email), with the whole review
    in the framework's words (pep prints it in the Full PEP; delegation gives the second level its task)."""
    areas = row["areas"] or {}
    await add_event(conn, "qa", ReviewDecided(
        pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"], outcome=outcome, grade=row["awarded_grade"],
        grade_label=framework.label(row["awarded_grade"]), review_id=row["id"], level=level,
        framework_key=framework.key, framework_name=framework.name, overall_grade=row["overall_grade"],
        overall_label=framework.label(row["overall_grade"]), overall_feedback=row["overall_feedback"],
        areas=[ReviewedArea(key=a.key, title=a.title, grade=(areas.get(a.key) or {}).get("grade"),
                            grade_label=framework.label((areas.get(a.key) or {}).get("grade")),
                            feedback=(areas.get(a.key) or {}).get("feedback")) for a in framework.areas],
        reason=row["reason"], submitted_at=row["submitted_at"], by_user=row["by_user"]),
        tenant=str(pep["la_id"]))


@serves(routes, api.DECIDE_REVIEW)
async def decide(request: web.Request) -> PepReview:
    """Approve, or return with a reason: recorded here only if pep takes the action for the caller. With two-level
    QA, a first reviewer's approval is recorded and waits for the second level, which decides here too."""
    pep_id = path_uuid(request, "pep_id")
    await _decide(request, pep_id, await parse_body(request, DecideIn))
    return await _pep_review(request, pep_id)


async def _decide(request: web.Request, pep_id: uuid.UUID, body: DecideIn) -> None:
    """The decision kept before pep is asked (a pending decision, migration 0017), then written once pep took the
    action: whatever moment a qa process dies, the decision pep took is recorded, here or by pep's status event
    (`finalise_pending`, from services/qa/readmodels.py). A first reviewer's approval that waits for the second
    level asks pep nothing and is recorded at once."""
    claims = request[CLAIMS]
    me = require_user(claims)
    if body.outcome == "return" and not body.reason:
        raise invalid([rules.Invalid("reason", "Say what the school needs to change")])
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        child, known = await _reviewable(request, claims, pep_id, conn)
        second_level = bool(roles_at(claims, child["la_id"]) & SECOND_LEVEL)
        decision = await _decision(conn, known, body, me, second_level=second_level,
                                   two_level=await la_two_level(conn, known["la_id"]))
        if decision.waits:
            row = await _write_decision(conn, known, decision.review, "reviewed", "reviewed", decision.framework,
                                        decision.overall, me, reason=body.reason, note=body.note, level=1)
            log.info("pep reviewed", extra={"pep_id": str(pep_id), "outcome": body.outcome, "review_id": row["id"],
                                            "stage": row["stage"]})
            return
        pending = await conn.fetchval(
            "INSERT INTO pending_decisions (pep_id, submitted_at, review_id, outcome, reason, note, overall_grade, "
            "level, by_user) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id", pep_id,
            known["submitted_at"], decision.review["id"], body.outcome, body.reason, body.note, decision.overall,
            decision.level, uuid.UUID(me))
    try:
        await ask(request, "POST", f"/peps/{pep_id}/actions/{body.outcome}", AS_QA,
                  QaDecision(by_user=uuid.UUID(me), reason=decision.words).model_dump(mode="json", exclude_none=True))
    except Problem as problem:
        if problem.status < 500:
            # pep refused: its problem is ours and nothing is decided. Unreachable or failing (5xx), pep may have
            # taken it all the same: the decision stays pending, for pep's event (or a later decision) to settle.
            await pool.execute("DELETE FROM pending_decisions WHERE id = $1", pending)
        raise
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await finalise_pending(conn, pep_id, pending=pending)
    except DATABASE_AWAY_OR_CLOSED:
        # pep took the action, then our commit was cut off (Postgres restarting): record it once the database is
        # back, so the answer shows it (pep's event would also record it, whichever comes first).
        await _record_after_pep_took_it(request, pep_id, body, me)
        return
    log.info("pep reviewed", extra={"pep_id": str(pep_id), "outcome": body.outcome,
                                    "review_id": row["id"] if row else None, "stage": "decided"})


def _approvable(framework: Framework, areas: dict[str, Any], overall: str | None) -> None:
    """Approved only with a rated review (every area, and overall) whose overall grade the framework approves."""
    if missing := rules.missing_for_approval(framework, areas, overall):
        raise Problem(422, "Rate the PEP before approving it", "A PEP is approved only when its review gives "
                      f"every area a rating and the PEP an overall rating: {len(missing)} still to give.",
                      code="not_rated", errors=[FieldError(field=p.field, message=p.message) for p in missing])
    if refused := rules.refused_approval(framework, overall):
        raise Problem(422, f"A PEP rated “{framework.label(overall)}” cannot be approved",
                      framework.approvable_because or refused.message, code="not_approvable",
                      errors=[FieldError(field=refused.field, message=refused.message)])


@dataclass
class _Decision:
    """A decision checked and worked out, before anything is written: the review row it decides on (the latest of
    the submission: a draft, or the first level's), its framework, the overall grade decided with, the level, whether
    it waits for the second level (and so is not taken at pep), and the words pep's return takes."""

    review: asyncpg.Record
    framework: Framework
    overall: str | None
    level: int
    waits: bool
    words: str | None


async def _decision(conn: asyncpg.Connection, known: asyncpg.Record, body: DecideIn, me: str, *,
                    second_level: bool, two_level: bool) -> _Decision:
    """The decision this request asks for, or the problem that refuses it."""
    latest = await _latest(conn, known["id"], known["submitted_at"])
    if latest is None:
        raise Problem(422, f"Rate the PEP before {'approving' if body.outcome == 'approve' else 'returning'} it",
                      "Give each area a rating and the PEP an overall rating, and save them: a PEP is approved or "
                      "returned only by its review.", code="not_rated")
    if latest["stage"] not in ("draft", "reviewed"):
        raise Problem(409, "This submission has been decided", code="decided")
    framework = FRAMEWORKS.get(latest["framework_key"], FRAMEWORKS[DEFAULT_FRAMEWORK])
    areas, overall = latest["areas"] or {}, latest["overall_grade"]
    level = 1
    if latest["stage"] == "reviewed":
        level = 2
        overall = _second_level_grade(framework, areas, latest, body, me, second_level)
    elif body.overall_grade is not None or body.note is not None:
        raise invalid([rules.Invalid("overall_grade" if body.overall_grade is not None else "note",
                                     "Only the second level changes the grade or adds a note when deciding: "
                                     "save the ratings first")])
    if body.outcome == "approve":
        _approvable(framework, areas, overall)
    words = rules.return_words(framework, body.reason or "", areas, overall, latest["overall_feedback"]) \
        if body.outcome == "return" else None
    return _Decision(review=latest, framework=framework, overall=overall, level=level,
                     waits=body.outcome == "approve" and level == 1 and two_level, words=words)


async def _write_decision(conn: asyncpg.Connection, known: Mapping[str, Any], review: Mapping[str, Any], stage: str,
                          outcome: str, framework: Framework, overall: str | None, by: str, *, reason: str | None,
                          note: str | None, level: int) -> asyncpg.Record:
    """The review as decided (a new row: the ratings of `review`, the overall grade decided with), and the event
    telling the others, in the caller's transaction."""
    row = await _insert(conn, known, stage, framework, review["areas"] or {}, overall, review["overall_feedback"], by,
                        outcome="approve" if outcome == "reviewed" else outcome, reason=reason, note=note)
    await _announce(conn, known, outcome, framework, row, level)
    return row


# A pending decision (the one given, or the newest for an outcome by a reviewer) with what writing it takes: qa's
# record of the PEP, the review row it decides on, and the stage its submission's review has reached.
PENDING_SQL = """
SELECT p.*, k.child_id, k.la_id, k.meeting_date, r.framework_key, r.areas, r.overall_feedback,
       (SELECT stage FROM reviews WHERE pep_id = p.pep_id AND submitted_at = p.submitted_at ORDER BY id DESC LIMIT 1)
       AS latest_stage
FROM pending_decisions p JOIN peps k ON k.id = p.pep_id JOIN reviews r ON r.id = p.review_id
WHERE p.pep_id = $1 AND ($2::bigint IS NULL OR p.id = $2) AND ($3::text IS NULL OR p.outcome = $3)
  AND ($4::uuid IS NULL OR p.by_user = $4)
ORDER BY p.id DESC LIMIT 1
"""


async def finalise_pending(conn: asyncpg.Connection, pep_id: uuid.UUID, *, pending: int | None = None,
                           outcome: str | None = None, by_user: uuid.UUID | None = None) -> asyncpg.Record | None:
    """Once pep took a pending decision's action: the decided review and its event, in the caller's transaction,
    under the review's lock (the request that asked pep and pep's status event may both get here; one writes).
    The pending decision is the one given, or the newest for this outcome by this reviewer. Nothing when there is
    none (already written, or pep refused it) or its submission's review is already decided. The decided review
    (None if this call wrote nothing)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa-review-{pep_id}")
    found = await conn.fetchrow(PENDING_SQL, pep_id, pending, outcome, by_user)
    if found is None:
        return None
    row = None
    if found["latest_stage"] in ("draft", "reviewed"):
        known = {"id": pep_id, "child_id": found["child_id"], "la_id": found["la_id"],
                 "submitted_at": found["submitted_at"], "meeting_date": found["meeting_date"]}
        framework = FRAMEWORKS.get(found["framework_key"], FRAMEWORKS[DEFAULT_FRAMEWORK])
        row = await _write_decision(conn, known, found, "decided", found["outcome"], framework,
                                    found["overall_grade"], str(found["by_user"]), reason=found["reason"],
                                    note=found["note"], level=found["level"])
    # Decided: no decision of this submission (or an earlier one) is pending any more.
    await conn.execute("DELETE FROM pending_decisions WHERE pep_id = $1 AND submitted_at <= $2", pep_id,
                       found["submitted_at"])
    return row


def _second_level_grade(framework: Framework, areas: dict[str, Any], first: asyncpg.Record, body: DecideIn,
                        me: str, second_level: bool) -> str | None:
    """The overall grade the second level decides with: the first reviewer's, or the one it changes it to. The
    second level is a VS approver or administrator, and someone other than the first reviewer."""
    if not second_level:
        raise Problem(403, "The second review is a Virtual School approver's or administrator's",
                      "The first review is done: this PEP is waiting for an approver.", code="forbidden")
    if str(first["by_user"]) == me:
        raise Problem(403, "Someone other than the first reviewer makes the second review",
                      "You approved this PEP at the first level.", code="same_reviewer")
    if body.overall_grade is None:
        return first["overall_grade"]  # type: ignore[no-any-return]
    if problems := rules.check_draft(framework, areas, body.overall_grade):
        raise invalid(problems)
    return body.overall_grade


async def _record_after_pep_took_it(request: web.Request, pep_id: uuid.UUID, body: DecideIn, me: str,
                                    patience: float = 60.0) -> None:
    """pep took the action and our commit was cut off: the pending decision written once the database is back
    (nothing if the commit did in fact happen, or pep's event wrote it first)."""
    async def record() -> None:
        async with request.app[POOL].acquire() as conn, conn.transaction():
            row = await finalise_pending(conn, pep_id, outcome=body.outcome, by_user=uuid.UUID(me))
            if row is not None:
                log.info("pep reviewed (recorded again after the database came back)",
                         extra={"pep_id": str(pep_id), "outcome": body.outcome, "review_id": row["id"]})

    await until_database_back(record, "pep took the action, QA's decision", {"pep_id": str(pep_id),
                              "outcome": body.outcome}, patience=patience)


@serves(routes, api.CONFIRM_REVIEW)
async def confirm(request: web.Request) -> PepReview:
    """The second level (an approver or the VS admin) confirms the overall grade of a decided review, or changes it.
    A review waiting for the second level (two-level QA) is approved by confirming it: that is the second level's
    decision, taken as `decide` takes it."""
    claims = request[CLAIMS]
    me = require_user(claims)
    pep_id = path_uuid(request, "pep_id")
    body = await parse_body(request, ConfirmIn)
    pep, child = await _seen(request, claims, pep_id)
    if child["access"] != "virtual_school" or not roles_at(claims, child["la_id"]) & SECOND_LEVEL:
        raise Problem(403, "A Virtual School approver or administrator confirms the rating", code="forbidden")
    async with request.app[POOL].acquire() as conn:
        known = await conn.fetchrow("SELECT * FROM peps WHERE id = $1", pep_id)
        latest = await _latest(conn, pep_id, known["submitted_at"] if known else None)
    if latest is not None and latest["stage"] == "reviewed":
        await _decide(request, pep_id, DecideIn(outcome="approve", overall_grade=body.overall_grade, note=body.note))
        return await _pep_review(request, pep_id)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa-review-{pep_id}")
        known = await conn.fetchrow("SELECT * FROM peps WHERE id = $1", pep_id)
        latest = await _latest(conn, pep_id, known["submitted_at"] if known else None)
        if known is None or latest is None or latest["stage"] in ("draft", "reviewed"):
            raise Problem(409, "There is no decided review to confirm", code="not_decided")
        framework = FRAMEWORKS.get(latest["framework_key"], FRAMEWORKS[DEFAULT_FRAMEWORK])
        if body.overall_grade not in framework.grade_keys:
            raise invalid([rules.Invalid("overall_grade", "Choose one of: " + ", ".join(
                str(framework.label(k)) for k in framework.grade_keys))])
        if latest["outcome"] == "approve" and (refused := rules.refused_approval(framework, body.overall_grade)):
            # An approved PEP cannot be given a grade its framework sends back: that would be approving it.
            raise Problem(422, f"An approved PEP cannot be rated “{framework.label(body.overall_grade)}”",
                          framework.approvable_because or refused.message, code="not_approvable",
                          errors=[FieldError(field=refused.field, message=refused.message)])
        row = await _insert(conn, known, "confirmed", framework, latest["areas"] or {}, body.overall_grade,
                            latest["overall_feedback"], me, outcome=latest["outcome"], reason=latest["reason"],
                            note=body.note)
        await _announce(conn, known, "confirm", framework, row, 2)
    return await _pep_review(request, pep_id)
