"""The funding of a PEP's current targets, as the PEP shows it (Kent's "VSK Approval"): each target that needs
funding, who pays (the template's words) and, where the Virtual School decides it (its PP+: shared.api.qa's
VIRTUAL_SCHOOL_FUNDING), qa's decision as pep heard it (qa.funding.decided, kept in funding_decisions): approved and
the amount, refused, or more information asked for, with the date. Other funding is recorded in the plan only."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

from services.pep.domain.carry_forward import CURRENT_TARGETS, funding_requests
from shared.api.peps import TargetFunding
from shared.api.qa import VIRTUAL_SCHOOL_FUNDING
from shared.api.templates import Template

LONDON = ZoneInfo("Europe/London")


def _labels(template: Template) -> dict[str, str]:
    for section in template.sections:
        for f in section.fields:
            if f.key == CURRENT_TARGETS:
                for c in f.fields or []:
                    if c.key == "funding_type":
                        return {o.value: o.label for o in c.options or []}
    return {}


def _pounds(raw: Any) -> str | None:
    try:
        return f"{Decimal(str(raw)):.2f}" if raw not in (None, "") else None
    except InvalidOperation:
        return None


def targets_funding(template: Template, answers: dict[str, dict[str, Any]],
                    decisions: dict[int, asyncpg.Record | dict[str, Any]]) -> list[TargetFunding]:
    """Each current target that needs funding, with its decision where the Virtual School decides it."""
    labels = _labels(template)
    out = []
    for row, target in funding_requests(answers):
        kind = target.get("funding_type")
        route: Literal["virtual_school", "recorded"] = \
            "virtual_school" if kind in VIRTUAL_SCHOOL_FUNDING else "recorded"
        decided = decisions.get(row) if route == "virtual_school" else None
        out.append(TargetFunding(
            target=row, what=str(target.get("what") or ""), funding_type=kind,
            funding_type_label=labels.get(kind, kind) if kind else None, amount=_pounds(target.get("amount")),
            route=route, decision=decided["decision"] if decided else None,
            amount_approved=_pounds(decided["amount"]) if decided else None,
            decided_at=decided["decided_at"] if decided else None,
            decision_reason=decided["reason"] if decided else None))
    return out


async def of_pep(conn: asyncpg.Connection, pep_id: uuid.UUID, template: Template,
                 answers: dict[str, dict[str, Any]]) -> list[TargetFunding]:
    rows = await conn.fetch("SELECT * FROM funding_decisions WHERE pep_id = $1", pep_id)
    return targets_funding(template, answers, {r["target"]: r for r in rows})


def _day(at: datetime) -> str:
    local = at.astimezone(LONDON)
    return f"{local.day} {local:%B %Y}"


def in_words(f: TargetFunding) -> str:
    """The target's funding as the PEP and its PDF say it: "Approved: £250.00 of £400.00 asked, on 7 December 2026"."""
    asked = f"£{f.amount}" if f.amount else "no amount given"
    if f.route == "recorded":
        return f"{f.funding_type_label or 'Funding'}: {asked}. Recorded in the plan; the Virtual School does not " \
               "decide it."
    if f.decision is None:
        return f"Waiting for the Virtual School's decision on {asked}."
    when = f" on {_day(f.decided_at)}" if f.decided_at else ""
    if f.decision == "approved":
        return f"Approved: £{f.amount_approved} of {asked} asked{when}."
    because = f" The Virtual School's reason: {f.decision_reason}" if f.decision_reason else ""
    if f.decision == "refused":
        return f"Refused{when}.{because}"
    return f"More information asked for{when}.{because}"
