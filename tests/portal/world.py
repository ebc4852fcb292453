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

from shared.api import attachments as attachments_api
from shared.api import auth as auth_api
from shared.api import children as children_api
from shared.api import clocks as clocks_api
from shared.api import identity as identity_api
from shared.api import in_date as in_date_api
from shared.api import notifications as notifications_api
from shared.api import peps as peps_api
from shared.api import qa as qa_api
from shared.api import tasks as tasks_api
from shared.api import timescales as timescales_api
from shared.api import views as views_api
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
    "awarded_only": False, "current": False,  # another session, which can be ended
}
MONEY = ("amount", "allocation", "pp_plus_agreed", "amount_requested", "amount_approved", "total", "spent",
         "pp_plus_paid_termly", "amount_due")


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
    out = sample(peps_api.SectionOut, "section")
    out.update({"definition": section_definition(), "answers": ANSWERS, "key": KEY})
    return out


def world_answers() -> dict[tuple[str, str], Any]:
    """{(method, path): body} for every GET the portal's pages make, in this world."""
    s = sample
    pep = s(peps_api.PepOverview)
    pep["sections"] = [{**s(peps_api.SectionState), "key": KEY}]
    template = s(peps_api.TemplateOut)
    template["body"] = {"key": "school-age", "name": EVIL, "phase": "school_age", "version": 1,
                        "sections": [section_definition()]}
    timescales = s(timescales_api.TimescalesOut)
    views_form = {"audience": "young_person", "given_name": EVIL, "title": EVIL, "expires_at": WHEN,
                  "saved_at": WHEN, "answers": ANSWERS, "questions": section_definition()["fields"]}
    views_section = {**_section_out(), "key": "views"}
    views_section["definition"]["key"] = "views"
    invitation = {**s(views_api.ViewsInvitationOut), "section": "views", "email": "evil@example.test",
                  "status": "open"}
    org, child, task = f"/organisations/{ID}", f"/children/{ID}", f"/tasks/{ID}"
    peps, section = f"/peps/{ID}", f"/peps/{ID}/sections/{KEY}"
    me = s(auth_api.Me)
    me["memberships"].append({**me["memberships"][0], "organisation_id": SETTING, "organisation_type": "setting",
                              "role": "designated_teacher"})
    setting = {**s(identity_api.OrganisationOut), "id": SETTING, "organisation_type": "setting", "la_id": ID}
    school = f"/organisations/{SETTING}"
    answers: dict[tuple[str, str], Any] = {
        ("GET", "/me"): me,
        ("GET", school): setting,
        ("GET", f"{school}/users"): [{**s(identity_api.Member), "roles": ["setting_staff"]}],
        ("GET", f"{school}/designated-teacher/history"): [s(identity_api.Nominated)],
        ("POST", f"{org}/timescales/preview"): s(timescales_api.DeadlinePreview),
        ("GET", "/session"): s(identity_api.SessionInfo),
        ("GET", "/invitations/lookup"): s(identity_api.InvitationPreview),
        ("GET", "/me/sessions"): [s(identity_api.MySession)],
        ("GET", "/me/notification-preferences"): s(notifications_api.NotificationPreferences),
        ("GET", org): s(identity_api.OrganisationOut),
        ("GET", f"{org}/settings"): [s(identity_api.SettingSummary)],
        ("GET", f"{org}/users"): [s(identity_api.Member)],
        ("GET", f"{org}/invitations"): [s(identity_api.OpenInvitation)],
        ("GET", f"{org}/designated-teacher/history"): [s(identity_api.Nominated)],
        ("GET", f"{org}/audit"): [s(identity_api.IdentityAuditEntry)],
        ("GET", f"{org}/tray-settings"): {"tray_days": 30},
        ("GET", f"{org}/session-rules"): s(identity_api.SessionRulesOut),
        ("GET", f"{org}/retention"): {"keep_until_age": 25},
        ("GET", f"{org}/pp-plus-allocation"): s(qa_api.Allocation),
        ("GET", f"{org}/timescales"): timescales,
        ("GET", f"{org}/timescales/history"): [s(timescales_api.TimescalesVersion)],
        ("GET", f"{org}/deliveries"): s(notifications_api.DeliveryPage),
        ("GET", "/children"): s(children_api.ChildList),
        ("GET", child): s(children_api.ChildProfile),
        ("GET", f"{child}/peps"): [s(peps_api.PepSummary)],
        ("GET", f"{child}/clocks"): s(clocks_api.ChildClocks),
        ("GET", f"{child}/access-log"): s(children_api.AccessLog),
        ("GET", f"{child}/subject-access"): s(children_api.SubjectAccess),
        ("GET", f"{child}/attendance"): s(children_api.AttendanceList),
        ("GET", f"{child}/notes"): [s(children_api.Note)],
        ("GET", f"{child}/action-targets"): s(children_api.ActionTargetList),
        ("GET", f"{child}/activity"): s(children_api.ActivityList),
        # The pickers: a school the child is not at yet (SETTING), and the LA's people by name.
        ("GET", f"{child}/record-choices"): {**s(children_api.RecordChoices),
                                             "settings": [{"id": SETTING, "name": EVIL}]},
        ("GET", f"{child}/attachments"): [s(attachments_api.AttachmentOut)],
        ("GET", f"/attachments/{ID}"): s(attachments_api.AttachmentOut),
        ("GET", "/tasks"): s(tasks_api.TaskList),
        ("GET", task): s(tasks_api.Task),
        ("GET", "/caseload"): s(tasks_api.Caseload),
        ("GET", peps): pep,
        ("GET", f"{peps}/tasks"): [s(tasks_api.Task)],
        ("GET", f"{peps}/deadlines"): s(tasks_api.PepDeadlines),
        ("GET", f"{peps}/missing"): [s(peps_api.Missing)],
        ("GET", f"{peps}/sign-off"): s(peps_api.SignOff),
        ("GET", f"{org}/submission-settings"): {"goes_to_qa": "school_submits"},
        ("GET", f"{peps}/review"): s(qa_api.PepReview),
        ("GET", section): _section_out(),
        ("GET", f"{section}/history"): [s(peps_api.SavedVersion)],
        ("GET", f"{section}/compare"): [s(peps_api.Difference)],
        ("GET", f"{peps}/sections/views"): views_section,
        ("GET", f"{peps}/views-invitations"): [invitation],
        ("GET", "/templates"): [s(peps_api.TemplateSummary)],
        ("GET", f"/templates/{ID}"): template,
        ("GET", "/qa/queue"): s(qa_api.Queue),
        ("GET", f"/children/{ID}/pep-ratings"): s(qa_api.PepRatings),
        ("GET", "/pep-ratings"): s(qa_api.PepRatings),
        ("GET", "/funding"): s(qa_api.FundingList),
        ("GET", "/dashboard"): s(qa_api.Dashboard),
        ("GET", f"{org}/in-date"): s(in_date_api.InDate),
        ("GET", f"{org}/in-date/children"): s(in_date_api.InDateChildren),
        ("GET", "/email-previews"): s(notifications_api.EmailPreviews),
        ("GET", "/views/form"): views_form,
        ("POST", "/views/check"): None,  # the emailed link still works (nothing sent)
    }
    return answers


def write_answers() -> dict[tuple[str, str], tuple[int, Any]]:
    """{(method, path): (status, body)} for every change a portal form asks for, in this world."""
    s = sample
    org, school, child = f"/organisations/{ID}", f"/organisations/{SETTING}", f"/children/{ID}"
    peps, section = f"/peps/{ID}", f"/peps/{ID}/sections/{KEY}"
    done = (204, None)
    invitation = world_answers()[("GET", f"{peps}/views-invitations")][0]
    return {
        ("POST", "/auth/sign-in"): (200, {"attempt_id": ID}),
        ("POST", "/auth/sign-in/verify"): (200, {"user_id": ID}),
        ("POST", "/auth/sign-in/resend"): (200, {"attempt_id": ID}),
        ("POST", "/auth/sign-out"): done, ("POST", "/auth/sign-out-everywhere"): done,
        ("POST", "/session/extend"): (200, s(identity_api.SessionInfo)),
        ("POST", "/registrations"): (202, {"registration_id": ID, "email": "evil@example.test"}),
        ("POST", "/invitations/accept"): (200, s(identity_api.InvitationAccepted)),
        ("POST", "/registrations/verify"): done,
        ("POST", "/registrations/resend"): (202, s(identity_api.RegistrationResend)),
        ("POST", "/auth/password-reset"): (202, {"attempt_id": ID}), ("POST", "/auth/password-reset/complete"): done,
        ("DELETE", f"/me/sessions/{ID}"): done, ("POST", "/me/password"): done,
        ("POST", "/me/email"): (202, {"change_id": ID}), ("POST", "/me/email/verify"): done,
        ("PUT", "/me/notification-preferences"): (200, s(notifications_api.NotificationPreferences)),
        ("POST", f"{org}/settings"): (201, s(identity_api.OrganisationOut)),
        ("PATCH", school): (200, s(identity_api.OrganisationOut)),
        ("POST", f"{org}/invitations"): (201, {"id": ID, "expires_at": WHEN}),
        ("DELETE", f"/invitations/{ID}"): done,
        ("POST", f"{school}/designated-teacher"): (200, s(identity_api.OrganisationOut)),
        ("POST", f"/users/{ID}/deactivate"): done, ("POST", f"/users/{ID}/reactivate"): done,
        ("POST", f"/users/{ID}/sessions/revoke-all"): done,
        ("PUT", f"{school}/staff/{ID}/access"): done,
        ("PUT", f"{org}/tray-settings"): (200, {"tray_days": 30}),
        ("PUT", f"{org}/session-rules"): (200, s(identity_api.SessionRulesOut)),
        ("PUT", f"{org}/retention"): (200, {"keep_until_age": 25}),
        ("PUT", f"{org}/pp-plus-allocation"): (200, s(qa_api.Allocation)),
        ("PUT", f"{org}/timescales"): (200, world_answers()[("GET", f"{org}/timescales")]),
        ("POST", f"{org}/deliveries/{ID}/resend"): (200, s(notifications_api.Delivery)),
        ("POST", "/children"): (201, s(children_api.ChildProfile)),
        ("PATCH", child): (200, s(children_api.ChildProfile)),
        ("POST", f"{child}/setting"): (200, s(children_api.ChildProfile)),
        ("POST", f"{child}/placement"): (200, s(children_api.ChildProfile)),
        ("POST", "/children/import"): (200, s(children_api.ImportResult)),
        ("POST", f"{child}/attendance"): (201, s(children_api.Attendance)),
        ("POST", f"{child}/notes"): (201, s(children_api.Note)),
        ("POST", f"{child}/action-targets"): (201, s(children_api.ActionTarget)),
        ("POST", f"{child}/peps"): (201, s(peps_api.PepSummary)),
        ("POST", f"{child}/attachments"): (201, s(attachments_api.AttachmentOut)),
        ("DELETE", f"/attachments/{ID}"): done,
        ("POST", f"{peps}/delegations"): (201, s(tasks_api.Task)),
        ("POST", f"/tasks/{ID}/retract"): (200, s(tasks_api.Task)),
        ("PUT", section): (200, _section_out()), ("POST", f"{section}/complete"): (200, _section_out()),
        ("POST", f"{peps}/actions/cancel"): (200, s(peps_api.PepSummary)),
        ("POST", f"{peps}/actions/submit"): (200, s(peps_api.PepSummary)),
        ("POST", f"/organisations/{ID}/templates"): (201, world_answers()[("GET", f"/templates/{ID}")]),
        ("PUT", f"/templates/{ID}"): (200, world_answers()[("GET", f"/templates/{ID}")]),
        ("PUT", f"{peps}/review"): (200, s(qa_api.PepReview)),
        ("POST", f"{peps}/review/decide"): (200, s(qa_api.PepReview)),
        ("POST", f"{peps}/review/confirm"): (200, s(qa_api.PepReview)),
        ("POST", f"/funding/{ID}/decide"): (200, s(qa_api.FundingRequestOut)),
        ("POST", "/views/open"): (202, {"code_expires_at": WHEN}),
        ("POST", "/views/verify"): (200, {"session_token": "s" * 43, "expires_at": "2099-01-01T00:00:00+00:00"}),
        ("PUT", "/views/form"): (200, world_answers()[("GET", "/views/form")]),
        ("POST", f"{peps}/views-invitations"): (201, invitation),
        ("POST", f"{peps}/views-invitations/{ID}/revoke"): (200, invitation),
    }
