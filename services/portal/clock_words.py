"""A child's PEP clocks in the portal: the "PEP deadlines" card on the child's page, and the warning on a PEP
whose meeting is after its term's deadline. Both come from delegation's clocks through the gateway
(GET_CHILD_CLOCKS); someone the clocks are not for (404) sees neither, and the rest of the page as before."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.portal.gateway_client import Caller, GatewayProblem
from services.portal.pagekit import gateway
from shared.api.clocks import GET_CHILD_CLOCKS, ChildClocks
from shared.api.peps import PepOverview

STATE_TAGS = {"met": {"text": "Met", "classes": "govuk-tag--green"},
              "open": {"text": "Not due yet", "classes": "govuk-tag--blue"},
              "due_soon": {"text": "Due soon", "classes": "govuk-tag--yellow"},
              "overdue": {"text": "Overdue", "classes": "govuk-tag--red"}}
FINISHED = ("cancelled", "finalised")


def long_date(day: Any) -> str:
    return f"{day.day} {day:%B %Y}"


async def child_clocks(request: web.Request, who: Caller, child_id: str) -> ChildClocks | None:
    """The child's clocks, or None for someone they are not for."""
    try:
        return await gateway(request).call(GET_CHILD_CLOCKS, who, child_id=child_id)
    except GatewayProblem as problem:
        if problem.status in (403, 404):
            return None
        raise


def card(found: ChildClocks | None) -> list[dict[str, Any]] | None:
    """The card's rows: what, when it is due, its state as a tag, and the rule that set the date in words."""
    if found is None or not found.clocks:
        return None
    return [{"label": c.label, "tag": STATE_TAGS[c.state],
             "due": f"Due by {long_date(c.due)}" if c.due else "Not dated yet",
             "met": f"Met by the meeting on {long_date(c.met_on)}" if c.met_on and c.key != "qa_review"
             else f"Checked on {long_date(c.met_on)}" if c.met_on else None,
             "late": f"The meeting is after {c.term}’s deadline" if c.booked_late and c.term else None,
             "why": c.explanation} for c in found.clocks]


def late_meeting(found: ChildClocks | None, pep: PepOverview) -> str | None:
    """'This meeting is after Autumn 2026's deadline of 11 December 2026' when the PEP's meeting (as pep has it
    now, so a date just saved is warned at once) is after the deadline of the term its termly review is for."""
    if found is None or pep.meeting_date is None or pep.status in FINISHED:
        return None
    termly = next((c for c in found.clocks if c.key == "termly_review"), None)
    if termly is None or termly.due is None or termly.term is None:
        return None
    if termly.pep_id is not None and termly.pep_id != pep.id:
        return None  # the term's review is another PEP's (met by an earlier meeting, or a newer PEP under way)
    if pep.meeting_date <= termly.due:
        return None
    held = "was" if pep.meeting_date <= found.today else "is"
    return f"This meeting {held} after {termly.term}’s deadline of {long_date(termly.due)}"
