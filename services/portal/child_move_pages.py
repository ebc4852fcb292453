"""A child's school, placement and the people working with them, changed by name (issue 18): the LA's Virtual
School picks the new school from its settings, the social worker, IRO and carers from its people, and gives a
change of school or placement its start date and reason. Nobody types an id.

pep decides who may (the profile's `can_move`; others get "Page not found") and what is allowed; the portal draws
the pickers from pep's record choices and shows whatever pep says when it refuses. Each form carries the version
it started from: if someone changed the record since, their values are shown and nothing typed is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from services.portal import pep_words
from services.portal.children_pages import ensure_signed_in
from services.portal.forms import DateField
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from services.portal.pep_forms import long_date, parse_date
from services.portal.text_limits import max_length
from shared.api import children as children_api
from shared.api.children import ChildProfile, RecordChoices, SettingMove

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
STARTS = DateField("starts_on")
NOBODY = ""  # the select's value for "nobody allocated"
REASON_MAX = max_length(SettingMove, "reason")  # as pep refuses more (PlacementMove's is the same)


async def _child_and_choices(request: web.Request, child_id: str) -> tuple[ChildProfile, RecordChoices]:
    who = ensure_signed_in(request)
    child = await gateway(request).call(children_api.GET_CHILD, who, child_id=child_id)
    if not child.can_move:
        raise web.HTTPNotFound()
    choices = await gateway(request).call(children_api.RECORD_CHOICES, who, child_id=child_id)
    return child, choices


def _version(data: Any) -> int:
    text = str(data.get("version", ""))
    return int(text) if text.isdigit() else 0


def _start_and_reason(data: Any, values: dict[str, str], errors: dict[str, str], what: str) -> str | None:
    """The start date and reason every move needs, both required; the ISO start date when it is a real one."""
    values.update(STARTS.read(data))
    values["reason"] = str(data.get("reason", "")).strip()
    starts, error = parse_date(*STARTS.typed(values), "The start date")
    if error or not starts:
        errors["starts_on"] = error or ("Enter the start date at the new school" if what == "school" else
                                        "Enter the start date of the new placement")
    if not values["reason"]:
        errors["reason"] = f"Enter the reason for the change of {what}"
    elif len(values["reason"]) > REASON_MAX:
        errors["reason"] = f"The reason must be {REASON_MAX} characters or fewer"
    return starts


def _setting_name(choices: RecordChoices, setting_id: Any) -> str:
    names = {str(s.id): s.name for s in choices.settings}
    return names.get(str(setting_id), "An education setting") if setting_id else "Not recorded"


def _latest_move(child: ChildProfile) -> str:
    if child.moved_on is None:
        return "None recorded"
    kind = "Change of school" if child.move_kind == "school" else "Change of placement"
    return f"{kind} from {long_date(child.moved_on.isoformat())}" + (f": {child.move_reason}"
                                                                       if child.move_reason else "")


def _row(key: str, value: str) -> dict[str, Any]:
    return {"key": {"text": key}, "value": {"text": value}}


async def _refused(request: web.Request, p: GatewayProblem, child_id: str, fields: tuple[str, ...],
                   ) -> tuple[ChildProfile, RecordChoices, dict[str, str], str | None, bool]:
    """After pep refused: the record as it is now, the errors by field, the problem, and whether it was a clash."""
    if p.status == 404:
        raise p
    log.info("child record not changed", extra={"status": p.status, "code": p.code})
    child, choices = await _child_and_choices(request, child_id)
    if p.status == 409:
        return child, choices, {}, ("Someone else changed this record since you opened it. Check what is recorded "
                                    "now below; saving again makes your change."), True
    found = {k: v for k, v in p.field_errors().items() if k in fields}
    return child, choices, found, None if found else p.message, False


# ---- a change of school -------------------------------------------------------------------------------------------


async def _school_page(request: web.Request, child: ChildProfile, choices: RecordChoices, values: dict[str, str],
                       errors: dict[str, str] | None = None, problem: str | None = None,
                       theirs: list[dict[str, Any]] | None = None) -> web.Response:
    errors = errors or {}
    settings = [s for s in choices.settings if s.id != child.setting_id]
    return await render_signed_in(request, "child_school.html", {
        "current_page": "children", "child": child, "values": values, "errors": errors, "problem": problem,
        "theirs": theirs, "version": values.get("version") or child.version,
        "current_setting": _setting_name(choices, child.setting_id), "reason_max": REASON_MAX,
        "setting_items": [{"value": "", "text": "Choose a school or setting"}] + [
            {"value": str(s.id), "text": s.name, "selected": values.get("setting_id") == str(s.id)}
            for s in settings],
        "starts_items": STARTS.items(values, errors.get("starts_on"))})


@routes.get("/children/{child_id}/school")
async def school_form(request: web.Request) -> web.Response:
    child, choices = await _child_and_choices(request, require_uuid(request, "child_id"))
    return await _school_page(request, child, choices, {"version": str(child.version)})


@routes.post("/children/{child_id}/school")
async def change_school(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    values: dict[str, str] = {"setting_id": str(data.get("setting_id", "")).strip()}
    errors: dict[str, str] = {}
    child, choices = await _child_and_choices(request, child_id)
    if values["setting_id"] not in {str(s.id) for s in choices.settings}:
        values["setting_id"] = ""
        errors["setting_id"] = "Select the new school or setting"
    starts = _start_and_reason(data, values, errors, "school")
    version = _version(data) or child.version
    values["version"] = str(version)
    if errors:
        return await _school_page(request, child, choices, values, errors)
    try:
        await gateway(request).call(children_api.MOVE_SETTING, who, {
            "version": version, "setting_id": values["setting_id"], "starts_on": starts, "reason": values["reason"]},
            child_id=child_id)
    except GatewayProblem as p:
        child, choices, found, problem, clash = await _refused(request, p, child_id,
                                                               ("setting_id", "starts_on", "reason"))
        theirs = [_row("School or setting", _setting_name(choices, child.setting_id)),
                  _row("Latest change of school or placement", _latest_move(child))] if clash else None
        return await _school_page(request, child, choices, {**values, "version": str(child.version if clash
                                                                                     else version)},
                                  found, problem, theirs)
    return redirect(f"/children/{child_id}?done=school")


# ---- a change of placement ----------------------------------------------------------------------------------------


async def _placement_page(request: web.Request, child: ChildProfile, values: dict[str, str],
                          errors: dict[str, str] | None = None, problem: str | None = None,
                          theirs: list[dict[str, Any]] | None = None) -> web.Response:
    errors = errors or {}
    return await render_signed_in(request, "child_placement.html", {
        "current_page": "children", "child": child, "values": values, "errors": errors, "problem": problem,
        "theirs": theirs, "version": values.get("version") or child.version, "reason_max": REASON_MAX,
        "current_placement": pep_words.words(pep_words.PLACEMENT_TYPES, child.placement_type),
        "placement_items": [{"value": "", "text": "Choose the type of placement"}] + [
            {"value": k, "text": v, "selected": values.get("placement_type") == k}
            for k, v in pep_words.PLACEMENT_TYPES.items()],
        "starts_items": STARTS.items(values, errors.get("starts_on"))})


def _carer_values(child: ChildProfile) -> dict[str, str]:
    carer = child.carer
    return {"carer_name": carer.name if carer else "", "carer_phone": (carer.phone or "") if carer else ""}


@routes.get("/children/{child_id}/placement")
async def placement_form(request: web.Request) -> web.Response:
    child, _ = await _child_and_choices(request, require_uuid(request, "child_id"))
    return await _placement_page(request, child, {"version": str(child.version), "placement_type":
                                                  child.placement_type or "", **_carer_values(child)})


@routes.post("/children/{child_id}/placement")
async def change_placement(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    values = {name: str(data.get(name, "")).strip() for name in ("placement_type", "carer_name", "carer_phone")}
    errors: dict[str, str] = {}
    child, _ = await _child_and_choices(request, child_id)
    if values["placement_type"] not in pep_words.PLACEMENT_TYPES:
        values["placement_type"] = ""
        errors["placement_type"] = "Select the type of the new placement"
    starts = _start_and_reason(data, values, errors, "placement")
    if len(values["carer_name"]) > 200:
        errors["carer_name"] = "The carer’s name must be 200 characters or fewer"
    if values["carer_phone"] and not values["carer_name"]:
        errors["carer_name"] = "Enter the carer’s name, or clear their phone number"
    elif len(values["carer_phone"]) > 40:
        errors["carer_phone"] = "The carer’s phone number must be 40 characters or fewer"
    version = _version(data) or child.version
    values["version"] = str(version)
    if errors:
        return await _placement_page(request, child, values, errors)
    carer = {"name": values["carer_name"], "phone": values["carer_phone"] or None} if values["carer_name"] else None
    try:
        await gateway(request).call(children_api.MOVE_PLACEMENT, who, {
            "version": version, "placement_type": values["placement_type"], "starts_on": starts,
            "reason": values["reason"], "carer": carer}, child_id=child_id)
    except GatewayProblem as p:
        child, _, found, problem, clash = await _refused(request, p, child_id, (
            "placement_type", "starts_on", "reason"))
        if "carer" in p.field_errors():
            found["carer_name"] = "Check the carer’s name and phone number"
        theirs = [_row("Placement", pep_words.words(pep_words.PLACEMENT_TYPES, child.placement_type)),
                  _row("Carer", ", ".join(v for v in _carer_values(child).values() if v) or "Not recorded"),
                  _row("Latest change of school or placement", _latest_move(child))] if clash else None
        return await _placement_page(request, child, {**values, "version": str(child.version if clash else version)},
                                     found, problem, theirs)
    return redirect(f"/children/{child_id}?done=placement")


# ---- the people allocated -----------------------------------------------------------------------------------------

# {field: (label, the choices' group, the "nobody" option, the error when the choice is not one offered)}
PEOPLE = {"social_worker_id": ("Social worker", "social_workers", "No social worker allocated",
                               "Select the social worker from the list"),
          "iro_id": ("Independent Reviewing Officer (IRO)", "iros", "No IRO allocated", "Select the IRO from the list")}


def _people_values(child: ChildProfile) -> dict[str, Any]:
    return {"social_worker_id": str(child.social_worker_id or NOBODY), "iro_id": str(child.iro_id or NOBODY),
            "carer_ids": [str(c) for c in child.carer_ids]}


def _person_name(choices: RecordChoices, group: str, person_id: str) -> str:
    return next((p.name for p in getattr(choices, group) if str(p.id) == person_id), "Someone without an account "
                "here now") if person_id else "Nobody"


async def _people_page(request: web.Request, child: ChildProfile, choices: RecordChoices, values: dict[str, Any],
                       errors: dict[str, str] | None = None, problem: str | None = None,
                       theirs: list[dict[str, Any]] | None = None) -> web.Response:
    selects = []
    for name, (label, group, none, _) in PEOPLE.items():
        selects.append({"id": name, "label": label, "items": [{"value": NOBODY, "text": none}] + [
            {"value": str(p.id), "text": p.name, "selected": values[name] == str(p.id)}
            for p in getattr(choices, group)]})
    return await render_signed_in(request, "child_people.html", {
        "current_page": "children", "child": child, "errors": errors or {}, "problem": problem, "theirs": theirs,
        "version": values.get("version") or child.version, "selects": selects,
        "carer_items": [{"value": str(p.id), "text": p.name, "checked": str(p.id) in values["carer_ids"]}
                        for p in choices.carers]})


@routes.get("/children/{child_id}/people")
async def people_form(request: web.Request) -> web.Response:
    child, choices = await _child_and_choices(request, require_uuid(request, "child_id"))
    return await _people_page(request, child, choices, _people_values(child))


@routes.post("/children/{child_id}/people")
async def change_people(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()
    child, choices = await _child_and_choices(request, child_id)
    values: dict[str, Any] = {name: str(data.get(name, "")).strip() for name in PEOPLE}
    values["carer_ids"] = [str(c) for c in data.getall("carer_ids", [])]
    errors: dict[str, str] = {}
    for name, (_, group, _, message) in PEOPLE.items():
        if values[name] and values[name] not in {str(p.id) for p in getattr(choices, group)}:
            values[name] = NOBODY
            errors[name] = message
    known = {str(p.id) for p in choices.carers}
    if any(c not in known for c in values["carer_ids"]):
        values["carer_ids"] = [c for c in values["carer_ids"] if c in known]
        errors["carer_ids"] = "Select carers from the list"
    version = _version(data) or child.version
    values["version"] = str(version)
    if errors:
        return await _people_page(request, child, choices, values, errors)
    try:
        await gateway(request).call(children_api.CHANGE_CHILD, who, {
            "version": version, "social_worker_id": values["social_worker_id"] or None,
            "iro_id": values["iro_id"] or None, "carer_ids": values["carer_ids"]}, child_id=child_id)
    except GatewayProblem as p:
        child, choices, found, problem, clash = await _refused(request, p, child_id, (*PEOPLE, "carer_ids"))
        now = _people_values(child)
        theirs = [_row("Social worker", _person_name(choices, "social_workers", now["social_worker_id"])),
                  _row("IRO", _person_name(choices, "iros", now["iro_id"])),
                  _row("Carers with an account", ", ".join(_person_name(choices, "carers", c)
                                                           for c in now["carer_ids"]) or "None")] if clash else None
        return await _people_page(request, child, choices, {**values, "version": str(child.version if clash
                                                                                      else version)},
                                  found, problem, theirs)
    return redirect(f"/children/{child_id}?done=people")
