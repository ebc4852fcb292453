"""The portal's only way to the system: the gateway's public API, one method per thing a page does.

The portal holds the session token in its own cookie and passes it on; the gateway's answers are
turned into three exceptions the pages understand. Nothing here logs an email, password, code or token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import yarl
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from pydantic import BaseModel, ConfigDict, TypeAdapter

from shared.api import qa as qa_api
from shared.api.operations import InvalidParameter, Operation, encode_query
from shared.api.templates import Section

log = logging.getLogger(__name__)
SESSION_COOKIE = "epep_session"
VIEWS_COOKIE = "epep_views"
PROBLEM_JSON = "application/problem+json"
DOWNLOAD_TIMEOUT = 120.0  # a long PEP's PDF or a 20 MB file takes longer than a JSON call
T = TypeVar("T", bound=BaseModel)


class GatewayUnavailable(Exception):
    """The gateway could not be reached, timed out, or said it is unavailable."""


class NotSignedIn(Exception):
    """The session cookie is missing, ended or unknown (the gateway answered 401).

    `code` is the gateway's reason: `session_ended` when a session the person had has ended (idle
    timeout, lifetime, signed out elsewhere), so the sign-in page can say they were signed out."""

    def __init__(self, code: str | None = None) -> None:
        super().__init__(code or "not_signed_in")
        self.code = code


@dataclass(eq=False)
class GatewayProblem(Exception):
    """An RFC 9457 problem the person can act on: `title` and `detail` are written for them."""

    status: int
    title: str
    detail: str | None = None
    code: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    retry_after: int | None = None
    # The rest of the problem's body: e.g. `current` on a 409 conflict, `missing` when a PEP cannot be submitted.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.code or self.status)

    @property
    def message(self) -> str:
        """Title and detail as one sentence pair, for an error message."""
        title = self.title.rstrip(".")
        return f"{title}. {self.detail}" if self.detail else title

    def field_errors(self) -> dict[str, str]:
        """{field: message}, the first message for each field (GOV.UK shows one error per field)."""
        found: dict[str, str] = {}
        for e in self.errors:
            if e.get("field") and e.get("message"):
                found.setdefault(str(e["field"]), str(e["message"]))
        return found


@dataclass(frozen=True)
class Caller:
    """Who the portal is calling on behalf of: passed on so throttling and traces see the person."""

    client_address: str
    request_id: str
    session_token: str | None = None
    views_token: str | None = None  # an invited young person's or carer's views session (no account, no session)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Named(_Answer):
    """An answer about a person: their name as one string."""

    given_name: str
    family_name: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class Membership(_Answer):
    organisation_id: str
    organisation_name: str
    organisation_type: str
    role: str


class Me(_Named):
    id: str
    email: str
    given_name: str
    family_name: str
    memberships: list[Membership] = []


class SessionTimes(_Answer):
    """When the current session ends if nothing happens, and how long before that to warn."""

    expires_at: datetime
    idle_expires_at: datetime
    warn_seconds_before: int = 120


class InvitationSummary(_Answer):
    organisation_name: str
    organisation_type: str
    role: str
    expires_at: datetime


class Registration(_Answer):
    registration_id: str
    email: str


class SessionSummary(_Answer):
    id: str
    created_at: datetime
    last_seen_at: datetime | None = None
    current: bool = False


class Person(_Named):
    user_id: str
    given_name: str
    family_name: str
    email: str | None = None


class OrganisationDetail(_Answer):
    id: str
    name: str
    organisation_type: str
    la_id: str | None = None
    setting_type: str | None = None
    urn: str | None = None
    phase: str | None = None
    address: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    designated_teacher: Person | None = None
    can_manage: bool = False


class SettingSummary(_Answer):
    id: str
    name: str
    setting_type: str | None = None
    urn: str | None = None
    phase: str | None = None
    designated_teacher: Person | None = None


class StaffAccess(_Answer):
    children: list[str] | None = None
    sections: list[str] | None = None


class Member(Person):
    roles: list[str] = []
    deactivated: bool = False
    last_signed_in_at: datetime | None = None
    access: StaffAccess | None = None


class OpenInvitation(_Named):
    id: str
    given_name: str
    family_name: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    invited_by_name: str | None = None


class Nomination(_Named):
    user_id: str
    given_name: str
    family_name: str
    nominated_at: datetime
    ended_at: datetime | None = None
    nominated_by_name: str | None = None


class AuditEntry(_Answer):
    id: str | int
    at: datetime
    action: str
    outcome: str
    actor_name: str | None = None
    subject_name: str | None = None
    organisation_name: str | None = None


# ---- children and PEPs (shapes from shared/api/children.py and shared/api/peps.py; extra fields ignored) ----


class ChildSummary(_Named):
    id: str
    la_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    setting_id: str | None = None
    year_group: str | None = None
    key_stage: str | None = None
    sen_status: str | None = None
    in_care: bool = True


class ChildList(_Answer):
    items: list[ChildSummary] = []
    total: int = 0
    limit: int = 50
    offset: int = 0


class CarerDetails(_Answer):
    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class Contact(_Answer):
    name: str
    relationship: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    notes: str | None = None


class Indicators(_Answer):
    last_pep_date: date | None = None
    next_pep_due: date | None = None
    year_group: str | None = None
    key_stage: str | None = None
    attendance_percent: float | None = None
    pp_plus_agreed: str | None = None
    pp_plus_requests: int | None = None


class Note(_Answer):
    id: str
    body: str
    written_at: datetime
    written_by_name: str | None = None


class ActivityItem(_Answer):
    at: datetime
    kind: str
    action: str
    by_name: str | None = None
    pep_id: str | None = None
    section_title: str | None = None
    times: int = 1
    detail: str | None = None


class AttendanceRecord(_Answer):
    period_start: date
    period_end: date
    possible_sessions: int
    attended_sessions: int
    attendance_percent: float | None = None


class ChildPerson(_Named):
    user_id: str
    given_name: str
    family_name: str
    email: str | None = None
    via: str


class Sibling(_Named):
    id: str
    given_name: str
    family_name: str
    date_of_birth: date
    setting_id: str | None = None
    year_group: str | None = None


class ChildProfile(_Named):
    id: str
    la_id: str
    version: int
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str | None = None
    ethnicity: str | None = None
    first_language: str | None = None
    upn: str | None = None
    uln: str | None = None
    social_care_id: str | None = None
    date_entered_care: date | None = None
    legal_status: str | None = None
    placement_type: str | None = None
    carer: CarerDetails | None = None
    setting_id: str | None = None
    year_group: str | None = None
    key_stage: str | None = None
    phase: str | None = None
    sen_status: str | None = None
    health_notes: str | None = None
    contacts: list[Contact] = []
    in_care: bool = True
    indicators: Indicators = Indicators()
    people: list[ChildPerson] = []
    siblings: list[Sibling] = []
    access: str = ""
    can_edit: bool = False


class PepSummary(_Answer):
    id: str
    child_id: str
    kind: str
    term: str
    academic_year: str
    status: str
    meeting_date: date | None = None
    created_at: datetime
    updated_at: datetime


class SectionState(_Answer):
    key: str
    title: str
    owner: str
    status: str
    answered: int = 0
    questions: int = 0
    to_check: int = 0
    can_edit: bool = False
    delegated: bool = False


class TemplateRef(_Answer):
    key: str
    name: str
    version: int


class PepOverview(PepSummary):
    template: TemplateRef
    sections: list[SectionState] = []
    actions: list[str] = []


class Attachment(_Answer):
    id: str
    child_id: str
    pep_id: str | None = None
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by_name: str | None = None
    uploaded_at: datetime
    deleted_at: datetime | None = None
    can_delete: bool = False


class ImportResult(_Answer):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class Gap(_Answer):
    field: str
    message: str


class SectionOut(_Answer):
    pep_id: str
    key: str
    definition: Section  # the shared template format (shared/api/templates.py)
    answers: dict[str, Any] = {}
    version: int
    status: str
    to_check: list[str] = []
    updated_at: datetime
    updated_by_name: str | None = None
    missing: list[Gap] = []
    can_edit: bool = False


class Missing(_Answer):
    section: str
    section_title: str
    field: str
    message: str


class SavedVersion(_Answer):
    version: int
    changed: list[str] = []
    saved_at: datetime
    saved_by_name: str | None = None


class Difference(_Answer):
    field: str
    label: str
    before: Any = None
    after: Any = None
    changed: bool = False


class TemplateSummary(_Answer):
    """One version of a PEP template: a national default (no `la_id`) or an LA's own."""

    id: str
    key: str
    name: str
    phase: str
    version: int
    la_id: str | None = None
    changed_at: datetime | None = None


class TemplateOut(TemplateSummary):
    body: dict[str, Any]


class TaskEvent(_Answer):
    action: str
    to_status: str
    reason: str | None = None
    by_name: str | None = None
    at: datetime


class Task(_Answer):
    id: str
    kind: str
    status: str
    pep_id: str
    child_id: str
    child_name: str | None = None
    setting_id: str | None = None
    sections: list[str] = []
    assignee_user_id: str | None = None
    originator_name: str | None = None
    due_date: date | None = None
    due_rule: str | None = None
    overdue: bool = False
    note: str | None = None
    feedback: str | None = None
    updated_at: datetime
    can_retract: bool = False
    history: list[TaskEvent] | None = None


class TaskList(_Answer):
    items: list[Task]
    counts: dict[str, int]


class DeadlineOut(_Answer):
    key: str
    label: str
    due: date | None = None
    explanation: str


class PepDeadlines(_Answer):
    meeting_date: date | None = None
    based_on: str | None = None
    deadlines: list[DeadlineOut] = []


class AccessEntry(_Answer):
    at: datetime
    name: str | None = None
    via: str
    what: str
    pep_id: str | None = None
    address: str | None = None


class AccessLog(_Answer):
    since: date
    until: date
    entries: list[AccessEntry]


class CaseloadCounts(_Answer):
    overdue: int = 0
    no_pep_date: int = 0
    upcoming: int = 0
    children: int = 0


class CaseloadItem(_Answer):
    child_id: str
    child_name: str
    setting_id: str | None = None
    social_worker_name: str | None = None
    pep_id: str | None = None
    meeting_date: date | None = None
    categories: list[str] = []
    reasons: list[str] = []


class CaseloadGroup(_Answer):
    id: str | None = None
    name: str | None = None
    counts: CaseloadCounts


class Caseload(_Answer):
    counts: CaseloadCounts
    items: list[CaseloadItem]
    by_setting: list[CaseloadGroup] | None = None
    by_social_worker: list[CaseloadGroup] | None = None


@dataclass(frozen=True)
class SignedIn:
    session_token: str
    user_id: str


def gateway_session(timeout: float) -> aiohttp.ClientSession:
    """A client session that never keeps cookies: it serves every browser at once, so a session
    cookie the gateway sets for one person must never be sent on another person's call."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                 cookie_jar=aiohttp.DummyCookieJar(),
                                 trace_configs=[create_trace_config(url_filter=traced_url)])


def traced_url(url: yarl.URL) -> str:
    """The URL as traces record it: without its query, which can carry an emailed invitation token."""
    return str(url.with_query(None).with_fragment(None))


class GatewayClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.session = session

    async def start_sign_in(self, caller: Caller, email: str, password: str) -> str:
        """Email and password: always an attempt id, right or wrong (a code is emailed only if right)."""
        body, _ = await self._call("POST", "/auth/sign-in", caller, {"email": email, "password": password})
        return str(body["attempt_id"])

    async def verify_code(self, caller: Caller, attempt_id: str, code: str) -> SignedIn:
        body, resp = await self._call("POST", "/auth/sign-in/verify", caller,
                                      {"attempt_id": attempt_id, "code": code})
        cookie = resp.cookies.get(SESSION_COOKIE)
        if cookie is None or not cookie.value:
            log.error("gateway signed in without a session cookie", extra={"request_id": caller.request_id})
            raise GatewayUnavailable("no session cookie")
        return SignedIn(session_token=cookie.value, user_id=str(body.get("user_id", "")))

    async def send_new_code(self, caller: Caller, attempt_id: str) -> str:
        body, _ = await self._call("POST", "/auth/sign-in/resend", caller, {"attempt_id": attempt_id})
        return str(body.get("attempt_id") or attempt_id)

    async def me(self, caller: Caller) -> Me:
        body, _ = await self._call("GET", "/me", caller)
        return Me.model_validate(body)

    async def sign_out(self, caller: Caller) -> None:
        await self._call("POST", "/auth/sign-out", caller)

    async def sign_out_everywhere(self, caller: Caller) -> None:
        await self._call("POST", "/auth/sign-out-everywhere", caller)

    # ---- any operation of the catalogue (shared/api/operations.py) ----

    async def call(self, op: Operation, caller: Caller, body: BaseModel | dict[str, Any] | None = None, *,
                   query: BaseModel | dict[str, Any] | None = None, **params: Any) -> Any:
        """Call an operation of the public API: its path built from `params` (each validated and quoted whole),
        its answer as the operation's response model (a list of them, or None where it has none). A parameter
        that is not of its type names nothing: 404, as the gateway would answer."""
        try:
            path = op.bind(op.path, **params)
        except InvalidParameter:
            raise GatewayProblem(status=404, title="Not found", code="not_found") from None
        payload = body.model_dump(mode="json", exclude_unset=True) if isinstance(body, BaseModel) else body
        encoded = encode_query(query)
        answer, _ = await self._call(op.method.upper(), path + (f"?{encoded}" if encoded else ""), caller, payload)
        adapter = op.response_adapter
        return None if adapter is None else adapter.validate_python(answer)

    # ---- the session's clock (for the timeout warning) ----

    async def session_times(self, caller: Caller) -> SessionTimes:
        """When the session ends if idle; asking does not extend it."""
        body, _ = await self._call("GET", "/session", caller)
        return SessionTimes.model_validate(body)

    async def extend_session(self, caller: Caller) -> SessionTimes:
        body, _ = await self._call("POST", "/session/extend", caller)
        return SessionTimes.model_validate(body)

    # ---- invitations and registering ----

    async def lookup_invitation(self, caller: Caller, token: str) -> InvitationSummary:
        body, _ = await self._call("GET", "/invitations/lookup", caller, params={"token": token})
        return InvitationSummary.model_validate(body)

    async def register(self, caller: Caller, token: str, given_name: str, family_name: str, email: str,
                       password: str) -> Registration:
        body, _ = await self._call("POST", "/registrations", caller, {
            "token": token, "given_name": given_name, "family_name": family_name, "email": email,
            "password": password})
        return Registration.model_validate(body)

    async def accept_invitation(self, caller: Caller, token: str) -> None:
        """Accept with the account the caller is signed in to (the invitation must be to its address)."""
        await self._call("POST", "/invitations/accept", caller, {"token": token})

    async def verify_registration(self, caller: Caller, registration_id: str, code: str) -> None:
        await self._call("POST", "/registrations/verify", caller, {"registration_id": registration_id, "code": code})

    async def resend_registration_code(self, caller: Caller, registration_id: str) -> None:
        await self._call("POST", "/registrations/resend", caller, {"registration_id": registration_id})

    # ---- forgotten password ----

    async def start_password_reset(self, caller: Caller, email: str) -> str:
        """Always an attempt id, whether or not the address has an account."""
        body, _ = await self._call("POST", "/auth/password-reset", caller, {"email": email})
        return str(body["attempt_id"])

    async def complete_password_reset(self, caller: Caller, attempt_id: str, code: str, new_password: str) -> None:
        await self._call("POST", "/auth/password-reset/complete", caller,
                         {"attempt_id": attempt_id, "code": code, "new_password": new_password})

    # ---- the signed-in person's own account ----

    async def my_sessions(self, caller: Caller) -> list[SessionSummary]:
        body, _ = await self._call("GET", "/me/sessions", caller)
        return _list_of(SessionSummary, body)

    async def end_my_session(self, caller: Caller, session_id: str) -> None:
        await self._call("DELETE", f"/me/sessions/{_segment(session_id)}", caller)

    async def change_password(self, caller: Caller, current_password: str, new_password: str) -> None:
        await self._call("POST", "/me/password", caller,
                         {"current_password": current_password, "new_password": new_password})

    async def start_email_change(self, caller: Caller, new_email: str, password: str) -> str:
        body, _ = await self._call("POST", "/me/email", caller, {"new_email": new_email, "password": password})
        return str(body["change_id"])

    async def verify_email_change(self, caller: Caller, change_id: str, code: str) -> None:
        await self._call("POST", "/me/email/verify", caller, {"change_id": change_id, "code": code})

    # ---- administration (the gateway decides who may; another organisation's things answer 404) ----

    async def organisation(self, caller: Caller, org_id: str) -> OrganisationDetail:
        body, _ = await self._call("GET", f"/organisations/{_segment(org_id)}", caller)
        return OrganisationDetail.model_validate(body)

    async def settings_of(self, caller: Caller, la_id: str) -> list[SettingSummary]:
        body, _ = await self._call("GET", f"/organisations/{_segment(la_id)}/settings", caller)
        return _list_of(SettingSummary, body)

    async def add_setting(self, caller: Caller, la_id: str, fields: dict[str, Any]) -> OrganisationDetail:
        body, _ = await self._call("POST", f"/organisations/{_segment(la_id)}/settings", caller, fields)
        return OrganisationDetail.model_validate(body)

    async def update_organisation(self, caller: Caller, org_id: str, fields: dict[str, Any]) -> OrganisationDetail:
        body, _ = await self._call("PATCH", f"/organisations/{_segment(org_id)}", caller, fields)
        return OrganisationDetail.model_validate(body)

    async def members(self, caller: Caller, org_id: str) -> list[Member]:
        body, _ = await self._call("GET", f"/organisations/{_segment(org_id)}/users", caller)
        return _list_of(Member, body)

    async def open_invitations(self, caller: Caller, org_id: str) -> list[OpenInvitation]:
        body, _ = await self._call("GET", f"/organisations/{_segment(org_id)}/invitations", caller)
        return _list_of(OpenInvitation, body)

    async def invite(self, caller: Caller, org_id: str, given_name: str, family_name: str, email: str,
                     role: str) -> None:
        await self._call("POST", f"/organisations/{_segment(org_id)}/invitations", caller, {
            "given_name": given_name, "family_name": family_name, "email": email, "role": role})

    async def withdraw_invitation(self, caller: Caller, invitation_id: str) -> None:
        await self._call("DELETE", f"/invitations/{_segment(invitation_id)}", caller)

    async def nominate_designated_teacher(self, caller: Caller, setting_id: str, user_id: str) -> None:
        await self._call("POST", f"/organisations/{_segment(setting_id)}/designated-teacher", caller,
                         {"user_id": user_id})

    async def designated_teacher_history(self, caller: Caller, setting_id: str) -> list[Nomination]:
        body, _ = await self._call("GET", f"/organisations/{_segment(setting_id)}/designated-teacher/history",
                                   caller)
        return _list_of(Nomination, body)

    async def deactivate_user(self, caller: Caller, user_id: str) -> None:
        await self._call("POST", f"/users/{_segment(user_id)}/deactivate", caller)

    async def reactivate_user(self, caller: Caller, user_id: str) -> None:
        await self._call("POST", f"/users/{_segment(user_id)}/reactivate", caller)

    async def end_user_sessions(self, caller: Caller, user_id: str) -> None:
        await self._call("POST", f"/users/{_segment(user_id)}/sessions/revoke-all", caller)

    async def set_staff_access(self, caller: Caller, setting_id: str, user_id: str,
                               children: list[str] | None, sections: list[str] | None) -> None:
        await self._call("PUT", f"/organisations/{_segment(setting_id)}/staff/{_segment(user_id)}/access", caller,
                         {"children": children, "sections": sections})

    async def audit(self, caller: Caller, la_id: str, action: str = "", user_id: str = "",
                    limit: int = 50) -> list[AuditEntry]:
        params = {"limit": str(limit), **({"action": action} if action else {}),
                  **({"user_id": user_id} if user_id else {})}
        body, _ = await self._call("GET", f"/organisations/{_segment(la_id)}/audit", caller, params=params)
        return _list_of(AuditEntry, body)

    # ---- children (pep decides who sees which child: another's answers 404) ----

    async def children(self, caller: Caller, q: str = "", setting_id: str = "", limit: int = 25,
                       offset: int = 0) -> ChildList:
        params = {"limit": str(limit), "offset": str(offset), **({"q": q} if q else {}),
                  **({"setting_id": setting_id} if setting_id else {})}
        body, _ = await self._call("GET", "/children", caller, params=params)
        return ChildList.model_validate(body)

    async def child(self, caller: Caller, child_id: str) -> ChildProfile:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}", caller)
        return ChildProfile.model_validate(body)

    # ---- PEPs ----

    async def peps_of(self, caller: Caller, child_id: str) -> list[PepSummary]:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/peps", caller)
        return _list_of(PepSummary, body)

    async def start_pep(self, caller: Caller, child_id: str, fields: dict[str, Any]) -> PepSummary:
        body, _ = await self._call("POST", f"/children/{_segment(child_id)}/peps", caller, fields)
        return PepSummary.model_validate(body)

    # ---- tasks ----

    async def tasks(self, caller: Caller, tray: str, sort: str = "due") -> TaskList:
        body, _ = await self._call("GET", "/tasks", caller, params={"tray": tray, "sort": sort})
        return TaskList.model_validate(body)

    async def tray_days(self, caller: Caller, la_id: str) -> int:
        body, _ = await self._call("GET", f"/organisations/{_segment(la_id)}/tray-settings", caller)
        return int(body["tray_days"])

    async def set_tray_days(self, caller: Caller, la_id: str, days: int) -> None:
        await self._call("PUT", f"/organisations/{_segment(la_id)}/tray-settings", caller, {"tray_days": days})

    async def retention_age(self, caller: Caller, la_id: str) -> int:
        body, _ = await self._call("GET", f"/organisations/{_segment(la_id)}/retention", caller)
        return int(body["keep_until_age"])

    async def set_retention_age(self, caller: Caller, la_id: str, age: int) -> None:
        await self._call("PUT", f"/organisations/{_segment(la_id)}/retention", caller, {"keep_until_age": age})

    async def subject_access(self, caller: Caller, child_id: str) -> bytes:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/subject-access", caller)
        return json.dumps(body, indent=2, ensure_ascii=False).encode()

    async def access_log(self, caller: Caller, child_id: str, since: str, until: str,
                         reads_only: bool) -> AccessLog:
        params = {"since": since, "until": until, **({"reads_only": "true"} if reads_only else {})}
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/access-log", caller, params=params)
        return AccessLog.model_validate(body)

    async def reminder_preference(self, caller: Caller) -> str:
        body, _ = await self._call("GET", "/me/notification-preferences", caller)
        return str(body.get("reminders", "immediate")) if isinstance(body, dict) else "immediate"

    async def set_reminder_preference(self, caller: Caller, reminders: str) -> None:
        await self._call("PUT", "/me/notification-preferences", caller, {"reminders": reminders})

    async def pep_deadlines(self, caller: Caller, pep_id: str) -> PepDeadlines:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/deadlines", caller)
        return PepDeadlines.model_validate(body)

    async def caseload(self, caller: Caller, category: str = "", setting_id: str = "",
                       social_worker_id: str = "") -> Caseload:
        params = {k: v for k, v in (("category", category), ("setting_id", setting_id),
                                    ("social_worker_id", social_worker_id)) if v}
        body, _ = await self._call("GET", "/caseload", caller, params=params)
        return Caseload.model_validate(body)

    async def task(self, caller: Caller, task_id: str) -> Task:
        body, _ = await self._call("GET", f"/tasks/{_segment(task_id)}", caller)
        return Task.model_validate(body)

    async def pep_tasks(self, caller: Caller, pep_id: str) -> list[Task]:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/tasks", caller)
        return _list_of(Task, body)

    async def delegate(self, caller: Caller, pep_id: str, fields: dict[str, Any]) -> Task:
        body, _ = await self._call("POST", f"/peps/{_segment(pep_id)}/delegations", caller, fields)
        return Task.model_validate(body)

    async def retract(self, caller: Caller, task_id: str, reason: str) -> None:
        await self._call("POST", f"/tasks/{_segment(task_id)}/retract", caller, {"reason": reason})

    async def pep(self, caller: Caller, pep_id: str) -> PepOverview:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}", caller)
        return PepOverview.model_validate(body)

    async def section(self, caller: Caller, pep_id: str, key: str) -> SectionOut:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/sections/{_segment(key)}", caller)
        return SectionOut.model_validate(body)

    async def save_section(self, caller: Caller, pep_id: str, key: str, answers: dict[str, Any],
                           version: int) -> SectionOut:
        """Only the answers that changed (None clears one), from `version`: 409 `conflict` if someone saved since."""
        body, _ = await self._call("PUT", f"/peps/{_segment(pep_id)}/sections/{_segment(key)}", caller,
                                   {"answers": answers, "version": version})
        return SectionOut.model_validate(body)

    async def complete_section(self, caller: Caller, pep_id: str, key: str) -> SectionOut:
        body, _ = await self._call("POST", f"/peps/{_segment(pep_id)}/sections/{_segment(key)}/complete", caller)
        return SectionOut.model_validate(body)

    async def missing(self, caller: Caller, pep_id: str) -> list[Missing]:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/missing", caller)
        return _list_of(Missing, body)

    async def section_history(self, caller: Caller, pep_id: str, key: str) -> list[SavedVersion]:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/sections/{_segment(key)}/history", caller)
        return _list_of(SavedVersion, body)

    async def compare(self, caller: Caller, pep_id: str, key: str, before: int, after: int) -> list[Difference]:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/sections/{_segment(key)}/compare", caller,
                                   params={"from": str(before), "to": str(after)})
        return _list_of(Difference, body)

    async def pep_action(self, caller: Caller, pep_id: str, action: str, reason: str | None = None) -> PepSummary:
        body, _ = await self._call("POST", f"/peps/{_segment(pep_id)}/actions/{_segment(action)}", caller,
                                   {"reason": reason} if reason else {})
        return PepSummary.model_validate(body)

    # ---- PEP templates (each version is kept: a PEP keeps the one it started with) ----

    async def templates(self, caller: Caller) -> list[TemplateSummary]:
        """Every version of the national defaults and of the caller's LAs' own templates."""
        body, _ = await self._call("GET", "/templates", caller)
        return _list_of(TemplateSummary, body)

    async def template(self, caller: Caller, template_id: str) -> TemplateOut:
        body, _ = await self._call("GET", f"/templates/{_segment(template_id)}", caller)
        return TemplateOut.model_validate(body)

    async def copy_template(self, caller: Caller, la_id: str, from_template_id: str) -> TemplateOut:
        """The copy is the LA's next version of that template (VS admin only; another LA answers 404)."""
        body, _ = await self._call("POST", f"/organisations/{_segment(la_id)}/templates", caller,
                                   {"from_template_id": from_template_id})
        return TemplateOut.model_validate(body)

    async def save_template(self, caller: Caller, template_id: str, body: dict[str, Any]) -> TemplateOut:
        """The whole edited template, saved as the LA's next version; 422 names what does not validate
        (e.g. `sections.1.fields.3.label`), 403 for a national default."""
        answer, _ = await self._call("PUT", f"/templates/{_segment(template_id)}", caller, {"body": body})
        return TemplateOut.model_validate(answer)

    # ---- children's core data, attendance and files ----

    async def add_child(self, caller: Caller, fields: dict[str, Any]) -> ChildProfile:
        body, _ = await self._call("POST", "/children", caller, fields)
        return ChildProfile.model_validate(body)

    async def change_child(self, caller: Caller, child_id: str, fields: dict[str, Any], version: int) -> ChildProfile:
        """409 `stale_version` (with `current`) if someone changed the record since `version`."""
        body, _ = await self._call("PATCH", f"/children/{_segment(child_id)}", caller, {**fields, "version": version})
        return ChildProfile.model_validate(body)

    async def import_children(self, caller: Caller, la_id: str, csv: str) -> ImportResult:
        """422 `import_invalid` with `report` (row, field, message) when any row is bad: nothing is saved."""
        body, _ = await self._call("POST", "/children/import", caller, {"la_id": la_id, "csv": csv})
        return ImportResult.model_validate(body)

    async def record_attendance(self, caller: Caller, child_id: str, fields: dict[str, Any]) -> None:
        await self._call("POST", f"/children/{_segment(child_id)}/attendance", caller, fields)

    async def attendance_of(self, caller: Caller, child_id: str) -> list[AttendanceRecord]:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/attendance", caller)
        return _list_of(AttendanceRecord, body.get("items") if isinstance(body, dict) else None)

    async def notes(self, caller: Caller, child_id: str) -> list[Note]:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/notes", caller)
        return _list_of(Note, body)

    async def add_note(self, caller: Caller, child_id: str, text: str) -> None:
        await self._call("POST", f"/children/{_segment(child_id)}/notes", caller, {"body": text})

    async def activity(self, caller: Caller, child_id: str, limit: int = 20) -> list[ActivityItem]:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/activity", caller,
                                   params={"limit": str(limit)})
        return _list_of(ActivityItem, body.get("items") if isinstance(body, dict) else None)

    async def attachments(self, caller: Caller, child_id: str) -> list[Attachment]:
        body, _ = await self._call("GET", f"/children/{_segment(child_id)}/attachments", caller)
        return _list_of(Attachment, body)

    async def attachment(self, caller: Caller, attachment_id: str) -> Attachment:
        body, _ = await self._call("GET", f"/attachments/{_segment(attachment_id)}", caller)
        return Attachment.model_validate(body)

    async def delete_attachment(self, caller: Caller, attachment_id: str) -> None:
        await self._call("DELETE", f"/attachments/{_segment(attachment_id)}", caller)

    async def upload(self, op: Operation, caller: Caller, form: aiohttp.FormData, **params: Any) -> Any:
        """A multipart upload to `op` as the gateway takes it, answered with the operation's response model:
        413 too big, 415 or 422 naming `file` when refused."""
        try:
            path = op.bind(op.path, **params)
        except InvalidParameter:
            raise GatewayProblem(status=404, title="Not found", code="not_found") from None
        body, _ = await self._call(op.method.upper(), path, caller, data=form)
        adapter = op.response_adapter
        return None if adapter is None else adapter.validate_python(body)

    @asynccontextmanager
    async def download(self, caller: Caller, path: str,
                       params: dict[str, str] | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """The gateway's open response for a file (an export, a blank form, an attachment), to stream from.
        A refusal is raised as for any call, before anything is yielded."""
        try:
            async with self.session.request("GET", self.base_url + path, params=params,
                                            headers=self._headers(caller, "*/*"),
                                            timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)) as resp:
                if resp.status >= 400:
                    self._raise(await _problem(resp), path, caller)
                yield resp
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("gateway unreachable", extra={"path": path, "error": type(exc).__name__,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(path) from None

    def _headers(self, caller: Caller, accept: str = "application/json") -> dict[str, str]:
        headers = {"X-Forwarded-For": caller.client_address, "X-Request-Id": caller.request_id, "Accept": accept}
        if caller.session_token:
            headers["Cookie"] = f"{SESSION_COOKIE}={caller.session_token}"
        elif caller.views_token:
            headers["Cookie"] = f"{VIEWS_COOKIE}={caller.views_token}"
        return headers

    def _raise(self, problem: GatewayProblem, path: str, caller: Caller) -> None:
        if problem.status == 401:
            raise NotSignedIn(problem.code)
        if problem.status in (502, 503, 504):
            log.warning("gateway unavailable", extra={"path": path, "status": problem.status,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(path)
        if problem.status >= 500:
            raise RuntimeError(f"gateway answered {problem.status} on {path} ({problem.code})")
        raise problem

    async def _call(self, method: str, path: str, caller: Caller, json_body: Any = None,
                    params: dict[str, str] | None = None, data: Any = None) -> tuple[Any, aiohttp.ClientResponse]:
        headers = self._headers(caller)
        try:
            async with self.session.request(method, self.base_url + path, json=json_body, params=params,
                                            data=data, headers=headers) as resp:
                if resp.status == 204:
                    return {}, resp
                if 200 <= resp.status < 300:
                    answer = await resp.json(content_type=None)  # an empty list is an answer: only no body is {}
                    return ({} if answer is None else answer), resp
                problem = await _problem(resp)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("gateway unreachable", extra={"path": path, "error": type(exc).__name__,
                                                      "request_id": caller.request_id})
            raise GatewayUnavailable(path) from None
        self._raise(problem, path, caller)
        raise problem  # not reached: _raise always raises

    # ---- quality assurance and PP+ funding (models in shared/api/qa.py) ----

    async def qa_queue(self, caller: Caller) -> qa_api.Queue:
        body, _ = await self._call("GET", "/qa/queue", caller)
        return qa_api.Queue.model_validate(body)

    async def pep_review(self, caller: Caller, pep_id: str) -> qa_api.PepReview:
        body, _ = await self._call("GET", f"/peps/{_segment(pep_id)}/review", caller)
        return qa_api.PepReview.model_validate(body)

    async def save_review(self, caller: Caller, pep_id: str, fields: dict[str, Any]) -> qa_api.PepReview:
        body, _ = await self._call("PUT", f"/peps/{_segment(pep_id)}/review", caller, fields)
        return qa_api.PepReview.model_validate(body)

    async def decide_review(self, caller: Caller, pep_id: str, outcome: str, reason: str | None) -> qa_api.PepReview:
        body, _ = await self._call("POST", f"/peps/{_segment(pep_id)}/review/decide", caller,
                                   {"outcome": outcome, **({"reason": reason} if reason else {})})
        return qa_api.PepReview.model_validate(body)

    async def confirm_review(self, caller: Caller, pep_id: str, grade: str, note: str | None) -> qa_api.PepReview:
        body, _ = await self._call("POST", f"/peps/{_segment(pep_id)}/review/confirm", caller,
                                   {"overall_grade": grade, **({"note": note} if note else {})})
        return qa_api.PepReview.model_validate(body)

    async def funding_requests(self, caller: Caller, la_id: str, status: str) -> qa_api.FundingList:
        body, _ = await self._call("GET", "/funding", caller, params={"la_id": la_id, "status": status})
        return qa_api.FundingList.model_validate(body)

    async def decide_funding(self, caller: Caller, request_id: str, fields: dict[str, Any]) -> qa_api.FundingRequestOut:
        body, _ = await self._call("POST", f"/funding/{_segment(request_id)}/decide", caller, fields)
        return qa_api.FundingRequestOut.model_validate(body)

    async def pp_plus_allocation(self, caller: Caller, la_id: str) -> qa_api.Allocation:
        body, _ = await self._call("GET", f"/organisations/{_segment(la_id)}/pp-plus-allocation", caller)
        return qa_api.Allocation.model_validate(body)

    async def set_pp_plus_allocation(self, caller: Caller, la_id: str, fields: dict[str, Any]) -> qa_api.Allocation:
        body, _ = await self._call("PUT", f"/organisations/{_segment(la_id)}/pp-plus-allocation", caller, fields)
        return qa_api.Allocation.model_validate(body)

    async def dashboard(self, caller: Caller, params: dict[str, str]) -> qa_api.Dashboard:
        body, _ = await self._call("GET", "/dashboard", caller, params=params)
        return qa_api.Dashboard.model_validate(body)


def _segment(value: str) -> str:
    """An id as one path segment, whatever it holds (pages check ids are UUIDs; this is the backstop)."""
    return quote(value, safe="")


def _list_of(model: type[T], body: Any) -> list[T]:
    return TypeAdapter(list[model]).validate_python(body if isinstance(body, list) else [])  # type: ignore[valid-type]


async def _problem(resp: aiohttp.ClientResponse) -> GatewayProblem:
    body: dict[str, Any] = {}
    if resp.content_type in (PROBLEM_JSON, "application/json"):
        try:
            raw = await resp.json(content_type=None)
            body = raw if isinstance(raw, dict) else {}
        except ValueError:
            body = {}
    retry_after = body.get("retry_after", resp.headers.get("Retry-After"))
    try:
        retry = int(retry_after) if retry_after is not None else None
    except (TypeError, ValueError):
        retry = None
    errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
    extra = {k: v for k, v in body.items()
             if k not in ("type", "title", "status", "detail", "code", "errors", "retry_after", "instance")}
    return GatewayProblem(status=resp.status, title=str(body.get("title") or resp.reason or "Error"),
                          detail=body.get("detail"), code=body.get("code"), errors=errors, retry_after=retry,
                          extra=extra)
