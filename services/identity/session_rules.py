"""Each LA's own session rules over HTTP: its Virtual School sees them, its VS admin changes them; anyone outside
the LA's Virtual School gets 404, its other roles 403 on a change. The bounds are domain/session_rules.py's; which
rule a person follows is the SQL function session_rule_of (migrations/0004), asked on every request."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.identity import audit
from services.identity.domain.session_rules import rule_errors
from services.identity.problems import invalid_fields
from services.identity.session_events import access_changed
from services.identity.settings import IdentitySettings
from shared.api import identity as api
from shared.api.identity import SessionRules, SessionRulesOut
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, require_user, roles_at
from shared.errors import Problem
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, parse_body, path_uuid, serves

routes = web.RouteTableDef()


async def _virtual_school_la(request: web.Request, conn: asyncpg.Connection, change: bool) -> uuid.UUID:
    """The LA in the path, if the caller is at its Virtual School (404 otherwise, and for anything not an LA);
    changing needs its VS admin (403 for its other roles)."""
    require_user(request[CLAIMS])
    la_id = path_uuid(request, "la_id")
    held = roles_at(request[CLAIMS], str(la_id))
    if not held & VIRTUAL_SCHOOL_ROLES or await conn.fetchval(
            "SELECT type FROM organisations WHERE id = $1", la_id) != "local_authority":
        raise not_found("organisation")
    if change and "vs_admin" not in held:
        raise Problem(403, "Only the Virtual School's administrators can change this", code="forbidden")
    return la_id


async def _rules_of(conn: asyncpg.Connection, la_id: uuid.UUID, settings: IdentitySettings) -> SessionRulesOut:
    row = await conn.fetchrow(
        "SELECT r.idle_minutes, r.warning_minutes, r.version, r.changed_at, "
        "u.given_name || ' ' || u.family_name AS changed_by_name "
        "FROM session_rules r JOIN users u ON u.id = r.changed_by WHERE r.la_id = $1", la_id)
    if row is None:
        # The default, in the LA's minutes (whole minutes: the default is set in seconds).
        unit = settings.session_rule_unit_seconds
        return SessionRulesOut(idle_minutes=settings.session_idle_seconds // unit,
                               warning_minutes=settings.session_warning_seconds // unit, set_by_la=False)
    return SessionRulesOut(set_by_la=True, **dict(row))


@serves(routes, api.GET_SESSION_RULES)
async def get_session_rules(request: web.Request) -> SessionRulesOut:
    settings = request.app[SETTINGS]
    assert isinstance(settings, IdentitySettings)
    async with request.app[POOL].acquire() as conn:
        la_id = await _virtual_school_la(request, conn, change=False)
        return await _rules_of(conn, la_id, settings)


@serves(routes, api.SET_SESSION_RULES)
async def set_session_rules(request: web.Request) -> SessionRulesOut:
    """The LA's VS admin sets them; each version is kept with who set it and when, and audited."""
    settings = request.app[SETTINGS]
    assert isinstance(settings, IdentitySettings)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        la_id = await _virtual_school_la(request, conn, change=True)  # who may, before what they sent
        body = await parse_body(request, SessionRules)
        actor = uuid.UUID(request[CLAIMS].sub)
        if errors := rule_errors(body.idle_minutes, body.warning_minutes):
            raise invalid_fields(*errors)
        row = await conn.fetchrow(
            "INSERT INTO session_rules (la_id, idle_minutes, warning_minutes, changed_by) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (la_id) DO UPDATE SET idle_minutes = $2, warning_minutes = $3, changed_by = $4, "
            "changed_at = now(), version = session_rules.version + 1 RETURNING version, changed_at",
            la_id, body.idle_minutes, body.warning_minutes, actor)
        await conn.execute(
            "INSERT INTO session_rule_versions (la_id, version, idle_minutes, warning_minutes, changed_by, changed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)", la_id, row["version"], body.idle_minutes, body.warning_minutes,
            actor, row["changed_at"])
        await audit.record(conn, "session_rules_changed", actor_id=actor, organisation_id=la_id,
                           details={"idle_minutes": body.idle_minutes, "warning_minutes": body.warning_minutes})
        # Everyone working for the LA, at it or its settings, may now have another idle timeout: the gateways drop
        # every session they hold (a rare change; they ask identity again on each person's next request).
        await access_changed(conn, None, "session_rules_changed")
        return await _rules_of(conn, la_id, settings)
