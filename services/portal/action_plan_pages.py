"""Targets raised between PEPs (Kent's "Action Plan and Targets outside of PEP"): from the child's profile, the
child's Designated Teacher, social worker or Virtual School raises a costed target with its PP+ request, and sees
those raised before with the Virtual School's decisions. pep decides who may (others get 404) and what a value may
be; the portal checks the form first so every problem is named at once."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.forms import DateField
from services.portal.gateway_client import Caller, GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import long_date, parse_date
from services.portal.text_limits import max_length
from shared.api import children as children_api
from shared.api.children import ActionTarget, ActionTargetIn, ActionTargetList, ChildProfile

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
BY_WHEN = DateField("by_when")
TEXT_MAX = max_length(ActionTargetIn, "what")  # what pep refuses past, for the character counts
DECISIONS = {"approved": ("Approved", "green"), "refused": ("Refused", "red"),
             "more_information": ("More information needed", "yellow"), None: ("Waiting for a decision", "grey")}
TERMS = {"autumn": "Autumn", "spring": "Spring", "summer": "Summer"}


def _money(amount: str | None) -> str:
    return f"£{Decimal(amount or 0):,.2f}"


def target_rows(t: ActionTarget) -> list[dict[str, Any]]:
    decision, _ = DECISIONS.get(t.decision, DECISIONS[None])
    if t.decision == "approved":
        decision = f"Approved: {_money(t.amount_approved)}"
    if t.decided_at:
        decision += f" on {long_date(t.decided_at.date().isoformat())}"
    rows = [("When will this be achieved?", long_date(t.by_when.isoformat())), ("How will it be achieved?", t.how),
            ("Type of funding", t.funding_type_label), ("Amount asked for", _money(t.amount)),
            ("Area of focus", t.area_of_focus_label), ("Intervention type", t.intervention_type_label),
            ("Virtual School decision", decision)]
    if t.decision_reason:
        rows.append(("Reason", t.decision_reason))
    rows.append(("Raised", f"{t.raised_by_name or 'Someone'}, {long_date(t.raised_at.date().isoformat())}, "
                           f"{TERMS.get(t.term, t.term)} term {t.academic_year}"))
    rows.append(("Next PEP", "Listed among its previous targets" if t.carried_into else "Not started yet"))
    return [{"key": {"text": k}, "value": {"text": v}} for k, v in rows]


def _items(choices: list[Any], chosen: str) -> list[dict[str, Any]]:
    return [{"value": "", "text": "Choose one"}, *({"value": c.value, "text": c.label, "selected": c.value == chosen}
                                                   for c in choices)]


async def _page(request: web.Request, who: Caller, child_id: str, values: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, problem: str | None = None,
                found: ActionTargetList | None = None) -> web.Response:
    child: ChildProfile = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
    found = found or await gateway(request).call(children_api.LIST_ACTION_TARGETS, who, child_id=child_id)
    values = values or {}
    done = request.query.get("done") == "raised" and not errors
    return await render_signed_in(request, "action_plan.html", {
        "current_page": "children", "child": child, "values": values, "errors": errors or {}, "problem": problem,
        "text_max": TEXT_MAX, "targets": [{"what": t.what, "rows": target_rows(t)} for t in found.items],
        "by_when_items": BY_WHEN.items(values, (errors or {}).get("by_when")),
        "areas": _items(found.areas_of_focus, values.get("area_of_focus", "")),
        "interventions": _items(found.intervention_types, values.get("intervention_type", "")),
        "done": {"heading": "Target raised and PP+ asked for", "body": "The Virtual School's approver decides it."}
        if done else None})


@routes.get("/children/{child_id}/action-plan")
async def action_plan(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    return await _page(request, who, require_uuid(request, "child_id"))


def problems(values: dict[str, str], choices: ActionTargetList) -> tuple[dict[str, str], dict[str, Any]]:
    """(errors by field, the body for pep): every problem named, in the order of the form."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, label in (("what", "what the target is"),):
        if not values[name]:
            errors[name] = f"Enter {label}"
        elif len(values[name]) > TEXT_MAX:
            errors[name] = f"The target must be {TEXT_MAX} characters or fewer"
        body[name] = values[name]
    when, error = parse_date(*BY_WHEN.typed(values), "The date it will be achieved by")
    if error or not when:
        errors["by_when"] = error or "Enter the date it will be achieved by"
    body["by_when"] = when
    if not values["how"]:
        errors["how"] = "Enter how it will be achieved"
    elif len(values["how"]) > TEXT_MAX:
        errors["how"] = f"How it will be achieved must be {TEXT_MAX} characters or fewer"
    body["how"] = values["how"]
    for name, words, options in (("area_of_focus", "the area of focus", choices.areas_of_focus),
                                 ("intervention_type", "the intervention type", choices.intervention_types)):
        if values[name] not in {c.value for c in options}:
            errors[name] = f"Choose {words}"
        body[name] = values[name]
    raw = values["amount"].replace("£", "").replace(",", "").strip()
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        amount = None
    if not raw:
        errors["amount"] = "Enter the amount of PP+ asked for"
    elif amount is None or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["amount"] = "The amount must be in pounds and pence, like 300.00"
    elif not Decimal(0) < amount < Decimal(1_000_000):
        errors["amount"] = "The amount must be more than £0 and less than £1,000,000"
    body["amount"] = f"{amount:.2f}" if amount is not None and "amount" not in errors else raw
    return errors, body


@routes.post("/children/{child_id}/action-plan")
async def raise_target(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    values = {k: str(data.get(k, "")).strip() for k in ("what", "how", "area_of_focus", "intervention_type",
                                                         "amount")}
    values.update(BY_WHEN.read(data))
    found = await gateway(request).call(children_api.LIST_ACTION_TARGETS, who, child_id=child_id)
    errors, body = problems(values, found)
    if errors:
        return await _page(request, who, child_id, values, errors, found=found)
    try:
        await gateway(request).call(children_api.RAISE_ACTION_TARGET, who, body, child_id=child_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("target between PEPs not raised", extra={"status": p.status, "code": p.code})
        named = {k: v for k, v in p.field_errors().items() if k in body}
        return await _page(request, who, child_id, values, named, None if named else p.message, found=found)
    return redirect(f"/children/{child_id}/action-plan?done=raised")
