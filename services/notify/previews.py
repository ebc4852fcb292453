"""Every email notify sends, made from built-in sample values: for the VS admins' preview page (GET
/email-previews) and for the tests, which check that every template renders, is accessible and says nothing
personal in its subject.

The values are made up and easy to spot ("Jordan E.", "Dana", "1234 5678"); nothing here reads a database.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import EmailMessage

from services.notify import (
    clock_notices,
    digest,
    emails,
    funding_notices,
    meeting_reminders,
    notices,
    pep_notices,
    task_notices,
    views_notices,
)
from services.notify.directory import Child, Person
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.api.notifications import EmailPreview
from shared.contracts import (
    AccountChanged,
    EmailCodeIssued,
    EventData,
    FundingDecided,
    InvitationCreated,
    MeetingInvitee,
    Organisation,
    PepClockPrompt,
    PepMeetingChanged,
    PepStatusChanged,
    SignedIn,
    SignInCodeIssued,
    TaskChanged,
    TaskReminder,
    ViewsCodeIssued,
    ViewsInvitationSent,
)

WHEN = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # "Monday 7 December 2026 at 4:30pm"
VIRTUAL_SCHOOL = Organisation(name="Northshire Virtual School", contact_email="virtual.school@northshire.test",
                              contact_phone="01632 960 001")


def sign_in_code(email: str = "dana@example.test") -> SignInCodeIssued:
    return SignInCodeIssued(attempt_id=uuid.uuid4(), user_id=uuid.uuid4(), email=email, given_name="Dana",
                            code="1234 5678", expires_at=WHEN)


def invitation(email: str = "sam@example.test", role: str = "social_worker") -> InvitationCreated:
    return InvitationCreated(
        invitation_id=uuid.uuid4(), email=email, given_name="Sam", family_name="Worker", role=role,
        organisation_id=uuid.uuid4(), organisation_name="Northshire Council", invited_by_name="Vic Admin",
        token="tok_" + uuid.uuid4().hex, expires_at=WHEN, virtual_school=VIRTUAL_SCHOOL)


def email_code(purpose: str, email: str = "kim@example.test") -> EmailCodeIssued:
    return EmailCodeIssued(code_id=uuid.uuid4(), purpose=purpose, email=email, given_name="Kim", code="8765 4321",
                           expires_at=WHEN)


def signed_in(email: str = "lee@example.test") -> SignedIn:
    return SignedIn(user_id=uuid.uuid4(), email=email, given_name="Lee", session_id=uuid.uuid4(), signed_in_at=WHEN)


def password_changed(email: str = "ash@example.test") -> AccountChanged:
    return AccountChanged(user_id=uuid.uuid4(), change="password_changed", email=email, given_name="Ash",
                          changed_at=WHEN)


def email_changed(previous: str = "old.jo@example.test", new: str = "new.jo@example.test") -> AccountChanged:
    return AccountChanged(user_id=uuid.uuid4(), change="email_changed", email=new, previous_email=previous,
                          given_name="Jo", changed_at=WHEN)


def every_event() -> list[EventData]:
    return [sign_in_code(), invitation(), email_code("verify_registration"), email_code("change_email"),
            email_code("reset_password"), signed_in(), password_changed(), email_changed()]


# ---- PEPs: their events become emails through notify's read models; these are the pure halves --------------

CHILD_ID, PEP_ID, LA_ID, SETTING_ID = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
CHILD = Child("Jordan", "Example", LA_ID, SETTING_ID, social_worker_id=None)
DT = Person(uuid.uuid4(), "dana@example.test", "Dana", "Teacher")
SW = Person(uuid.uuid4(), "sam@example.test", "Sam", "Worker")
CASEWORKER = Person(uuid.uuid4(), "cal@example.test", "Cal", "Caseworker")


def meeting_changed(change: str = "scheduled", *, sequence: int = 0, on: date = date(2026, 12, 1),
                    at: str | None = "15:30", where: str | None = "Oakfield Primary School, Room 4",
                    invitees: list[MeetingInvitee] | None = None) -> PepMeetingChanged:
    return PepMeetingChanged(pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, setting_id=SETTING_ID, change=change,
                             meeting_date=on, meeting_time=at, location=where, sequence=sequence,
                             invitees=invitees if invitees is not None else [
                                 MeetingInvitee(name="Pat Carer", email="pat.carer@example.test", role="carer")])


def status_changed(status: str, action: str, reason: str | None = None,
                   by: Person | None = None, from_status: str = "in_progress") -> PepStatusChanged:
    return PepStatusChanged(pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, setting_id=SETTING_ID, kind="review",
                            term="autumn", academic_year="2026/27", from_status=from_status, status=status,
                            action=action, reason=reason, by_user=by.user_id if by else None, version=2)


def pep_emails(settings: NotifySettings) -> list[Email]:
    """One email of every PEP template."""
    data = meeting_changed()
    recipients = pep_notices.meeting_recipients(data.invitees, [DT])
    out = pep_notices.meeting_emails(data, child=CHILD, recipients=recipients, previous=None,
                                     ever_invited=frozenset(), virtual_school=VIRTUAL_SCHOOL, settings=settings,
                                     stamp=WHEN)
    before = pep_notices.MeetingVersion(0, date(2026, 11, 30), "10:00", None, frozenset(r.key for r in recipients))
    moved = meeting_changed("moved", sequence=1)
    out += pep_notices.meeting_emails(moved, child=CHILD, recipients=recipients[:1], previous=before,
                                      ever_invited=before.invited, virtual_school=VIRTUAL_SCHOOL,
                                      settings=settings, stamp=WHEN)
    out += pep_notices.meeting_emails(meeting_changed("cancelled", sequence=2), child=CHILD, recipients=[],
                                      previous=before, ever_invited=frozenset({"pat.carer@example.test"}),
                                      virtual_school=VIRTUAL_SCHOOL, settings=settings, stamp=WHEN)
    for who, link in ((DT, f"{settings.portal_url.rstrip('/')}/peps/{PEP_ID}"), (None, "")):
        out.append(meeting_reminders.reminder_email(
            who.email if who else "pat.carer@example.test", who.given_name if who else "", CHILD,
            "Tuesday 1 December 2026 at 3:30pm", "Oakfield Primary School, Room 4", link, VIRTUAL_SCHOOL))
    for status, action, people in (("submitted", "submit", [CASEWORKER]), ("returned", "return", [DT]),
                                   ("approved", "approve", [SW]), ("finalised", "finalise", [SW])):
        event = status_changed(status, action, reason="Targets 2 and 3 need a date" if action == "return" else None)
        out += pep_notices.status_emails(event, child=CHILD, recipients=people, by_name="Cal Caseworker",
                                         virtual_school=VIRTUAL_SCHOOL, settings=settings,
                                         rating="Gold" if action in ("approve", "finalise") else "")
    out += pep_notices.status_emails(status_changed("submitted", "submit", from_status="returned"), child=CHILD,
                                     recipients=[CASEWORKER], by_name="Dana Teacher", virtual_school=VIRTUAL_SCHOOL,
                                     settings=settings)
    return out + task_emails(settings) + funding_emails(settings) + clock_emails(settings)


def funding_decided(decision: str, amount: str | None = None, reason: str | None = None) -> FundingDecided:
    return FundingDecided(pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, target=2, decision=decision, amount=amount,
                          academic_year="2026/27", reason=reason)


def funding_emails(settings: NotifySettings) -> list[Email]:
    """One email of every funding decision template."""
    out: list[Email] = []
    for event in (funding_decided("approved", amount="1250.00"),
                  funding_decided("refused", reason="The tutoring is already funded by the school"),
                  funding_decided("more_information", reason="Which tutor, and for how many sessions?")):
        out += funding_notices.funding_emails(event, child=CHILD, recipients=[DT, SW], virtual_school=VIRTUAL_SCHOOL,
                                              settings=settings)
    return out


TASK_ID = uuid.uuid4()


def task_changed(action: str, reason: str | None = None, kind: str = "complete_sections") -> TaskChanged:
    return TaskChanged(task_id=TASK_ID, pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, setting_id=SETTING_ID,
                       kind=kind, sections=["education", "targets"], status="assigned", action=action,
                       originator_id=CASEWORKER.user_id, due_date=date(2026, 12, 15), by_user=CASEWORKER.user_id,
                       version=1, reason=reason)


def task_reminder(rule: str) -> TaskReminder:
    return TaskReminder(task_id=TASK_ID, pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, setting_id=SETTING_ID,
                        originator_id=CASEWORKER.user_id, kind="complete_sections", rule=rule,
                        occurrence=date(2026, 12, 16), due_date=date(2026, 12, 15))


def task_emails(settings: NotifySettings) -> list[Email]:
    """One email of every task template."""
    out: list[Email] = []
    for action, reason in (("assign", None), ("retract", "The meeting moved to next term"), ("reschedule", None)):
        out += task_notices.change_emails(task_changed(action, reason), child=CHILD, recipients=[DT],
                                          reason=reason or "", virtual_school=VIRTUAL_SCHOOL, settings=settings)
    for rule in ("due_soon", "due_today", "overdue", "escalated"):
        out += task_notices.reminder_emails(task_reminder(rule), child=CHILD,
                                            recipients=[CASEWORKER if rule == "escalated" else DT],
                                            virtual_school=VIRTUAL_SCHOOL, settings=settings)
    items = [{"template": e.template, "values": dict(e.values)} for e in out if e.template in digest.DIGESTIBLE]
    out.append(digest.digest_email(DT, date(2026, 12, 16), items, VIRTUAL_SCHOOL))
    return out


def clock_prompt(stage: str, clock: str = "initial_pep") -> PepClockPrompt:
    return PepClockPrompt(
        child_id=CHILD_ID, la_id=LA_ID, setting_id=SETTING_ID, social_worker_id=SW.user_id, clock=clock,
        label="Initial PEP" if clock == "initial_pep" else "Virtual School review (QA)", due=date(2026, 12, 15),
        stage=stage, explanation="20 working days after entering care on 16 November 2026 (default rule "
        "'initial_pep')", escalation="the Virtual School is told when a PEP deadline is still not met 10 working "
        "days after it: 15 December 2026 was the due date, so from 5 January 2027 (default rule 'escalate_after')"
        if stage == "escalated" else None)


def clock_emails(settings: NotifySettings) -> list[Email]:
    """One email of every PEP clock prompt template: due soon and overdue to the people responsible for the
    child, the QA clock to the Virtual School's caseworkers, an escalation to the Virtual School."""
    out: list[Email] = []
    for stage, clock, people in (("due_soon", "initial_pep", [SW, DT]), ("overdue", "initial_pep", [SW, DT]),
                                 ("overdue", "qa_review", [CASEWORKER]), ("escalated", "initial_pep", [CASEWORKER])):
        out += clock_notices.prompt_emails(clock_prompt(stage, clock), child=CHILD, recipients=people,
                                           virtual_school=VIRTUAL_SCHOOL, settings=settings)
    return out


def views_emails(settings: NotifySettings) -> list[Email]:
    """The views invitation to a young person and to a carer, and the code that opens one."""
    out = []
    for audience, name, email in (("young_person", "Jordan", "jordan@example.test"),
                                  ("carer", "Pat", "pat.carer@example.test")):
        out += views_notices.views_invitation(ViewsInvitationSent(
            invitation_id=uuid.uuid4(), pep_id=PEP_ID, child_id=CHILD_ID, la_id=LA_ID, audience=audience,
            email=email, given_name=name, child_name=CHILD.short_name, invited_by_name="Dana Teacher",
            token="tok_" + uuid.uuid4().hex, expires_at=WHEN), settings, VIRTUAL_SCHOOL)
    out += views_notices.views_code(ViewsCodeIssued(invitation_id=uuid.uuid4(), la_id=LA_ID,
                                                    email="jordan@example.test", given_name="Jordan",
                                                    code="2468 1357", expires_at=WHEN), settings, VIRTUAL_SCHOOL)
    return out


# ---- the preview page ----------------------------------------------------------------------------------------


def every_email(settings: NotifySettings) -> list[Email]:
    """Every sample email: each identity notice, and each PEP, task, funding and digest email."""
    identity = [notices.sign_in_code(sign_in_code(), settings), notices.invitation(invitation(), settings),
                *(notices.email_code(e, settings) for e in every_event() if isinstance(e, EmailCodeIssued)),
                notices.new_sign_in(signed_in(), settings), notices.account_changed(password_changed(), settings),
                notices.account_changed(email_changed(), settings)]
    return [email for batch in identity for email in batch] + pep_emails(settings) + views_emails(settings)


def one_of_each(settings: NotifySettings, virtual_school: Organisation | None = None) -> list[Email]:
    """The first sample of each template, in the order of emails.SUBJECTS, from `virtual_school` if given."""
    first: dict[str, Email] = {}
    for email in every_email(settings):
        first.setdefault(email.template, email)
    return [replace(first[t], virtual_school=virtual_school or VIRTUAL_SCHOOL) for t in emails.SUBJECTS if t in first]


def rendered(email: Email, settings: NotifySettings, name: str) -> EmailPreview:
    """Subject, plain text and HTML of one email, as its recipient would get them; `name` is its kind in words."""
    subject = emails.subject_for(email.template, settings.service_name, email.values)
    message = emails.render(email, delivery_id=uuid.UUID(int=0), sender=settings.mail_from, subject=subject,
                            service_name=settings.service_name)
    return EmailPreview(template=email.template, name=name, subject=subject, text=_part(message, "plain"),
                        html=_part(message, "html"), calendar=email.calendar is not None)


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    return str(part.get_content()) if part is not None else ""
