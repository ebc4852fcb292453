"""A subject access export: everything pep holds about one child, as JSON, for the child's LA's Virtual School
administrator (the data controller's people answer subject access requests). It is itself recorded in the
access log. Files are listed with their details, not their bytes (each can be downloaded on its own).

Each service answers for its own schema: the gateway's export (services/gateway/subject_access.py) adds
delegation's tasks, qa's reviews and funding and notify's emails about the child to this, and replaces
held_elsewhere with what is still left out (the staff's accounts, identity's)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web

from services.pep.child_access import child_or_404
from shared.authz import roles_at
from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS

routes = web.RouteTableDef()


def _plain(value: Any) -> Any:
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rows(rows: list[asyncpg.Record], leave_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in dict(r).items() if k not in leave_out} for r in rows]


@routes.get("/children/{child_id}/subject-access")
async def subject_access(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        child, access = await child_or_404(conn, claims, request.match_info["child_id"])
        if "vs_admin" not in roles_at(claims, str(child["la_id"])):
            raise Problem(403, "A subject access export is for the Virtual School's administrators",
                          code="forbidden")
        cid = child["id"]
        peps = await conn.fetch("SELECT * FROM peps WHERE child_id = $1 ORDER BY created_at", cid)
        pep_ids = [p["id"] for p in peps]
        out = {
            "exported_at": datetime.now().astimezone().isoformat(), "held_by": "pep",
            "child": {k: _plain(v) for k, v in dict(child).items()},
            "placement_history": _rows(await conn.fetch(
                "SELECT * FROM placement_history WHERE child_id = $1 ORDER BY id", cid)),
            "setting_history": _rows(await conn.fetch(
                "SELECT * FROM setting_history WHERE child_id = $1 ORDER BY id", cid)),
            "siblings": _rows(await conn.fetch(
                "SELECT * FROM sibling_links WHERE child_id = $1 OR sibling_id = $1", cid)),
            "attendance": _rows(await conn.fetch(
                "SELECT * FROM attendance WHERE child_id = $1 ORDER BY period_start", cid)),
            "notes": _rows(await conn.fetch("SELECT * FROM child_notes WHERE child_id = $1 ORDER BY written_at", cid)),
            "peps": [{
                **{k: _plain(v) for k, v in dict(p).items()},
                "sections": _rows(await conn.fetch(
                    "SELECT * FROM pep_sections WHERE pep_id = $1 ORDER BY section_key", p["id"])),
                "section_history": _rows(await conn.fetch(
                    "SELECT * FROM section_history WHERE pep_id = $1 ORDER BY id", p["id"])),
                "status_history": _rows(await conn.fetch(
                    "SELECT * FROM pep_transitions WHERE pep_id = $1 ORDER BY id", p["id"])),
            } for p in peps],
            "files": _rows(await conn.fetch("SELECT * FROM attachments WHERE child_id = $1 ORDER BY uploaded_at", cid)),
            "file_audit": _rows(await conn.fetch(
                "SELECT * FROM attachment_audit WHERE child_id = $1 ORDER BY id", cid)),
            "funding_decisions": _rows(await conn.fetch(
                "SELECT * FROM funding_decisions WHERE child_id = $1 OR pep_id = ANY($2::uuid[])", cid, pep_ids)),
            "access_log": _rows(await conn.fetch("SELECT * FROM access_log WHERE child_id = $1 ORDER BY id", cid)),
            "held_elsewhere": ["tasks and reminders (delegation)", "QA reviews and funding requests (qa)",
                               "emails sent (notify)", "the accounts of the people involved (identity)"],
        }
    return web.json_response(out)
