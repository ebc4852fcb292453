"""The access log as the Virtual School reads it: who reached a child's record and PEPs (see `reached`)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
from aiohttp import web

from services.pep import pep_store
from services.pep.child_access import child_or_404
from services.pep.reached import WORDS
from shared.api.children import CHILD_ACCESS_LOG, AccessEntry, AccessLog
from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS, serves


def _entry(r: asyncpg.Record, titles: dict[tuple[uuid.UUID, str], str]) -> AccessEntry:
    words = WORDS.get((r["method"], r["endpoint"]), f"{r['method']} {r['endpoint']}")
    key = r["section_key"]
    section = titles.get((r["pep_id"], key), key) if key else None
    return AccessEntry(at=r["at"], user_id=r["user_id"],
                       name=f"{r['given_name']} {r['family_name']}" if r["given_name"] else None, via=r["via"],
                       what=words + (f" ({section})" if section else ""), method=r["method"],
                       endpoint=r["endpoint"], pep_id=r["pep_id"], address=r["address"], request_id=r["request_id"])


routes = web.RouteTableDef()


async def _section_titles(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> dict[tuple[uuid.UUID, str], str]:
    """Each logged section's title in its PEP's template ("My views", not "views")."""
    peps = {r["pep_id"] for r in rows if r["pep_id"] is not None and r["section_key"]}
    titles: dict[tuple[uuid.UUID, str], str] = {}
    for p in await conn.fetch("SELECT id, template_id FROM peps WHERE id = ANY($1::uuid[])", list(peps)):
        template = await pep_store.template_by_id(conn, p["template_id"])
        titles.update({(p["id"], s.key): s.title for s in template.sections})
    return titles


@serves(routes, CHILD_ACCESS_LOG)
async def access_log(request: web.Request) -> AccessLog:
    """Who reached this child's record and PEPs in a period (default: this month), newest first; the Virtual
    School only. Query: since, until (dates), pep_id, reads_only."""
    claims = request[CLAIMS]
    today = date.today()
    try:
        since = date.fromisoformat(request.query.get("since") or today.replace(day=1).isoformat())
        until = date.fromisoformat(request.query.get("until") or today.isoformat())
        pep_id = uuid.UUID(request.query["pep_id"]) if request.query.get("pep_id") else None
    except ValueError:
        raise Problem(422, "Give dates as YYYY-MM-DD and a PEP's id", code="validation") from None
    async with request.app[POOL].acquire() as conn:
        child, access = await child_or_404(conn, claims, request.match_info["child_id"])
        if access.via != "virtual_school":
            raise Problem(403, "The access log is the Virtual School's", code="forbidden")
        start = datetime.combine(since, time.min, tzinfo=UTC)
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        rows = await conn.fetch(
            "SELECT a.*, coalesce(u.given_name, v.given_name) AS given_name, "
            "coalesce(u.family_name, '(by invitation)') AS family_name FROM access_log a "
            "LEFT JOIN users u ON u.id = a.user_id LEFT JOIN views_invitations v ON v.id = a.user_id "
            "WHERE a.child_id = $1 AND a.at >= $2 AND a.at < $3 AND ($4::uuid IS NULL OR a.pep_id = $4) "
            "AND (NOT $5 OR a.method = 'GET') AND NOT (a.endpoint = '/children/{child_id}/access-log') "
            "ORDER BY a.at DESC, a.id DESC LIMIT 1000",
            child["id"], start, end, pep_id, request.query.get("reads_only") == "true")
        titles = await _section_titles(conn, rows)
    return AccessLog(since=since, until=until, entries=[_entry(r, titles) for r in rows])
