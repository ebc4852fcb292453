"""The parts of a PEP and the LA's rule for when it goes to quality assurance (Kent's "Submit Contribution").

The school submits its contribution and the social worker completes their section, each on their own; the rule
(domain/lifecycle.py: parts_needed) says which parts must be in before the PEP moves to submitted. Here: the SQL
of the parts that are in and of each LA's rule, and the LA's VS admin's operations to read and change the rule.
The submission itself is peps.py's (take_action)."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.pep.domain import lifecycle
from shared.api.peps import GET_SUBMISSION_SETTINGS, SET_SUBMISSION_SETTINGS, SubmissionSettings
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS, parse_body, path_uuid, serves

routes = web.RouteTableDef()


# ---- SQL ------------------------------------------------------------------------------------------------------


async def goes_to_qa(conn: asyncpg.Connection, la_id: uuid.UUID) -> str:
    rule = await conn.fetchval("SELECT goes_to_qa FROM submission_rules WHERE la_id = $1", la_id)
    return str(rule or lifecycle.DEFAULT_GOES_TO_QA)


async def parts_in(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    """The parts submitted, with who submitted each (their name, from identity's users)."""
    return await conn.fetch(
        "SELECT c.part, c.setting_id, c.submitted_at, c.submitted_by, u.given_name, u.family_name "
        "FROM pep_contributions c LEFT JOIN users u ON u.id = c.submitted_by WHERE c.pep_id = $1", pep_id)


async def record(conn: asyncpg.Connection, pep_id: uuid.UUID, part: str, setting_id: uuid.UUID | None,
                 by: uuid.UUID) -> None:
    """The part is in (again: a resubmission replaces who and when)."""
    await conn.execute(
        "INSERT INTO pep_contributions (pep_id, part, setting_id, submitted_by) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (pep_id, part) DO UPDATE SET setting_id = $3, submitted_by = $4, submitted_at = now()",
        pep_id, part, setting_id, by)


async def take_back(conn: asyncpg.Connection, pep_id: uuid.UUID, part: str) -> None:
    """QA returned the PEP to this part's writers: it is no longer in until they submit it again."""
    await conn.execute("DELETE FROM pep_contributions WHERE pep_id = $1 AND part = $2", pep_id, part)


# ---- the LA's rule ---------------------------------------------------------------------------------------------


def _virtual_school_la(request: web.Request, roles: frozenset[str]) -> uuid.UUID:
    """The LA in the path, if the caller holds one of these roles there; 404 for anyone outside its Virtual School,
    403 for its other VS roles."""
    la_id = path_uuid(request, "la_id")
    held = roles_at(request[CLAIMS], str(la_id))
    if not held & VIRTUAL_SCHOOL_ROLES:
        raise not_found("organisation")
    if not held & roles:
        raise Problem(403, "Only the Virtual School's administrators can change this", code="forbidden")
    return la_id


@serves(routes, GET_SUBMISSION_SETTINGS)
async def get_settings(request: web.Request) -> SubmissionSettings:
    la_id = _virtual_school_la(request, VIRTUAL_SCHOOL_ROLES)
    async with request.app[POOL].acquire() as conn:
        return SubmissionSettings(goes_to_qa=await goes_to_qa(conn, la_id))  # type: ignore[arg-type]


@serves(routes, SET_SUBMISSION_SETTINGS)
async def put_settings(request: web.Request) -> SubmissionSettings:
    """The LA's VS admin chooses when its PEPs go to QA."""
    la_id = _virtual_school_la(request, frozenset({"vs_admin"}))
    body = await parse_body(request, SubmissionSettings)
    async with request.app[POOL].acquire() as conn:
        await conn.execute(
            "INSERT INTO submission_rules (la_id, goes_to_qa, changed_by) VALUES ($1, $2, $3) ON CONFLICT (la_id) "
            "DO UPDATE SET goes_to_qa = $2, changed_by = $3, changed_at = now()",
            la_id, body.goes_to_qa, uuid.UUID(request[CLAIMS].sub))
    return body
