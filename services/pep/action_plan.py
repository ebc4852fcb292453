"""Targets raised between PEPs (Kent's "Action Plan and Targets outside of PEP"), and the PP+ a child's profile
counts as agreed.

Between PEPs, the child's Designated Teacher, social worker or Virtual School may raise a costed target with a
request for the Virtual School's PP+. It asks qa through the same event as a submitted PEP's targets
(pep.funding.requested, with `action_target_id` and no `pep_id`), so it waits in the same PP+ queue for the
approver; the decision comes back (qa.funding.decided) onto the target. The next PEP started for the child lists
it among its previous targets, to be reviewed (services/pep/domain/carry_forward.py), once.

The profile's "PP+ agreed" counts what qa counts against the child's allocation for the financial year: requests
approved at the amount approved (a PEP's targets' and these), and the automatic termly payments qa announces
(qa.termly_payment.made). Refused, pending and more-information requests count nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from services.pep import pep_store
from services.pep.child_access import child_or_404
from services.pep.domain import core_data
from services.pep.domain.access import Access
from shared.api import children as api
from shared.api.children import ActionTarget, ActionTargetIn, ActionTargetList, TargetChoice
from shared.api.templates import Template
from shared.authz import not_found
from shared.bus import MessageContext, Subscription, add_event, subscribe
from shared.contracts import FundingDecided, FundingRequested, TermlyPaymentMade
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, REQUEST_ID, parse_body, serves

routes = web.RouteTableDef()
RAISERS = frozenset({"virtual_school", "social_worker", "designated_teacher"})
FUNDING_TYPE = "vs_pp_plus"  # between PEPs a target is raised to ask for the Virtual School's PP+
FUNDING_TYPE_LABEL = "Virtual School PP+"
TERMS_BY_MONTH = {9: "autumn", 10: "autumn", 11: "autumn", 12: "autumn", 1: "spring", 2: "spring", 3: "spring"}


def financial_year(day: date) -> str:
    """1 April to 31 March, as qa counts the allocation: 2026-27 runs from 1 April 2026."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def term_of(day: date) -> str:
    return TERMS_BY_MONTH.get(day.month, "summer")


async def _reached(conn: asyncpg.Connection, claims: Claims, child_id: str) -> tuple[asyncpg.Record, Access]:
    """The child, for those who may see its targets between PEPs; 404 for anyone else (as for a child not there)."""
    row, access = await child_or_404(conn, claims, child_id)
    if access.via not in RAISERS:
        raise not_found("child")
    return row, access


def _choices(template: Template) -> dict[str, list[TargetChoice]]:
    """The current targets' choices in the child's template: what a target between PEPs answers from."""
    for section in template.sections:
        group = section.field("current_targets")
        if group is not None:
            return {f.key: [TargetChoice(value=o.value, label=o.label) for o in f.options or []]
                    for f in group.fields or [] if f.options}
    return {}


async def _template_choices(conn: asyncpg.Connection, child: asyncpg.Record) -> dict[str, list[TargetChoice]]:
    _, template = await pep_store.template_for(conn, child["la_id"], pep_store.phase_for(child["year_group"]))
    return _choices(template)


def _label(choices: dict[str, list[TargetChoice]], key: str, value: str) -> str:
    return next((c.label for c in choices.get(key, []) if c.value == value), value)


TARGET_SQL = ("SELECT t.*, u.given_name, u.family_name FROM action_targets t LEFT JOIN users u ON u.id = t.raised_by ")


def _target(row: asyncpg.Record, choices: dict[str, list[TargetChoice]]) -> ActionTarget:
    return ActionTarget(
        id=row["id"], child_id=row["child_id"], what=row["what"], by_when=row["by_when"], how=row["how"],
        funding_type=row["funding_type"], funding_type_label=_label(choices, "funding_type", row["funding_type"]),
        amount=f"{row['amount']:.2f}", area_of_focus=row["area_of_focus"],
        area_of_focus_label=_label(choices, "area_of_focus", row["area_of_focus"]),
        intervention_type=row["intervention_type"],
        intervention_type_label=_label(choices, "intervention_type", row["intervention_type"]),
        academic_year=row["academic_year"], term=row["term"], raised_by=row["raised_by"],
        raised_by_name=f"{row['given_name']} {row['family_name']}" if row["given_name"] else None,
        raised_at=row["raised_at"], decision=row["decision"],
        amount_approved=f"{row['amount_approved']:.2f}" if row["amount_approved"] is not None else None,
        decision_reason=row["decision_reason"], decided_at=row["decided_at"], carried_into=row["carried_into"])


@serves(routes, api.LIST_ACTION_TARGETS)
async def list_targets(request: web.Request) -> ActionTargetList:
    async with request.app[POOL].acquire() as conn:
        child, _ = await _reached(conn, request[CLAIMS], request.match_info["child_id"])
        choices = await _template_choices(conn, child)
        rows = await conn.fetch(TARGET_SQL + "WHERE t.child_id = $1 ORDER BY t.raised_at DESC, t.id", child["id"])
    return ActionTargetList(items=[_target(r, choices) for r in rows], can_raise=not request[CLAIMS].is_service,
                            areas_of_focus=choices.get("area_of_focus", []),
                            intervention_types=choices.get("intervention_type", []))


def _problems(body: ActionTargetIn, choices: dict[str, list[TargetChoice]], today: date) -> list[FieldError]:
    problems = []
    if body.by_when < today:
        problems.append(FieldError(field="by_when", message="The date it will be achieved by must be today or "
                                                             "in the future"))
    if Decimal(body.amount) <= 0:
        problems.append(FieldError(field="amount", message="The amount must be more than £0"))
    for key, value in (("area_of_focus", body.area_of_focus), ("intervention_type", body.intervention_type)):
        if value not in {c.value for c in choices.get(key, [])}:
            problems.append(FieldError(field=key, message="Choose one of the template's options"))
    return problems


@serves(routes, api.RAISE_ACTION_TARGET)
async def raise_target(request: web.Request) -> ActionTarget:
    claims = request[CLAIMS]
    if claims.is_service:
        raise Problem(403, "A person raises a target", code="forbidden")
    body = await parse_body(request, ActionTargetIn)
    today = date.today()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        child, _ = await _reached(conn, claims, request.match_info["child_id"])
        choices = await _template_choices(conn, child)
        problems = _problems(body, choices, today)
        if problems:
            raise Problem(422, "The request has invalid fields", "Check these fields: " + ", ".join(
                p.field for p in problems), code="validation", errors=problems)
        target_id, year, term = uuid.uuid4(), core_data.academic_year_label(today), term_of(today)
        await conn.execute(
            "INSERT INTO action_targets (id, child_id, la_id, setting_id, what, by_when, how, funding_type, amount, "
            "area_of_focus, intervention_type, academic_year, term, raised_by) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, $9, $10, $11, $12, $13, $14)",
            target_id, child["id"], child["la_id"], child["setting_id"], body.what, body.by_when, body.how,
            FUNDING_TYPE, Decimal(body.amount), body.area_of_focus, body.intervention_type, year, term,
            uuid.UUID(claims.sub))
        await add_event(conn, "pep", FundingRequested(
            pep_id=None, action_target_id=target_id, child_id=child["id"], la_id=child["la_id"],
            setting_id=child["setting_id"], target=1, description=body.what, funding_type=FUNDING_TYPE,
            amount=f"{Decimal(body.amount):.2f}", area_of_focus=body.area_of_focus,
            intervention_type=body.intervention_type, academic_year=year, term=term,
            funding_type_label=_label(choices, "funding_type", FUNDING_TYPE),
            area_of_focus_label=_label(choices, "area_of_focus", body.area_of_focus),
            intervention_type_label=_label(choices, "intervention_type", body.intervention_type)),
            tenant=str(child["la_id"]), correlation_id=request[REQUEST_ID])
        row = await conn.fetchrow(TARGET_SQL + "WHERE t.id = $1", target_id)
    return _target(row, choices)


# ---- into the next PEP -------------------------------------------------------------------------------------


def review_words(row: asyncpg.Record | dict[str, Any]) -> str:
    """A target raised between PEPs as the next PEP's previous target reads it: its words, then its PP+."""
    asked = f"£{row['amount']:,.2f}"
    if row["decision"] == "approved":
        funding = f"{FUNDING_TYPE_LABEL} {asked} asked, £{row['amount_approved']:,.2f} approved"
    elif row["decision"] == "refused":
        funding = f"{FUNDING_TYPE_LABEL} {asked} asked, refused"
    else:
        funding = f"{FUNDING_TYPE_LABEL} {asked} asked, not yet decided"
    return f"{row['what']} (raised between PEPs; {funding})"


async def to_carry(conn: asyncpg.Connection, child_id: uuid.UUID) -> list[asyncpg.Record]:
    """The child's targets raised between PEPs that no PEP has listed yet, oldest first; locked until the caller's
    transaction ends, so two PEPs cannot both take them."""
    return await conn.fetch("SELECT * FROM action_targets WHERE child_id = $1 AND carried_into IS NULL "
                            "ORDER BY raised_at, id FOR UPDATE", child_id)


async def carried(conn: asyncpg.Connection, target_ids: list[uuid.UUID], pep_id: uuid.UUID) -> None:
    await conn.execute("UPDATE action_targets SET carried_into = $2 WHERE id = ANY($1::uuid[])", target_ids, pep_id)


# ---- decisions and payments from qa --------------------------------------------------------------------------


async def target_decided(conn: asyncpg.Connection, data: FundingDecided, occurred_at: Any) -> None:
    """qa's decision on a target raised between PEPs; an older decision never overwrites a newer one."""
    await conn.execute(
        "UPDATE action_targets SET decision = $2, amount_approved = $3, decision_reason = $4, decided_at = $5, "
        "financial_year = $6 WHERE id = $1 AND child_id = $7 AND la_id = $8 "
        "AND (decided_at IS NULL OR decided_at <= $5)",
        data.action_target_id, data.decision,
        Decimal(data.amount) if data.amount is not None and data.decision == "approved" else None,
        data.reason, occurred_at, data.financial_year or financial_year(occurred_at.date()), data.child_id,
        data.la_id)


async def _on_termly_payment(ctx: MessageContext, data: TermlyPaymentMade) -> None:
    async with ctx.effect() as conn:
        if await conn.fetchval("SELECT 1 FROM children WHERE id = $1 AND la_id = $2", data.child_id,
                               data.la_id) is None:
            return  # a child pep does not know (any more): nothing to show
        await conn.execute(
            "INSERT INTO termly_payments (id, child_id, la_id, pep_id, academic_year, term, amount, amount_due, "
            "financial_year, paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
            data.payment_id, data.child_id, data.la_id, data.pep_id, data.academic_year, data.term,
            Decimal(data.amount), Decimal(data.amount_due), data.financial_year, ctx.envelope.occurred_at)


def termly_subscription() -> Subscription:
    return subscribe("pep.termly_payments", TermlyPaymentMade, _on_termly_payment)


# The financial year of a decision heard before decisions said theirs: its date's (UK).
DECISION_YEAR = ("coalesce(d.financial_year, (SELECT y || '-' || lpad(((y + 1) % 100)::text, 2, '0') FROM "
                 "(SELECT extract(year FROM (d.decided_at AT TIME ZONE 'Europe/London') - interval '3 months')::int "
                 "AS y) s))")


async def pp_plus_agreed(conn: asyncpg.Connection, child_id: uuid.UUID, today: date) -> tuple[Decimal, int, Decimal,
                                                                                                str]:
    """(agreed, approved requests, of which paid termly, the financial year) for the financial year `today` is
    in: what qa counts against the child's allocation."""
    year = financial_year(today)
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(sum(d.amount), 0) FROM funding_decisions d WHERE d.child_id = $1 "
        f"AND d.decision = 'approved' AND {DECISION_YEAR} = $2) AS in_peps, "
        "(SELECT count(*) FROM funding_decisions d WHERE d.child_id = $1 AND d.decision = 'approved' "
        f"AND {DECISION_YEAR} = $2) AS pep_requests, "
        "(SELECT coalesce(sum(amount_approved), 0) FROM action_targets WHERE child_id = $1 "
        "AND decision = 'approved' AND financial_year = $2) AS outside, "
        "(SELECT count(*) FROM action_targets WHERE child_id = $1 AND decision = 'approved' "
        "AND financial_year = $2) AS outside_requests, "
        "(SELECT coalesce(sum(amount), 0) FROM termly_payments WHERE child_id = $1 AND financial_year = $2) AS termly",
        child_id, year)
    assert row is not None
    termly = Decimal(row["termly"])
    return (Decimal(row["in_peps"]) + Decimal(row["outside"]) + termly,
            int(row["pep_requests"]) + int(row["outside_requests"]), termly, year)
