"""A whole world for the portal's pages, made from the answer models: every string in it says `<b>Bold</b> & Co`.

`world_answers()` gives the stand-in gateway (tests/portal/fake_gateway.py) an answer for every GET the portal
makes, each one a sample of the model the portal reads it as, so every page can be drawn with text that must be
escaped once. Every id is the same UUID, so every link a page draws leads to another page of the same world.
"""

from __future__ import annotations

import types
import typing
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from services.portal import delivery_pages, email_preview_pages, timescale_pages
from services.portal import gateway_client as gc
from shared.api import qa as qa_api
from shared.api.templates import Section

EVIL = "<b>Bold</b> & Co"
SHOWN = "&lt;b&gt;Bold&lt;/b&gt; &amp; Co"  # the same text, escaped once
ID = "5f6d2c3e-9a1b-4c7d-8e2f-0a1b2c3d4e5f"
SETTING = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"  # a school in the LA whose id is ID; its DT is the same person
KEY = "learning"  # a PEP section's and a template section's key
WHEN = "2026-11-23T10:00:00+00:00"
DAY = "2026-11-23"

# Fields whose words the portal looks up or compares: a value it knows, so pages take their usual branch.
KNOWN: dict[str, Any] = {
    "organisation_type": "local_authority", "role": "vs_admin", "roles": ["vs_admin"], "status": "in_progress",
    "kind": "termly", "term": "autumn", "academic_year": "2026/27", "access": "virtual_school", "owner":
    "designated_teacher", "key": KEY, "email": "evil@example.test", "contact_email": "evil@example.test",
    "phase": "primary", "setting_type": "school", "unit": "working_days", "counts": "after the meeting",
    "content_type": "application/pdf", "sen_status": "none", "gender": "female", "reminders": "immediate",
    "urn": "123456", "upn": "A123456789012", "uln": "1234567890", "placement": "planned", "action": "assign",
    "outcome": "approved", "grade": "good", "overall_grade": "good", "awarded": "good", "template": "sign_in_code",
    "question_set": "words", "category": "overdue", "href": f"/children/{ID}", "symbol": "happy",
    "awarded_only": False,
}
MONEY = ("amount", "allocation", "pp_plus_agreed", "amount_requested", "amount_approved", "total", "spent")


def _sample_model(model: type[BaseModel], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        out[name] = sample(info.annotation, name, depth + 1)
    return out


def sample(tp: Any, name: str = "", depth: int = 0) -> Any:
    """A JSON value of type `tp` for a field called `name`: text is EVIL unless the portal needs to know it."""
    if depth > 8:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return sample(args[0], name, depth)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return sample(real[0], name, depth) if real else None
    if origin is typing.Literal:
        return KNOWN.get(name) if KNOWN.get(name) in args else args[0]
    if origin in (list, tuple, set, frozenset) or tp in (list,):
        if name in KNOWN and isinstance(KNOWN[name], list):
            return KNOWN[name]
        item = args[0] if args else str
        return [sample(item, name, depth)]
    if origin is dict or tp is dict:
        value = args[1] if len(args) == 2 else str
        return {KEY: sample(value, name, depth)}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _sample_model(tp, depth)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return next(iter(tp)).value
    if tp is bool:
        return KNOWN.get(name, True)
    if tp in (int, float, Decimal):
        return 3
    if tp is datetime:
        return WHEN
    if tp is date:
        return DAY
    if tp is uuid.UUID:
        return ID
    if tp is str or tp is Any or tp is object:
        if name in KNOWN:
            return KNOWN[name]
        if name in MONEY or name.startswith("amount"):
            return "1234.50"
        if name == "id" or name.endswith("_id") or name.endswith("_ids"):
            return ID
        if name.endswith("_at") or name in ("at", "since", "until"):
            return WHEN
        if name.endswith("date") or name in ("due", "start", "end", "born"):
            return DAY
        return EVIL
    return EVIL


def section_definition() -> dict[str, Any]:
    """A section with a question of each kind the form draws, every label and choice EVIL."""
    choice = [{"value": "yes", "label": EVIL, "symbol": "happy"}, {"value": "no", "label": EVIL}]
    fields = [
        {"key": "summary", "label": EVIL, "type": "text", "hint": EVIL, "mandatory": True},
        {"key": "notes", "label": EVIL, "type": "long_text"},
        {"key": "started", "label": EVIL, "type": "date"},
        {"key": "feeling", "label": EVIL, "type": "single_choice", "options": choice},
        {"key": "needs", "label": EVIL, "type": "multiple_choice", "options": choice},
        {"key": "why", "label": EVIL, "type": "text", "show_when": {"field": "feeling", "equals": ["yes"]}},
        {"key": "targets", "label": EVIL, "type": "group", "fields": [
            {"key": "target", "label": EVIL, "type": "text"}]},
    ]
    return Section.model_validate({"key": KEY, "title": EVIL, "owner": "designated_teacher", "description": EVIL,
                                   "fields": fields}).model_dump(mode="json", exclude_none=True)


ANSWERS = {"summary": EVIL, "notes": EVIL, "started": DAY, "feeling": "yes", "needs": ["yes"], "why": EVIL,
           "targets": [{"target": EVIL}]}


def _section_out() -> dict[str, Any]:
    out = sample(gc.SectionOut, "section")
    out.update({"definition": section_definition(), "answers": ANSWERS, "key": KEY})
    return out


def world_answers() -> dict[tuple[str, str], Any]:
    """{(method, path): body} for every GET the portal's pages make, in this world."""
    s = sample
    pep = s(gc.PepOverview)
    pep["sections"] = [{**s(gc.SectionState), "key": KEY}]
    template = s(gc.TemplateOut)
    template["body"] = {"key": "school-age", "name": EVIL, "phase": "school_age", "version": 1,
                        "sections": [section_definition()]}
    timescales = s(timescale_pages.Timescales)
    timescales["rules"] = {name: s(timescale_pages.Rule) for name in timescale_pages.RULE_NAMES}
    views_form = {"audience": "young_person", "given_name": EVIL, "title": EVIL, "expires_at": WHEN,
                  "saved_at": WHEN, "answers": ANSWERS, "questions": section_definition()["fields"]}
    views_section = {**_section_out(), "key": "views"}
    views_section["definition"]["key"] = "views"
    invitation = {"id": ID, "section": "views", "email": "evil@example.test", "given_name": EVIL, "name": EVIL,
                  "question_set": "words", "expires_at": WHEN, "last_used_at": WHEN, "created_at": WHEN,
                  "status": "open", "sent_by": EVIL}
    org, child, task = f"/organisations/{ID}", f"/children/{ID}", f"/tasks/{ID}"
    peps, section = f"/peps/{ID}", f"/peps/{ID}/sections/{KEY}"
    me = s(gc.Me)
    me["memberships"].append({**me["memberships"][0], "organisation_id": SETTING, "organisation_type": "setting",
                              "role": "designated_teacher"})
    setting = {**s(gc.OrganisationDetail), "id": SETTING, "organisation_type": "setting", "la_id": ID}
    school = f"/organisations/{SETTING}"
    answers: dict[tuple[str, str], Any] = {
        ("GET", "/me"): me,
        ("GET", school): setting,
        ("GET", f"{school}/users"): [{**s(gc.Member), "roles": ["setting_staff"]}],
        ("GET", f"{school}/designated-teacher/history"): [s(gc.Nomination)],
        ("POST", f"{org}/timescales/preview"): s(timescale_pages.Preview),
        ("GET", "/session"): s(gc.SessionTimes),
        ("GET", "/invitations/lookup"): s(gc.InvitationSummary),
        ("GET", "/me/sessions"): [s(gc.SessionSummary)],
        ("GET", "/me/notification-preferences"): {"reminders": "immediate"},
        ("GET", org): s(gc.OrganisationDetail),
        ("GET", f"{org}/settings"): [s(gc.SettingSummary)],
        ("GET", f"{org}/users"): [s(gc.Member)],
        ("GET", f"{org}/invitations"): [s(gc.OpenInvitation)],
        ("GET", f"{org}/designated-teacher/history"): [s(gc.Nomination)],
        ("GET", f"{org}/audit"): [s(gc.AuditEntry)],
        ("GET", f"{org}/tray-settings"): {"tray_days": 30},
        ("GET", f"{org}/retention"): {"keep_until_age": 25},
        ("GET", f"{org}/pp-plus-allocation"): s(qa_api.Allocation),
        ("GET", f"{org}/timescales"): timescales,
        ("GET", f"{org}/timescales/history"): [s(timescale_pages.Version)],
        ("GET", f"{org}/deliveries"): s(delivery_pages.DeliveryPage),
        ("GET", "/children"): s(gc.ChildList),
        ("GET", child): s(gc.ChildProfile),
        ("GET", f"{child}/peps"): [s(gc.PepSummary)],
        ("GET", f"{child}/access-log"): s(gc.AccessLog),
        ("GET", f"{child}/subject-access"): {"child": EVIL},
        ("GET", f"{child}/attendance"): [s(gc.AttendanceRecord)],
        ("GET", f"{child}/notes"): [s(gc.Note)],
        ("GET", f"{child}/activity"): [s(gc.ActivityItem)],
        ("GET", f"{child}/attachments"): [s(gc.Attachment)],
        ("GET", f"/attachments/{ID}"): s(gc.Attachment),
        ("GET", "/tasks"): s(gc.TaskList),
        ("GET", task): s(gc.Task),
        ("GET", "/caseload"): s(gc.Caseload),
        ("GET", peps): pep,
        ("GET", f"{peps}/tasks"): [s(gc.Task)],
        ("GET", f"{peps}/deadlines"): s(gc.PepDeadlines),
        ("GET", f"{peps}/missing"): [s(gc.Missing)],
        ("GET", f"{peps}/review"): s(qa_api.PepReview),
        ("GET", section): _section_out(),
        ("GET", f"{section}/history"): [s(gc.SavedVersion)],
        ("GET", f"{section}/compare"): [s(gc.Difference)],
        ("GET", f"{peps}/sections/views"): views_section,
        ("GET", f"{peps}/views-invitations"): [invitation],
        ("GET", "/templates"): [s(gc.TemplateSummary)],
        ("GET", f"/templates/{ID}"): template,
        ("GET", "/qa/queue"): s(qa_api.Queue),
        ("GET", "/funding"): s(qa_api.FundingList),
        ("GET", "/dashboard"): s(qa_api.Dashboard),
        ("GET", "/email-previews"): {"items": [s(email_preview_pages.EmailPreview)]},
        ("GET", "/views/form"): views_form,
    }
    return answers


def write_answers() -> dict[tuple[str, str], tuple[int, Any]]:
    """{(method, path): (status, body)} for every change a portal form asks for, in this world."""
    s = sample
    org, school, child = f"/organisations/{ID}", f"/organisations/{SETTING}", f"/children/{ID}"
    peps, section = f"/peps/{ID}", f"/peps/{ID}/sections/{KEY}"
    done = (204, None)
    return {
        ("POST", "/auth/sign-in"): (200, {"attempt_id": ID}),
        ("POST", "/auth/sign-in/verify"): (200, {"user_id": ID}),
        ("POST", "/auth/sign-in/resend"): (200, {"attempt_id": ID}),
        ("POST", "/auth/sign-out"): done, ("POST", "/auth/sign-out-everywhere"): done,
        ("POST", "/session/extend"): (200, s(gc.SessionTimes)),
        ("POST", "/registrations"): (202, {"registration_id": ID, "email": "evil@example.test"}),
        ("POST", "/invitations/accept"): done, ("POST", "/registrations/verify"): done,
        ("POST", "/registrations/resend"): done,
        ("POST", "/auth/password-reset"): (202, {"attempt_id": ID}), ("POST", "/auth/password-reset/complete"): done,
        ("DELETE", f"/me/sessions/{ID}"): done, ("POST", "/me/password"): done,
        ("POST", "/me/email"): (202, {"change_id": ID}), ("POST", "/me/email/verify"): done,
        ("PUT", "/me/notification-preferences"): done,
        ("POST", f"{org}/settings"): (201, s(gc.OrganisationDetail)),
        ("PATCH", school): (200, s(gc.OrganisationDetail)),
        ("POST", f"{org}/invitations"): (201, {"id": ID, "expires_at": WHEN}),
        ("DELETE", f"/invitations/{ID}"): done,
        ("POST", f"{school}/designated-teacher"): done,
        ("POST", f"/users/{ID}/deactivate"): done, ("POST", f"/users/{ID}/reactivate"): done,
        ("POST", f"/users/{ID}/sessions/revoke-all"): done,
        ("PUT", f"{school}/staff/{ID}/access"): done,
        ("PUT", f"{org}/tray-settings"): done, ("PUT", f"{org}/retention"): done,
        ("PUT", f"{org}/pp-plus-allocation"): (200, s(qa_api.Allocation)),
        ("PUT", f"{org}/timescales"): (200, world_answers()[("GET", f"{org}/timescales")]),
        ("POST", f"{org}/deliveries/{ID}/resend"): (200, s(delivery_pages.Delivery)),
        ("POST", "/children"): (201, s(gc.ChildProfile)), ("PATCH", child): (200, s(gc.ChildProfile)),
        ("POST", "/children/import"): (200, s(gc.ImportResult)),
        ("POST", f"{child}/attendance"): done, ("POST", f"{child}/notes"): done,
        ("POST", f"{child}/peps"): (201, s(gc.PepSummary)),
        ("POST", f"{child}/attachments"): (201, s(gc.Attachment)), ("DELETE", f"/attachments/{ID}"): done,
        ("POST", f"{peps}/delegations"): (201, s(gc.Task)), ("POST", f"/tasks/{ID}/retract"): done,
        ("PUT", section): (200, _section_out()), ("POST", f"{section}/complete"): (200, _section_out()),
        ("POST", f"{peps}/actions/return"): (200, s(gc.PepSummary)),
        ("POST", f"{peps}/actions/submit"): (200, s(gc.PepSummary)),
        ("POST", f"/organisations/{ID}/templates"): (201, world_answers()[("GET", f"/templates/{ID}")]),
        ("PUT", f"/templates/{ID}"): (200, world_answers()[("GET", f"/templates/{ID}")]),
        ("PUT", f"{peps}/review"): (200, s(qa_api.PepReview)),
        ("POST", f"{peps}/review/decide"): (200, s(qa_api.PepReview)),
        ("POST", f"{peps}/review/confirm"): (200, s(qa_api.PepReview)),
        ("POST", f"/funding/{ID}/decide"): (200, s(qa_api.FundingRequestOut)),
        ("POST", "/views/open"): (202, {"code_expires_at": WHEN}),
        ("POST", "/views/verify"): (200, {"session_token": "s" * 43, "expires_at": "2099-01-01T00:00:00+00:00"}),
        ("PUT", "/views/form"): (200, world_answers()[("GET", "/views/form")]),
        ("POST", f"{peps}/views-invitations"): (201, {"id": ID}),
        ("POST", f"{peps}/views-invitations/{ID}/revoke"): done,
    }
