"""Keeping children's records: adding a child, changing their core data, importing children from CSV, recording
attendance.

pep decides who may (the Virtual School's administrators and caseworkers, the allocated social worker for their
child's details) and what a value may be; the portal offers the pages to those the profile says may edit, and shows
whatever pep says when it refuses. A change carries the version it started from: if someone changed the record
since, their values are shown and nothing of theirs is overwritten unseen.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from services.portal import pep_words
from services.portal.children_pages import ensure_signed_in
from services.portal.forms import DateField
from services.portal.gateway_client import Caller, GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import parse_date
from shared.api import children as children_api
from shared.api.auth import GET_ME
from shared.api.children import ChildProfile

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
EDITORS = ("vs_admin", "vs_caseworker")
YEAR_GROUPS = ("Nursery", "Reception", *(f"Year {n}" for n in range(1, 14)))
TEXT_FIELDS = ("given_name", "family_name", "ethnicity", "first_language", "upn", "social_care_id", "health_notes")
CHOICE_FIELDS = {"gender": pep_words.GENDERS, "sen_status": pep_words.SEN_STATUSES,
                 "year_group": {y: y for y in YEAR_GROUPS}}
LABELS = {"given_name": "Given name", "family_name": "Family name", "date_of_birth": "Date of birth",
          "gender": "Gender", "ethnicity": "Ethnicity", "first_language": "First language",
          "upn": "Unique Pupil Number (UPN)", "social_care_id": "Social care ID", "year_group": "Year group",
          "sen_status": "Special educational needs", "health_notes": "Health",
          "date_entered_care": "Date entered care", "entered_care_emergency": "Entered care by emergency placement"}
EMERGENCY = {"true": "Yes", "false": "No"}  # the radios' values, as the API's true and false
MAX_CSV = 900_000


async def editable_las(request: web.Request, who: Caller) -> list[tuple[str, str]]:
    """(id, name) of the local authorities where this person may add and import children."""
    me = await gateway(request).call(GET_ME, who)
    found = {str(m.organisation_id): m.organisation_name for m in me.memberships
             if m.organisation_type == "local_authority" and m.role in EDITORS}
    return sorted(found.items(), key=lambda kv: kv[1].casefold())


def _la_items(las: list[tuple[str, str]], chosen: str) -> list[dict[str, Any]]:
    return [{"value": k, "text": v, "checked": chosen == k} for k, v in las]


# ---- the core data form, shared by adding and changing ----------------------------------------------------------


BORN = DateField("date_of_birth")
ENTERED = DateField("date_entered_care")
# The attendance form's two dates: (the boxes, the legend, how an error names it).
PERIOD = ((DateField("period_start"), "First day of the period", "The first day of the period"),
          (DateField("period_end"), "Last day of the period", "The last day of the period"))


def values_of(child: ChildProfile) -> dict[str, str]:
    values = {name: str(getattr(child, name) or "") for name in (*TEXT_FIELDS, *CHOICE_FIELDS)}
    born, entered = child.date_of_birth, child.date_entered_care
    values.update(BORN.values_for(born.day, born.month, born.year))
    values.update(ENTERED.values_for(entered.day, entered.month, entered.year) if entered else
                  ENTERED.values_for("", "", ""))
    values["entered_care_emergency"] = "true" if child.entered_care_emergency else "false"
    return values


def read_core(data: Any) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """(what was typed, the gateway's fields, errors by input id)."""
    values = {name: str(data.get(name, "")).strip() for name in (*TEXT_FIELDS, *CHOICE_FIELDS)}
    values.update(BORN.read(data))
    values.update(ENTERED.read(data))
    values["entered_care_emergency"] = str(data.get("entered_care_emergency", "")).strip()
    if values["entered_care_emergency"] not in EMERGENCY:
        values["entered_care_emergency"] = ""
    errors: dict[str, str] = {}
    if not values["given_name"]:
        errors["given_name"] = "Enter the child’s given name"
    if not values["family_name"]:
        errors["family_name"] = "Enter the child’s family name"
    born, error = parse_date(*BORN.typed(values), "Date of birth")
    if error or not born:
        errors["date_of_birth"] = error or "Enter the child’s date of birth"
    for name, choices in CHOICE_FIELDS.items():
        if values[name] and values[name] not in choices:
            values[name] = ""
    fields: dict[str, Any] = {name: values[name] or None for name in (*TEXT_FIELDS, *CHOICE_FIELDS)}
    fields["date_of_birth"] = born
    entered, error = parse_date(*ENTERED.typed(values), "Date entered care")
    if error:
        errors["date_entered_care"] = error
    fields["date_entered_care"] = entered
    fields["entered_care_emergency"] = values["entered_care_emergency"] == "true"
    return values, fields, errors


def _core_items(values: dict[str, str], errors: dict[str, str] | None) -> dict[str, list[dict[str, Any]]]:
    items = {f"{name}_items": [{"value": "", "text": "Not recorded"}] + [
        {"value": k, "text": v, "selected": values.get(name) == k} for k, v in choices.items()]
        for name, choices in CHOICE_FIELDS.items()}
    return items | {"date_of_birth_items": BORN.items(values, (errors or {}).get("date_of_birth")),
                    "date_entered_care_items": ENTERED.items(values, (errors or {}).get("date_entered_care")),
                    "emergency_items": [{"value": k, "text": v, "checked": values.get("entered_care_emergency") == k}
                                        for k, v in EMERGENCY.items()]}


def _gateway_errors(problem: GatewayProblem) -> dict[str, str]:
    return {k: v for k, v in problem.field_errors().items() if k in LABELS or k == "la_id"}


# ---- adding a child ------------------------------------------------------------------------------------------------


async def _add_page(request: web.Request, las: list[tuple[str, str]], values: dict[str, str],
                    errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    return await render_signed_in(request, "child_add.html", {
        "current_page": "children", "values": values, "errors": errors or {}, "problem": problem,
        "labels": LABELS, "las": las, "la_items": _la_items(las, values.get("la_id", "")),
        **_core_items(values, errors)})


@routes.get("/children/add")
async def add_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    las = await editable_las(request, who)
    if not las:
        raise web.HTTPNotFound()
    return await _add_page(request, las, {"la_id": las[0][0] if len(las) == 1 else ""})


@routes.post("/children/add")
async def add(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    las = await editable_las(request, who)
    if not las:
        raise web.HTTPNotFound()
    data = await request.post()
    values, fields, errors = read_core(data)
    values["la_id"] = str(data.get("la_id", "")) if len(las) > 1 else las[0][0]
    if values["la_id"] not in dict(las):
        errors["la_id"] = "Select the local authority"
    if errors:
        return await _add_page(request, las, values, errors)
    try:
        child = await gateway(request).call(children_api.ADD_CHILD, who, {
            "la_id": values["la_id"], **{k: v for k, v in fields.items() if v is not None}})
    except GatewayProblem as p:
        log.info("child not added", extra={"status": p.status, "code": p.code})
        found = _gateway_errors(p)
        return await _add_page(request, las, values, found, None if found else p.message)
    return redirect(f"/children/{child.id}?done=added")


# ---- changing a child's core data ----------------------------------------------------------------------------------


async def _change_page(request: web.Request, child: ChildProfile, values: dict[str, str], version: int,
                       errors: dict[str, str] | None = None, problem: str | None = None,
                       theirs: list[dict[str, Any]] | None = None) -> web.Response:
    return await render_signed_in(request, "child_change.html", {
        "current_page": "children", "child": child, "values": values, "version": version, "errors": errors or {},
        "problem": problem, "theirs": theirs, "labels": LABELS, **_core_items(values, errors)})


def _changed_rows(mine: dict[str, str], current: dict[str, str]) -> list[dict[str, Any]]:
    """Where the record now differs from what this person sent: a summary list's rows of the current values."""
    rows = []
    for name, label in LABELS.items():
        if name in ("date_of_birth", "date_entered_care"):
            box = BORN if name == "date_of_birth" else ENTERED
            now, sent = "/".join(box.typed(current)).strip("/"), "/".join(box.typed(mine)).strip("/")
        elif name == "entered_care_emergency":
            now = EMERGENCY.get(current.get(name, ""), "")
            sent = EMERGENCY.get(mine.get(name, "") or "false", "")
        else:
            now, sent = current.get(name, ""), mine.get(name, "")
        if now != sent:
            rows.append({"key": {"text": label}, "value": {"text": now or "Not recorded"}})
    return rows


@routes.get("/children/{child_id}/change")
async def change_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=require_uuid(request, "child_id"))
    if not child.can_edit:
        raise web.HTTPNotFound()
    return await _change_page(request, child, values_of(child), child.version)


@routes.post("/children/{child_id}/change")
async def change(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    values, fields, errors = read_core(data)
    version_text = str(data.get("version", ""))
    version = int(version_text) if version_text.isdigit() else 0
    if errors or version < 1:
        child = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
        return await _change_page(request, child, values, version or child.version, errors)
    try:
        await gateway(request).call(children_api.CHANGE_CHILD, who, {**fields, "version": version}, child_id=child_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("child not changed", extra={"status": p.status, "code": p.code})
        child = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
        if p.status == 409:
            return await _change_page(
                request, child, values, child.version, problem="Someone else changed this record since you "
                "opened it. Check their values below; saving now replaces them with yours.",
                theirs=_changed_rows(values, values_of(child)))
        found = _gateway_errors(p)
        return await _change_page(request, child, values, version, found, None if found else p.message)
    return redirect(f"/children/{child_id}?done=changed")


# ---- importing children from CSV -----------------------------------------------------------------------------------


async def _import_page(request: web.Request, las: list[tuple[str, str]], values: dict[str, str],
                       errors: dict[str, str] | None = None, problem: str | None = None,
                       report: list[dict[str, Any]] | None = None, columns: list[dict[str, Any]] | None = None,
                       result: dict[str, int] | None = None) -> web.Response:
    return await render_signed_in(request, "children_import.html", {
        "current_page": "children", "values": values, "errors": errors or {}, "problem": problem, "las": las,
        "la_items": _la_items(las, values.get("la_id", "")), "report": report, "columns": columns or [],
        "result": result})


@routes.get("/children/import")
async def import_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    las = await editable_las(request, who)
    if not las:
        raise web.HTTPNotFound()
    return await _import_page(request, las, {"la_id": las[0][0] if len(las) == 1 else "", "csv": ""})


@routes.post("/children/import")
async def import_children(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    las = await editable_las(request, who)
    if not las:
        raise web.HTTPNotFound()
    data = await request.post()
    values = {"la_id": str(data.get("la_id", "")) if len(las) > 1 else las[0][0], "csv": str(data.get("csv", ""))}
    upload = data.get("csv_file")
    text = values["csv"]
    errors: dict[str, str] = {}
    if isinstance(upload, web.FileField) and upload.filename:
        try:
            text = upload.file.read(MAX_CSV + 1).decode("utf-8-sig")
        except UnicodeDecodeError:
            errors["csv_file"] = "The selected file must be a CSV file saved as UTF-8"
    if values["la_id"] not in dict(las):
        errors["la_id"] = "Select the local authority"
    if not errors and not text.strip():
        errors["csv"] = "Paste the CSV or choose a CSV file"
    elif len(text) > MAX_CSV:
        errors["csv"] = "The CSV must be smaller than 900 KB: split it into smaller files"
    if errors:
        return await _import_page(request, las, values, errors)
    try:
        done = await gateway(request).call(children_api.IMPORT_CHILDREN, who, {"la_id": values["la_id"], "csv": text})
    except GatewayProblem as p:
        log.info("children import refused", extra={"status": p.status, "code": p.code})
        report = p.extra.get("report")
        if p.status == 422 and isinstance(report, list):
            return await _import_page(request, las, values, problem=p.message,
                                      report=[r for r in report if isinstance(r, dict)],
                                      columns=[c for c in p.extra.get("columns") or [] if isinstance(c, dict)])
        found = {k: v for k, v in p.field_errors().items() if k in ("la_id", "csv")}
        return await _import_page(request, las, values, found, None if found else p.message)
    return await _import_page(request, las, {"la_id": values["la_id"], "csv": ""},
                              result=done.model_dump())


# ---- recording attendance -------------------------------------------------------------------------------------------

SESSIONS = {"possible_sessions": "Possible sessions", "attended_sessions": "Sessions attended",
            "authorised_absences": "Authorised absences", "unauthorised_absences": "Unauthorised absences"}


async def _attendance_page(request: web.Request, child: ChildProfile, values: dict[str, str],
                           errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    return await render_signed_in(request, "child_attendance.html", {
        "current_page": "children", "child": child, "values": values, "errors": errors or {}, "problem": problem,
        "sessions": SESSIONS,
        "periods": [{"legend": legend, "id": f"{box.name}-input", "name": box.name,
                     "items": box.items(values, (errors or {}).get(box.name))} for box, legend, _ in PERIOD]})


@routes.get("/children/{child_id}/attendance")
async def attendance_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=require_uuid(request, "child_id"))
    return await _attendance_page(request, child, {})


@routes.post("/children/{child_id}/attendance")
async def record_attendance(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    values = {k: str(data.get(k, "")).strip() for k in SESSIONS}
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for box, _, label in PERIOD:
        values.update(box.read(data))
        when, error = parse_date(*box.typed(values), label)
        if error or not when:
            errors[box.name] = error or f"Enter {label[0].lower()}{label[1:]}"
        fields[box.name] = when
    for name, label in SESSIONS.items():
        optional = name.endswith("absences")
        if not values[name] and optional:
            fields[name] = 0
        elif not values[name].isdigit() or int(values[name]) > 1000:
            errors[name] = f"{label} must be a whole number from 0 to 1000"
        else:
            fields[name] = int(values[name])
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
    if errors:
        return await _attendance_page(request, child, values, errors)
    try:
        await gateway(request).call(children_api.RECORD_ATTENDANCE, who, fields, child_id=child_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("attendance not recorded", extra={"status": p.status, "code": p.code})
        found = {k: v for k, v in p.field_errors().items() if k in fields}
        return await _attendance_page(request, child, values, found, None if found else p.message)
    return redirect(f"/children/{child_id}?done=attendance")
