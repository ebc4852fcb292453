"""Recording who looked at or changed which child's record and PEPs, when, how and from where: one row per
request that reached a child (every endpoint finds its child through `child_access.child_or_404`, which notes it
here), written after the answer succeeded. Append-only: the service's own role cannot change or delete a row.
The Virtual School reads it per child ("who has viewed this PEP this month")."""

from __future__ import annotations

import contextvars
import logging
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from shared.service import POOL
from shared.web import CLAIMS, REQUEST_ID, Handler

log = logging.getLogger(__name__)
_REACHED: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("pep_reached", default=None)

# What each endpoint did, in words for the Virtual School's page ({key} is a section's key).
WORDS = {
    ("GET", "/children/{child_id}"): "Viewed the child's record",
    ("PATCH", "/children/{child_id}"): "Changed the child's record",
    ("GET", "/children/{child_id}/notes"): "Read the notes",
    ("POST", "/children/{child_id}/notes"): "Added a note",
    ("GET", "/children/{child_id}/activity"): "Viewed the activity",
    ("GET", "/children/{child_id}/attendance"): "Viewed attendance",
    ("POST", "/children/{child_id}/attendance"): "Recorded attendance",
    ("GET", "/children/{child_id}/peps"): "Listed the PEPs",
    ("POST", "/children/{child_id}/peps"): "Started a PEP",
    ("GET", "/children/{child_id}/attachments"): "Listed the files",
    ("POST", "/children/{child_id}/attachments"): "Uploaded a file",
    ("GET", "/attachments/{attachment_id}/content"): "Downloaded a file",
    ("DELETE", "/attachments/{attachment_id}"): "Deleted a file",
    ("GET", "/peps/{pep_id}"): "Opened the PEP",
    ("GET", "/peps/{pep_id}/sections/{key}"): "Read a section",
    ("PUT", "/peps/{pep_id}/sections/{key}"): "Saved a section",
    ("GET", "/peps/{pep_id}/sections/{key}/history"): "Read a section's history",
    ("GET", "/peps/{pep_id}/export.pdf"): "Downloaded the PEP as PDF",
    ("GET", "/peps/{pep_id}/export.json"): "Downloaded the PEP as JSON",
    ("GET", "/children/{child_id}/subject-access"): "Exported everything held (subject access)",
    ("GET", "/peps/{pep_id}/views-invitations"): "Listed the views invitations",
    ("POST", "/peps/{pep_id}/views-invitations"): "Invited someone to give their views",
    ("POST", "/peps/{pep_id}/views-invitations/{invitation_id}/revoke"): "Revoked a views invitation",
    # Uses of a views invitation by the young person or carer it was sent to (no account: see views_invitations).
    ("POST", "/views/open"): "Opened the views link and was sent a code",
    ("POST", "/views/verify"): "Entered the right code",
    ("POST", "/views/verify/refused"): "Entered a wrong or old code",
    ("GET", "/views/form"): "Read their views form",
    ("PUT", "/views/form"): "Saved their views",
    ("POST", "/views/end"): "Finished giving their views",
}


def note(child: asyncpg.Record, via: str, pep_id: uuid.UUID | None = None) -> None:
    """Called when a request reaches a child (and a PEP of theirs): the first child reached is the one logged."""
    reached = _REACHED.get()
    if reached is None:
        return  # not inside a request (a consumer, a command)
    if "child_id" not in reached:
        reached.update(child_id=child["id"], la_id=child["la_id"], via=via)
    if pep_id is not None and reached.get("child_id") == child["id"]:
        reached.setdefault("pep_id", pep_id)


def logged() -> None:
    """The request's row is already in the access log, written by the statement that did the work (a save's)."""
    reached = _REACHED.get()
    if reached is not None:
        reached["logged"] = True


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    reached: dict[str, Any] = {}
    token = _REACHED.set(reached)
    try:
        response = await handler(request)
    finally:
        _REACHED.reset(token)
    claims = request.get(CLAIMS)
    if reached.get("child_id") and not reached.get("logged") and response.status < 400 and claims is not None \
            and not claims.is_service:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        try:
            await request.app[POOL].execute(
                "INSERT INTO access_log (user_id, via, la_id, child_id, pep_id, method, endpoint, section_key, "
                "request_id, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                uuid.UUID(claims.sub), reached["via"], reached["la_id"], reached["child_id"], reached.get("pep_id"),
                request.method, route, request.match_info.get("key"), request.get(REQUEST_ID), claims.address)
        except (asyncpg.PostgresError, OSError) as exc:
            # The answer is already made; losing its log line is logged loudly for the operator.
            log.error("access not recorded", extra={"error": type(exc).__name__, "endpoint": route})
    return response


