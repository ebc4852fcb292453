"""Tasks: the trays (currently assigned, recently retracted, recently submitted, and what I delegated), one task,
delegating a PEP's sections to the school, and retracting. delegation decides who sees what; a task someone
may not see is "Page not found", as anywhere else."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal import pep_words
from services.portal.children_pages import ensure_signed_in, setting_names
from services.portal.forms import DateField
from services.portal.gateway_client import Caller, GatewayProblem
from services.portal.pagekit import gateway, optional_uuid, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import long_date, parse_date
from shared.api import tasks as tasks_api
from shared.api.caseload import CaseloadQuery
from shared.api.children import GET_CHILD, ChildProfile
from shared.api.identity import GET_ORGANISATION
from shared.api.peps import GET_PEP, PepOverview
from shared.api.tasks import Task, TaskEvent, TaskQuery, TraySettings
from shared.csvcells import csv_response

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

TRAYS = {"current": "Currently assigned", "retracted": "Recently retracted", "submitted": "Recently submitted",
         "sent": "Delegated by you"}
TRAY_HINTS = {"current": "Work to do, soonest due first.",
              "retracted": "Tasks taken back in the last 30 days, and why.",
              "submitted": "Work you submitted or finished in the last 30 days.",
              "sent": "PEP sections you delegated that are open, or changed in the last 30 days."}
SORTS = {"due": "Due soonest", "-due": "Due latest", "updated": "Recently changed"}
KINDS = {"complete_sections": "Complete sections", "amend": "Amend after QA", "finalise": "Finalise the PEP",
         "approve_funding": "Approve funding", "second_review": "Second QA review"}
FUNDING_DECISIONS = {"approved": "approved", "refused": "refused", "more_information": "more information asked for"}
STATUSES = {"assigned": ("Assigned", "govuk-tag--blue"), "in_progress": ("In progress", "govuk-tag--light-blue"),
            "submitted": ("Submitted", "govuk-tag--green"), "retracted": ("Retracted", "govuk-tag--grey"),
            "returned": ("Returned", "govuk-tag--orange"), "completed": ("Completed", "govuk-tag--green"),
            "cancelled": ("Cancelled", "govuk-tag--grey")}
ACTIONS = {"assign": "Assigned", "submit": "Submitted", "retract": "Retracted", "finalise": "Completed",
           "cancel": "Cancelled", "decide": "Funding decided", "qa_decided": "Second review decided"}
DELEGATORS = ("virtual_school", "social_worker")
# Who took a step nobody took: the system, on what (a task's history never says "Someone" for it).
SYSTEM_STEPS = {("approve_funding", "assign"): "Automatically, when the PEP was submitted",
                ("approve_funding", "decide"): "Automatically, when the Virtual School decided the funding",
                ("complete_sections", "assign"): "Automatically, on the date the delegation was scheduled for"}
BETWEEN_PEPS = "Targets between PEPs"  # what an approve_funding task without a PEP is about (the child's targets)
DUE = DateField("due")  # the delegate form's due date: its boxes' names, for the template and the handler
PEP_OPEN = ("created", "in_progress", "returned")


def status_tag(status: str) -> dict[str, str]:
    text, classes = STATUSES.get(status, (status.replace("_", " ").capitalize(), "govuk-tag--grey"))
    return {"text": text, "classes": classes}


def history_by(task: Task, h: TaskEvent) -> str:
    """Who took a step, in words a person reads: their name, else what the system did it on."""
    if h.by_name:
        return h.by_name
    if h.by_user is not None:
        return "A person no longer on the system"
    if (task.kind, h.action) == ("approve_funding", "assign") and task.pep_id is None:
        return "Automatically, when the target was raised between PEPs"
    return SYSTEM_STEPS.get((task.kind, h.action), "Automatically")


def task_row(t: Task, titles: dict[str, str] | None = None) -> dict[str, Any]:
    titles = titles or {}
    what = KINDS.get(t.kind, t.kind)
    if t.sections:
        what += ": " + ", ".join(titles.get(k, pep_words.words({}, k)) for k in t.sections)
    funding = [f"Target {f.target}, {f.what}: " + (f"£{f.amount}" if f.amount else "no amount") + " asked"
               + (f" ({FUNDING_DECISIONS[f.decision]})" if f.decision else "") for f in t.funding]
    if funding:
        what += ": " + "; ".join(funding)
    # A target raised between PEPs has no PEP: its task leads to the child's targets and the LA's PP+ queue.
    decide = f"&pep_id={t.pep_id}&status=all" if t.pep_id else "&status=pending"
    return {"funding": funding, "decide_href": f"/funding?la_id={t.la_id}{decide}",
            "pep_href": f"/peps/{t.pep_id}" if t.pep_id else f"/children/{t.child_id}/action-plan",
            "id": t.id, "child": t.child_name or "A child", "href": f"/tasks/{t.id}",
            "what": what, "due": long_date(t.due_date.isoformat()) if t.due_date else "No date",
            "overdue": t.overdue, "from": t.originator_name or "", "status": status_tag(t.status)}


@routes.get("/tasks")
async def trays(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    tray = request.query.get("tray", "current")
    tray = tray if tray in TRAYS else "current"
    sort = request.query.get("sort", "due")
    sort = sort if sort in SORTS else "due"
    query = TaskQuery.model_validate({"tray": tray, "sort": sort})
    found = await gateway(request).call(tasks_api.LIST_TASKS, who, query=query)
    titles = await section_titles(request, who, found.items)
    return await render_signed_in(request, "tasks.html", {
        "current_page": "tasks", "tray": tray, "trays": TRAYS, "hint": TRAY_HINTS[tray], "counts": found.counts,
        "sort": sort, "sorts": SORTS,
        "rows": [task_row(t, titles.get(t.pep_id) if t.pep_id else None) for t in found.items]})


async def section_titles(request: web.Request, who: Caller, tasks: list[Task]) -> dict[uuid.UUID, dict[str, str]]:
    """The section titles of each PEP these tasks name sections of, from the PEP's own template version (an LA
    may have renamed a section): a tray says "Attainment and progress", never the key `attainment`."""
    async def one(pep_id: uuid.UUID) -> tuple[uuid.UUID, dict[str, str]]:
        try:
            pep = await gateway(request).call(GET_PEP, who, pep_id=pep_id)
        except GatewayProblem:
            return pep_id, {}  # a PEP gone from view since: its task keeps the section's words
        return pep_id, {s.key: s.title for s in pep.sections}
    return dict(await asyncio.gather(*(one(p) for p in {t.pep_id for t in tasks if t.sections and t.pep_id})))


@routes.get("/tasks/{task_id}")
async def task_page(request: web.Request) -> web.Response:
    """One task: what, for whom, by when and why; the way to the PEP; its history. Emailed links land here."""
    who = ensure_signed_in(request)
    task = await gateway(request).call(tasks_api.GET_TASK, who, task_id=require_uuid(request, "task_id"))
    if task.pep_id is None:  # Approve funding for a target raised between PEPs: about the child's targets
        titles, pep_name = {}, BETWEEN_PEPS
    else:
        pep = await gateway(request).call(GET_PEP, who, pep_id=task.pep_id)
        titles = {s.key: s.title for s in pep.sections}
        pep_name = pep_words.pep_title(pep.kind, pep.term, pep.academic_year)
    history = [{"what": ACTIONS.get(h.action, h.action.capitalize()), "by": history_by(task, h), "at": h.at,
                "reason": h.reason} for h in task.history or []]
    return await render_signed_in(request, "task.html", {
        "current_page": "tasks", "task": task, "row": task_row(task, titles), "history": history,
        "pep_name": pep_name, "sections": [titles.get(k, k) for k in task.sections],
        "done": {"heading": "Task retracted", "body": ""} if request.query.get("done") == "retracted" else None})


# ---- the PEP page's part: who has which sections ---------------------------------------------------------------


async def pep_delegation(request: web.Request, who: Caller, pep: PepOverview, child: ChildProfile) -> dict[str, Any]:
    """The open delegation of a PEP (if any) and whether this person may delegate it now."""
    try:
        tasks = await gateway(request).call(tasks_api.LIST_PEP_TASKS, who, pep_id=pep.id)
    except GatewayProblem as p:
        if p.status in (403, 404, 503):
            tasks = []  # the page still works without the delegation panel
        else:
            raise
    try:
        dates = await gateway(request).call(tasks_api.PEP_DEADLINES, who, pep_id=pep.id)
    except GatewayProblem as p:
        if p.status in (403, 404, 503):
            dates = None
        else:
            raise
    open_tasks = [t for t in tasks if t.status in ("assigned", "in_progress", "returned")]
    delegated = next((t for t in open_tasks if t.kind == "complete_sections"), None)
    titles = {s.key: s.title for s in pep.sections}
    today = date.today()
    return {"open_tasks": [task_row(t, titles) | {"can_retract": t.can_retract, "feedback": t.feedback}
                           for t in open_tasks],
            "dates": [{"label": d.label, "due": long_date(d.due.isoformat()) if d.due else "Cannot be worked out",
                       "past": d.due is not None and d.due < today, "explanation": d.explanation}
                      for d in (dates.deadlines if dates else [])],
            "can_delegate": child.access in DELEGATORS and pep.status in PEP_OPEN and delegated is None
            and child.setting_id is not None}


def _delegable(pep: PepOverview) -> list[tuple[str, str]]:
    return [(s.key, s.title) for s in pep.sections if s.owner != "virtual_school"]


async def _delegate_page(request: web.Request, pep: PepOverview, child: ChildProfile, values: dict[str, Any],
                         errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    chosen = set(values.get("sections", []))
    return await render_signed_in(request, "task_delegate.html", {
        "current_page": "children", "pep": pep, "child": child, "values": values, "errors": errors or {},
        "problem": problem, "pep_name": pep_words.pep_title(pep.kind, pep.term, pep.academic_year),
        "due_items": DUE.items(values, errors and errors.get("due")),
        "section_items": [{"value": k, "text": t, "checked": k in chosen} for k, t in _delegable(pep)]})


async def _pep_for_delegation(request: web.Request, who: Caller) -> tuple[PepOverview, ChildProfile]:
    pep = await gateway(request).call(GET_PEP, who, pep_id=require_uuid(request, "pep_id"))
    child = await gateway(request).call(GET_CHILD, who, child_id=pep.child_id)
    return pep, child


@routes.get("/peps/{pep_id}/delegate")
async def delegate_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep, child = await _pep_for_delegation(request, who)
    # The school's own sections are the usual ones to send.
    usual = [s.key for s in pep.sections if s.owner == "designated_teacher"]
    return await _delegate_page(request, pep, child, {"sections": usual})


@routes.post("/peps/{pep_id}/delegate")
async def delegate(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep, child = await _pep_for_delegation(request, who)
    data = await request.post()
    keys = {k for k, _ in _delegable(pep)}
    values: dict[str, Any] = {"sections": [str(v) for v in data.getall("sections", []) if str(v) in keys],
                              "note": str(data.get("note", "")).strip()}
    values.update(DUE.read(data))
    errors: dict[str, str] = {}
    if not values["sections"]:
        errors["sections"] = "Select the sections the school is to complete"
    due, error = parse_date(*DUE.typed(values), "The due date")
    if error:
        errors["due"] = error
    elif due and date.fromisoformat(due) < date.today():
        errors["due"] = "The due date must be today or in the future"
    if len(values["note"]) > 2000:
        errors["note"] = "The note must be 2000 characters or fewer"
    if errors:
        return await _delegate_page(request, pep, child, values, errors)
    fields = {"sections": values["sections"], **({"due_date": due} if due else {}),
              **({"note": values["note"]} if values["note"] else {})}
    try:
        await gateway(request).call(tasks_api.DELEGATE, who, fields, pep_id=pep.id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("delegation refused", extra={"status": p.status, "code": p.code})
        found = {("due" if k == "due_date" else k): v for k, v in p.field_errors().items()
                 if k in ("sections", "due_date", "note")}
        return await _delegate_page(request, pep, child, values, found, None if found else p.message)
    return redirect(f"/peps/{pep.id}?done=delegated")


@routes.get("/tasks/{task_id}/retract")
async def retract_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    task = await gateway(request).call(tasks_api.GET_TASK, who, task_id=require_uuid(request, "task_id"))
    return await render_signed_in(request, "task_retract.html", {"current_page": "tasks", "task": task,
                                                                 "values": {}, "errors": {}})


@routes.post("/tasks/{task_id}/retract")
async def retract(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    task = await gateway(request).call(tasks_api.GET_TASK, who, task_id=require_uuid(request, "task_id"))
    reason = str((await request.post()).get("reason", "")).strip()
    errors = {"reason": "Enter why you are taking the task back"} if not reason else (
        {"reason": "The reason must be 2000 characters or fewer"} if len(reason) > 2000 else {})
    problem = None
    if not errors:
        try:
            await gateway(request).call(tasks_api.RETRACT_TASK, who, {"reason": reason}, task_id=task.id)
        except GatewayProblem as p:
            if p.status == 404:
                raise
            log.info("retract refused", extra={"status": p.status, "code": p.code})
            problem = p.message
        else:
            return redirect(f"/tasks/{task.id}?done=retracted")
    return await render_signed_in(request, "task_retract.html", {"current_page": "tasks", "task": task,
                                                                 "values": {"reason": reason}, "errors": errors,
                                                                 "problem": problem})


# ---- caseload trackers -----------------------------------------------------------------------------------------

TRACKERS = {"overdue": "Overdue", "due_soon": "Due soon", "no_pep_date": "No PEP date", "upcoming": "Upcoming",
            "initial_pep_late": "Initial PEP late", "review_after_change": "Review after a change due",
            "awaiting_qa": "Awaiting QA too long"}
TRACKER_HINTS = {"overdue": "A task is late, a PEP was not submitted in time, or a PEP is past the date it was due.",
                 "due_soon": "A PEP is due within the next few working days.",
                 "no_pep_date": "No PEP under way has a meeting date.",
                 "upcoming": "A PEP meeting in the next 4 weeks.",
                 "initial_pep_late": "The first PEP after entering care was not held in time.",
                 "review_after_change": "A change of school or placement needs a PEP review.",
                 "awaiting_qa": "A submitted PEP has waited longer than it should for the Virtual School's QA."}
CSV_HEADER = ("Child", "School or setting", "Social worker", "PEP meeting", "Alert", "Due", "Reason")


async def _caseload(request: web.Request) -> tuple[Any, dict[str, Any]]:
    """The tracker and filters asked for in the query, and what delegation found for them."""
    who = ensure_signed_in(request)
    category = request.query.get("category", "overdue")
    category = category if category in TRACKERS else "overdue"
    setting_id = optional_uuid(request.query.get("setting_id", "")) or ""
    social_worker_id = optional_uuid(request.query.get("social_worker_id", "")) or ""
    query = CaseloadQuery.model_validate({"category": category, "setting_id": setting_id or None,
                                          "social_worker_id": social_worker_id or None})
    found, names = await asyncio.gather(gateway(request).call(tasks_api.GET_CASELOAD, who, query=query),
                                        setting_names(request, who))
    rows = [{"child": i.child_name, "href": f"/peps/{i.pep_id}" if i.pep_id else f"/children/{i.child_id}",
             "setting": names.get(str(i.setting_id), ""), "social_worker": i.social_worker_name or "",
             "meeting": i.meeting_date, "alerts": [a for a in i.alerts if a.kind == category]} for i in found.items]
    for r in rows:  # the soonest date in the tracker: the one to act on first
        r["due"] = min((a.due for a in r["alerts"] if a.due is not None), default=None)
    return found, {"category": category, "setting_id": setting_id, "social_worker_id": social_worker_id,
                   "names": names, "rows": rows}


def _filters(chosen: dict[str, Any], category: str | None = None) -> str:
    """The query string of a tracker with the filters chosen."""
    return urlencode({k: v for k, v in (("category", category or chosen["category"]),
                                        ("setting_id", chosen["setting_id"]),
                                        ("social_worker_id", chosen["social_worker_id"])) if v})


@routes.get("/caseload")
async def caseload(request: web.Request) -> web.Response:
    """The trackers: counts of each, the children in the one chosen with why and when each was due, and for the
    Virtual School the counts by setting and by social worker (each a link narrowing the list)."""
    found, chosen = await _caseload(request)
    setting_id, social_worker_id = chosen["setting_id"], chosen["social_worker_id"]
    narrowed_to = chosen["names"].get(setting_id, "") if setting_id else ""
    if social_worker_id:
        narrowed_to = next((g.name or "" for g in found.by_social_worker or [] if str(g.id) == social_worker_id),
                           "the social worker")
    category = chosen["category"]
    return await render_signed_in(request, "caseload.html", {
        "current_page": "caseload", "trackers": TRACKERS, "hint": TRACKER_HINTS[category], "found": found,
        "narrowed_to": narrowed_to, "links": {key: _filters(chosen, key) for key in TRACKERS},
        "csv_query": _filters(chosen), "long_date": lambda d: long_date(d.isoformat()) if d else "", **chosen})


@routes.get("/caseload.csv")
async def caseload_csv(request: web.Request) -> web.Response:
    """The children in the tracker chosen, with the filters chosen, one row for each alert: what the page lists."""
    found, chosen = await _caseload(request)
    rows = [[r["child"], r["setting"], r["social_worker"], r["meeting"].isoformat() if r["meeting"] else None,
             TRACKERS[chosen["category"]], a.due.isoformat() if a and a.due else None, a.reason if a else None]
            for r in chosen["rows"] for a in (r["alerts"] or [None])]
    return csv_response(CSV_HEADER, rows, f"caseload-{chosen['category']}-{found.today.isoformat()}.csv")


# ---- how long finished tasks stay in the trays (the LA's VS admin decides) -------------------------------------


async def _tray_page(request: web.Request, la_id: str, value: str, error: str | None = None) -> web.Response:
    org = await gateway(request).call(GET_ORGANISATION, ensure_signed_in(request), org_id=la_id)
    return await render_signed_in(request, "tray_settings.html", {
        "current_page": "home", "org": org, "value": value, "errors": {"tray_days": error} if error else {}})


@routes.get("/organisations/{la_id}/tray-settings")
async def tray_settings_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    current = await gateway(request).call(tasks_api.GET_TRAY_SETTINGS, who, la_id=la_id)
    return await _tray_page(request, la_id, str(current.tray_days))


@routes.post("/organisations/{la_id}/tray-settings")
async def change_tray_settings(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    la_id = require_uuid(request, "la_id")
    value = str((await request.post()).get("tray_days", "")).strip()
    if not value.isdigit() or not 1 <= int(value) <= 365:
        return await _tray_page(request, la_id, value, "Enter a whole number of days from 1 to 365")
    try:
        await gateway(request).call(tasks_api.SET_TRAY_SETTINGS, who, TraySettings(tray_days=int(value)), la_id=la_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("tray settings refused", extra={"status": p.status, "code": p.code})
        return await _tray_page(request, la_id, value, p.field_errors().get("tray_days") or p.message)
    return redirect(f"/organisations/{la_id}?done=tray-settings")
