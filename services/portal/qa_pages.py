"""Quality assurance pages: the Virtual School's queue of PEPs awaiting review, the review screen (each area with
its descriptors, a grade and feedback, then overall; approve, or return to the school with a reason; the second
level confirms the rating), and the PP+ funding queue with its decisions. qa decides who sees and does what: a
review someone may not see is "Page not found", as anywhere else."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from services.portal import accounts, pep_words
from services.portal.children_pages import ensure_signed_in
from services.portal.file_pages import _pass_on
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, optional_uuid, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import long_date
from shared.api import qa
from shared.api.auth import GET_ME
from shared.api.qa import FrameworkOut, FundingRequestOut, PepReview

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

VIRTUAL_SCHOOL = ("vs_admin", "vs_caseworker", "vs_approver")
GRADE_TAGS = {"gold": "govuk-tag--yellow", "green": "govuk-tag--green", "amber": "govuk-tag--orange",
              "red": "govuk-tag--red", "outstanding": "govuk-tag--green", "good": "govuk-tag--turquoise",
              "requires_improvement": "govuk-tag--orange", "inadequate": "govuk-tag--red",
              "meets": "govuk-tag--green", "does_not_meet": "govuk-tag--red", "yes": "govuk-tag--green",
              "no": "govuk-tag--red"}
REVIEW_DONE = {"saved": "Ratings saved", "approved": "PEP approved", "returned": "PEP returned to the school",
               "confirmed": "Rating confirmed",
               "reviewed": "First review done: the PEP is waiting for the second review"}
# Which level of QA a PEP waits for (two-level QA: the caseworker's review, then an approver's).
WAITING_FOR = {"first_review": "First review", "second_review": "Second review (a Virtual School approver)"}
FUNDING_STATUSES = {"pending": "Waiting for a decision", "more_information": "More information asked for",
                    "approved": "Approved", "refused": "Refused", "all": "All requests"}
FUNDING_TAGS = {"pending": "govuk-tag--blue", "more_information": "govuk-tag--orange", "approved": "govuk-tag--green",
                "refused": "govuk-tag--red"}
DECISIONS = {"approve": "Approve", "refuse": "Refuse", "more_information": "Ask for more information"}
MONEY = re.compile(r"\d{1,8}(\.\d{1,2})?")


def grade_tag(grade: str | None, label: str | None) -> dict[str, str] | None:
    if not grade:
        return None
    return {"text": label or grade, "classes": GRADE_TAGS.get(grade, "govuk-tag--grey")}


def field_id(field: str) -> str:
    """A problem's field ("areas.education.grade") as the id of its input on the page."""
    return field.replace(".", "-").replace("_", "-")


# ---- the queue ---------------------------------------------------------------------------------------------------


@routes.get("/qa")
async def queue(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    found = await gateway(request).call(qa.QA_QUEUE, who)
    me = await gateway(request).call(GET_ME, who)
    las = {str(m.organisation_id): m.organisation_name for m in me.memberships if m.role in VIRTUAL_SCHOOL}
    rows = [{"child": i.child_name or "A child", "href": f"/peps/{i.pep_id}/review",
             "pep": pep_words.pep_title(i.kind, i.term, i.academic_year),
             "meeting": long_date(i.meeting_date.isoformat()) if i.meeting_date else "No date",
             "submitted": accounts.date_time(i.submitted_at), "draft": grade_tag(i.draft_grade, i.draft_label),
             "waiting_for": WAITING_FOR[i.waiting_for]}
            for i in found.items]
    return await render_signed_in(request, "qa_queue.html", {
        "current_page": "qa", "rows": rows, "las": sorted(las.items(), key=lambda kv: kv[1].casefold())})


# ---- the review screen -------------------------------------------------------------------------------------------


def _area_grades(framework: FrameworkOut) -> list[tuple[str, str]]:
    scale = framework.area_scale or framework.scale
    grades = [(g.key, g.label) for g in scale if not g.awarded_only]
    return [*grades, ("not_applicable", "Not applicable")] if framework.not_applicable else grades


def _values_of(review: PepReview) -> dict[str, str]:
    """The form's values from the current review (a draft being written)."""
    values: dict[str, str] = {}
    current = review.current
    if current is None:
        return values
    for a in current.areas:
        values[f"areas.{a.key}.grade"] = a.grade or ""
        values[f"areas.{a.key}.feedback"] = a.feedback or ""
    values["overall_grade"] = current.overall_grade or ""
    values["overall_feedback"] = current.overall_feedback or ""
    return values


def _shown(r: Any) -> dict[str, Any]:
    """A review as the page lists it."""
    return {"stage": r.stage, "outcome": r.outcome, "first_level": r.stage == "reviewed", "reason": r.reason,
            "note": r.note, "by": r.by_name or "",
            "at": accounts.date_time(r.at), "submitted": accounts.date_time(r.submitted_at),
            "awarded": grade_tag(r.awarded_grade, r.awarded_label), "overall_feedback": r.overall_feedback,
            "areas": [{"title": a.title, "grade": grade_tag(a.grade, a.grade_label), "feedback": a.feedback}
                      for a in r.areas]}


async def _review_page(request: web.Request, review: PepReview, values: dict[str, str] | None = None,
                       errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    framework = review.framework
    values = values if values is not None else _values_of(review)
    area_grades = _area_grades(framework)
    areas = []
    for a in framework.areas:
        name = f"areas.{a.key}.grade"
        areas.append({
            "key": a.key, "title": a.title, "grade_name": name, "grade_id": field_id(name),
            "feedback_name": f"areas.{a.key}.feedback", "feedback_id": field_id(f"areas.{a.key}.feedback"),
            "feedback": values.get(f"areas.{a.key}.feedback", ""),
            "error": (errors or {}).get(field_id(name)),
            "items": [{"value": k, "text": label, "checked": values.get(name) == k,
                       **({"hint": {"text": a.descriptors[k]}} if k in a.descriptors else {})}
                      for k, label in area_grades]})
    overall_items = [{"value": g.key, "text": g.label, "checked": values.get("overall_grade") == g.key,
                      **({"hint": {"text": framework.overall.descriptors[g.key]}}
                         if g.key in framework.overall.descriptors else {})}
                     for g in framework.scale if not g.awarded_only]
    done = REVIEW_DONE.get(request.query.get("done", ""))
    second_grade = values.get("second_grade") or (review.current.overall_grade if review.current else "") or ""
    return await render_signed_in(request, "qa_review.html", {
        "waiting_for": WAITING_FOR.get(review.waiting_for or ""),
        "first_review": _shown(review.first_review) if review.first_review else None,
        "second_items": [{"value": i["value"], "text": i["text"], "checked": i["value"] == second_grade}
                         for i in overall_items],
        "descriptors": _descriptors(framework) if not review.can_review else None,
        "current_page": "qa", "review": review, "framework": framework, "areas": areas,
        "overall_items": overall_items, "values": values, "errors": errors or {}, "problem": problem,
        "approvable_words": " or ".join(g.label for g in framework.scale if g.key in (framework.approvable or [])),
        "current": _shown(review.current) if review.current else None,
        "earlier": [_shown(r) for r in review.earlier],
        "status_tag": pep_words.pep_status(review.status),
        "meeting": long_date(review.meeting_date.isoformat()) if review.meeting_date else "No date set",
        "submitted": accounts.date_time(review.submitted_at) if review.submitted_at else "Not submitted",
        "done": {"heading": done, "body": ""} if done else None})


def _descriptors(framework: FrameworkOut) -> list[dict[str, Any]]:
    """What each grade means, area by area and overall, for those who read the review (the DT, the social
    worker): the framework's own words, to read, never to change."""
    scale = framework.area_scale or framework.scale
    labels = {g.key: g.label for g in [*framework.scale, *scale]}
    areas = [{"title": a.title, "rows": [{"key": {"text": labels.get(k, k)}, "value": {"text": words}}
                                         for k, words in a.descriptors.items()]} for a in framework.areas]
    if framework.overall.descriptors:
        areas.append({"title": "Overall rating", "rows": [{"key": {"text": labels.get(k, k)}, "value": {"text": w}}
                                                          for k, w in framework.overall.descriptors.items()]})
    return areas


@routes.get("/peps/{pep_id}/review")
async def review_page(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    review = await gateway(request).call(qa.GET_REVIEW, who, pep_id=require_uuid(request, "pep_id"))
    return await _review_page(request, review)


def _refused(p: GatewayProblem) -> tuple[dict[str, str], str | None]:
    if p.status == 404:
        raise p
    log.info("qa refused", extra={"status": p.status, "code": p.code})
    found = {field_id(k): v for k, v in p.field_errors().items()}
    return found, None if found else p.message


@routes.post("/peps/{pep_id}/review")
async def save_review(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id = require_uuid(request, "pep_id")
    review = await gateway(request).call(qa.GET_REVIEW, who, pep_id=pep_id)
    data = await request.post()
    values = {k: str(v).strip() for k, v in data.items() if k != "csrf_token"}
    areas: dict[str, dict[str, str]] = {}
    for a in review.framework.areas:
        rating = {k: values.get(f"areas.{a.key}.{k}", "") for k in ("grade", "feedback")}
        if any(rating.values()):
            areas[a.key] = {k: v for k, v in rating.items() if v}
    fields: dict[str, Any] = {"areas": areas}
    for name in ("overall_grade", "overall_feedback"):
        if values.get(name):
            fields[name] = values[name]
    errors = {field_id(f"areas.{k}.feedback"): "Feedback must be 4000 characters or fewer"
              for k, r in areas.items() if len(r.get("feedback", "")) > 4000}
    if len(values.get("overall_feedback", "")) > 4000:
        errors["overall-feedback"] = "Feedback must be 4000 characters or fewer"
    if errors:
        return await _review_page(request, review, values, errors)
    try:
        await gateway(request).call(qa.SAVE_REVIEW, who, fields, pep_id=pep_id)
    except GatewayProblem as p:
        found, problem = _refused(p)
        return await _review_page(request, review, values, found, problem)
    return redirect(f"/peps/{pep_id}/review?done=saved")


@routes.post("/peps/{pep_id}/review/decide")
async def decide(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id = require_uuid(request, "pep_id")
    data = await request.post()
    outcome = str(data.get("outcome", ""))
    second = data.get("level") == "second"  # the second level's form: its grade and note go with the decision
    reason = str(data.get("second_reason" if second else "reason", "")).strip()
    grade, note = str(data.get("second_grade", "")).strip(), str(data.get("note", "")).strip()
    review = await gateway(request).call(qa.GET_REVIEW, who, pep_id=pep_id)
    values = {**_values_of(review), "reason": reason, "second_reason": reason, "second_grade": grade, "note": note}
    reason_field = "second-reason" if second else "reason"
    if outcome not in ("approve", "return"):
        raise web.HTTPBadRequest()
    if outcome == "return" and not reason:
        return await _review_page(request, review, values, {reason_field: "Say what the school needs to change"})
    if len(reason) > 2000:
        return await _review_page(request, review, values,
                                  {reason_field: "The reason must be 2000 characters or fewer"})
    fields: dict[str, Any] = {"outcome": outcome, **({"reason": reason} if reason else {})}
    if second:
        fields.update({**({"overall_grade": grade} if grade else {}), **({"note": note} if note else {})})
    try:
        decided = await gateway(request).call(qa.DECIDE_REVIEW, who, fields, pep_id=pep_id)
    except GatewayProblem as p:
        found, _ = _refused(p)  # why it was refused (not rated; a grade the framework returns), then each field
        if second:
            found = {{"overall-grade": "second-grade", "reason": "second-reason"}.get(k, k): v
                     for k, v in found.items()}
        return await _review_page(request, review, values, found, p.message)
    if decided.current is not None and decided.current.stage == "reviewed":
        return redirect(f"/peps/{pep_id}/review?done=reviewed")
    return redirect(f"/peps/{pep_id}/review?done={'approved' if outcome == 'approve' else 'returned'}")


@routes.post("/peps/{pep_id}/review/confirm")
async def confirm(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id = require_uuid(request, "pep_id")
    data = await request.post()
    grade, note = str(data.get("confirm_grade", "")).strip(), str(data.get("note", "")).strip()
    review = await gateway(request).call(qa.GET_REVIEW, who, pep_id=pep_id)
    values = {**_values_of(review), "confirm_grade": grade, "note": note}
    if not grade:
        return await _review_page(request, review, values, {"confirm-grade": "Choose the overall rating"})
    try:
        await gateway(request).call(qa.CONFIRM_REVIEW, who,
                                    {"overall_grade": grade, **({"note": note} if note else {})}, pep_id=pep_id)
    except GatewayProblem as p:
        found, problem = _refused(p)
        found = {("confirm-grade" if k == "overall-grade" else k): v for k, v in found.items()}
        return await _review_page(request, review, values, found, problem)
    return redirect(f"/peps/{pep_id}/review?done=confirmed")


# ---- PP+ funding -------------------------------------------------------------------------------------------------


def _label(label: str | None, key: str | None) -> str | None:
    """The template's words for a choice; a request queued before labels travelled with it reads its key as words."""
    return label or (key.replace("_", " ").capitalize() if key else None)


def _funding_row(r: FundingRequestOut) -> dict[str, Any]:
    asked = f"£{r.amount_requested}" if r.amount_requested else "Not given"
    child = r.child_name or "A child"
    what = r.description or "A target"
    return {"id": r.id, "child": child, "child_href": f"/children/{r.child_id}", "pep_href": f"/peps/{r.pep_id}",
            "what": what, "focus": _label(r.area_of_focus_label, r.area_of_focus),
            "intervention": _label(r.intervention_type_label, r.intervention_type),
            "funding_type": _label(r.funding_type_label, r.funding_type),
            # Each decision's fieldset names whose request it is, so a screen-reader user can tell them apart.
            "legend": f"Decision on {child}’s target {r.target}, {what}: {asked} asked for",
            "amount_label": f"Amount approved for {child}’s target {r.target}",
            "reason_label": f"Reason for {child}’s target {r.target} (needed to refuse or ask for more)",
            "asked": asked,
            "approved": f"£{r.amount_approved}" if r.amount_approved else None, "reason": r.reason,
            "status": {"text": FUNDING_STATUSES.get(r.status, r.status),
                       "classes": FUNDING_TAGS.get(r.status, "govuk-tag--grey")},
            "term": f"{r.term.capitalize()} {r.academic_year}", "requested": accounts.date_time(r.requested_at),
            "decided": accounts.date_time(r.decided_at) if r.decided_at else None, "by": r.decided_by_name,
            "open": r.can_decide and r.status in ("pending", "more_information"),
            "amount_requested": r.amount_requested or ""}


async def _la_of(request: web.Request) -> tuple[str, list[tuple[str, str]]]:
    me = await gateway(request).call(GET_ME, ensure_signed_in(request))
    mine = {str(m.organisation_id): m.organisation_name for m in me.memberships if m.role in VIRTUAL_SCHOOL}
    las = sorted(mine.items(), key=lambda kv: kv[1].casefold())
    chosen = optional_uuid(request.query.get("la_id", "")) or (las[0][0] if las else "")
    if not chosen:
        raise web.HTTPForbidden()
    return chosen, las


async def _funding_page(request: web.Request, la_id: str, las: list[tuple[str, str]], status: str,
                        failed: str = "", values: dict[str, str] | None = None,
                        errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    pep_id = optional_uuid(request.query.get("pep_id", ""))  # one PEP's requests: the approver's task opens these
    found = await gateway(request).call(qa.LIST_FUNDING, ensure_signed_in(request),
                                        query={"la_id": la_id, "status": status, **({"pep_id": pep_id} if pep_id
                                                                                    else {})})
    done = request.query.get("done") == "decided"
    return await render_signed_in(request, "qa_funding.html", {
        "current_page": "qa", "la_id": la_id, "la_name": dict(las).get(la_id, "Your Virtual School"), "las": las,
        "status": status, "statuses": FUNDING_STATUSES, "counts": found.counts,
        "rows": [_funding_row(r) for r in found.items], "decisions": DECISIONS, "failed": failed,
        "values": values or {}, "errors": errors or {}, "problem": problem, "pep_id": pep_id or "",
        "done": {"heading": "Decision recorded", "body": ""} if done else None})


@routes.get("/funding")
async def funding(request: web.Request) -> web.Response:
    la_id, las = await _la_of(request)
    status = request.query.get("status", "pending")
    return await _funding_page(request, la_id, las, status if status in FUNDING_STATUSES else "pending")


@routes.post("/funding/{request_id}/decide")
async def decide_funding(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    request_id = require_uuid(request, "request_id")
    la_id, las = await _la_of(request)
    data = await request.post()
    values = {k: str(data.get(k, "")).strip() for k in ("decision", "amount", "reason")}
    values["amount"] = values["amount"].removeprefix("£")
    errors: dict[str, str] = {}
    if values["decision"] not in DECISIONS:
        errors["decision"] = "Choose whether to approve, refuse or ask for more information"
    elif values["decision"] != "approve" and not values["reason"]:
        errors["reason"] = "Say why" if values["decision"] == "refuse" else "Say what more information is needed"
    fields = {"decision": values["decision"], **({"amount": values["amount"]} if values["amount"] and
                                                  values["decision"] == "approve" else {}),
              **({"reason": values["reason"]} if values["reason"] else {})}
    problem = None
    if not errors:
        try:
            await gateway(request).call(qa.DECIDE_FUNDING, who, fields, request_id=request_id)
        except GatewayProblem as p:
            errors, problem = _refused(p)
        else:
            pep_id = optional_uuid(request.query.get("pep_id", ""))
            return redirect(f"/funding?la_id={la_id}&done=decided" + (f"&pep_id={pep_id}" if pep_id else ""))
    errors = {f"request-{request_id}-{k}": v for k, v in errors.items()}
    return await _funding_page(request, la_id, las, "pending", request_id, values, errors, problem)


# ---- the LA's PP+ allocation and automatic termly payment ------------------------------------------------------


async def _settings_page(request: web.Request, la_id: str, las: list[tuple[str, str]],
                         values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                         problem: str | None = None) -> web.Response:
    who = ensure_signed_in(request)
    current = await gateway(request).call(qa.GET_ALLOCATION, who, la_id=la_id)
    me = await gateway(request).call(GET_ME, who)
    may_change = any(m.role == "vs_admin" and str(m.organisation_id) == la_id for m in me.memberships)
    return await render_signed_in(request, "qa_funding_settings.html", {
        "current_page": "qa", "la_id": la_id, "la_name": dict(las).get(la_id, "Your Virtual School"), "me": me,
        "current": current, "may_change": may_change, "errors": errors or {}, "problem": problem,
        "values": values or {"amount": current.amount, "termly_payment": current.termly_payment or ""},
        "done": {"heading": "PP+ settings saved", "body": ""} if request.query.get("done") == "saved" else None})


@routes.get("/funding/settings")
async def funding_settings(request: web.Request) -> web.Response:
    """The LA's PP+ allocation per child and its automatic termly payment (changed by its VS admin)."""
    la_id, las = await _la_of(request)
    return await _settings_page(request, la_id, las)


@routes.post("/funding/settings")
async def change_funding_settings(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id, las = await _la_of(request)
    data = await request.post()
    values = {k: str(data.get(k, "")).strip().removeprefix("£").replace(",", "") for k in ("amount", "termly_payment")}
    errors: dict[str, str] = {}
    if not MONEY.fullmatch(values["amount"]):
        errors["amount"] = "Enter the allocation in pounds and pence, like 2630.00"
    if values["termly_payment"] and not MONEY.fullmatch(values["termly_payment"]):
        errors["termly-payment"] = "Enter the termly payment in pounds and pence, like 600.00, or leave it empty"
    problem = None
    if not errors:
        try:
            await gateway(request).call(qa.SET_ALLOCATION, who, {
                "amount": values["amount"], "termly_payment": values["termly_payment"] or None}, la_id=la_id)
        except GatewayProblem as p:
            errors, problem = _refused(p)
        else:
            return redirect(f"/funding/settings?la_id={la_id}&done=saved")
    return await _settings_page(request, la_id, las, values, errors, problem)


@routes.get("/funding.csv")
async def funding_csv(request: web.Request) -> web.StreamResponse:
    """The LA's PP+ requests and decisions as CSV, for finance: passed on from the gateway as it comes."""
    la_id, _ = await _la_of(request)
    return await _pass_on(request, qa.FUNDING_CSV, {"la_id": la_id})
