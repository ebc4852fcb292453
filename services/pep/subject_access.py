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

# Every table of pep's schema that holds something about a child or one of their PEPs, and where the export puts
# it (tests/system/test_subject_access.py checks this against the schema, so a new table cannot be forgotten).
# Left out: erased_children and tombstones (records of an erased child, ids only: never of a living one).
EXPORTED_TABLES = frozenset({
    "children", "placement_history", "setting_history", "sibling_links", "attendance", "child_notes", "peps",
    "pep_sections", "section_history", "pep_transitions", "delegated_sections", "pep_contributions",
    "qa_outcomes", "attachments", "attachment_audit", "funding_decisions", "views_invitations", "action_targets",
    "termly_payments", "access_log"})
NOT_EXPORTED = frozenset({"erased_children", "tombstones"})
# Secrets are never exported: the invitation link's token and the emailed code (hashes, but still secrets).
VIEWS_SECRETS = ("token_hash", "code_hmac", "code_key_id")


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
                "delegated_sections": _rows(await conn.fetch(
                    "SELECT * FROM delegated_sections WHERE pep_id = $1 ORDER BY version", p["id"])),
                "contributions": _rows(await conn.fetch(
                    "SELECT * FROM pep_contributions WHERE pep_id = $1", p["id"])),
                "quality_assurance": _rows(await conn.fetch(
                    "SELECT * FROM qa_outcomes WHERE pep_id = $1", p["id"])),
            } for p in peps],
            "views_invitations": _rows(await conn.fetch(
                "SELECT * FROM views_invitations WHERE child_id = $1 ORDER BY created_at", cid), VIEWS_SECRETS),
            "targets_between_peps": _rows(await conn.fetch(
                "SELECT * FROM action_targets WHERE child_id = $1 ORDER BY raised_at", cid)),
            "termly_payments": _rows(await conn.fetch(
                "SELECT * FROM termly_payments WHERE child_id = $1 ORDER BY paid_at", cid)),
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
