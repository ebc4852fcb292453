"""Every event on the bus: a versioned envelope and, per event type and version, its data model.

Changes within a version are additive only; consumers ignore fields they don't know. A breaking change
is a new version (a new routing key), published alongside the old one until every consumer has moved.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.sealed import SealedStr


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str  # "<service>.<entity>.<verb>"
    version: int
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    tenant: str | None = None  # the organisation (LA) the event belongs to, where there is one
    correlation_id: str | None = None
    data: dict[str, Any]

    @property
    def routing_key(self) -> str:
        return f"{self.event_type}.v{self.version}"


class EventData(BaseModel):
    """Base of every event's data: consumers ignore unknown fields."""

    model_config = ConfigDict(extra="ignore")


# ---- identity -------------------------------------------------------------------------------------


class SignInCodeIssued(EventData):
    """A one-time sign-in code was issued for an attempt. The code is here because notify must send it; it is
    sealed with a key only identity, pep and notify hold (shared/sealed.py), so the outbox row, the message and any
    dead letter carry ciphertext, and it is never logged."""

    attempt_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    given_name: str
    code: SealedStr  # formatted "1234 5678"; sealed in the outbox and on the broker (shared/sealed.py)
    expires_at: datetime


class UserChanged(EventData):
    """A user was created or their name, email or memberships changed: other services keep a read model."""

    user_id: uuid.UUID
    email: str
    given_name: str
    family_name: str
    # [{organisation_id, organisation_type, role}]; setting staff also carry `children` and `sections` (None: all)
    memberships: list[dict[str, Any]]
    disabled: bool = False


class Organisation(EventData):
    """Who a message is from: the LA's Virtual School, named with its contact details in every email."""

    name: str
    contact_email: str | None = None
    contact_phone: str | None = None


class InvitationCreated(EventData):
    """Someone was invited to an organisation with a role. `token` makes the emailed link (only notify sees it)."""

    invitation_id: uuid.UUID
    email: str
    given_name: str
    family_name: str
    role: str
    organisation_id: uuid.UUID
    organisation_name: str
    invited_by_name: str
    token: SealedStr  # sealed in the outbox and on the broker (shared/sealed.py)
    expires_at: datetime
    virtual_school: Organisation | None = None


class EmailCodeIssued(EventData):
    """A one-time code to prove an address: `purpose` is verify_registration, change_email or reset_password."""

    code_id: uuid.UUID
    purpose: str
    email: str
    given_name: str
    code: SealedStr  # formatted "1234 5678"; sealed in the outbox and on the broker (shared/sealed.py)
    expires_at: datetime


class SignedIn(EventData):
    """A new session began: the user is told, so a sign-in they did not make does not go unnoticed."""

    user_id: uuid.UUID
    email: str
    given_name: str
    session_id: uuid.UUID
    signed_in_at: datetime


class SessionEnded(EventData):
    """Sessions ended before their time: one (`session_id`: sign-out, ended from the list) or every session of the
    user (`session_id` None: sign out everywhere, an admin ending them, the last membership deactivated). Ids only:
    each gateway process drops what it holds of them (services/gateway/sessions.py)."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None = None


class AccessChanged(EventData):
    """What a person's sessions carry changed: memberships, roles, staff access, deactivation, password
    (`user_id`), or an LA's session rule, which may change everyone's idle timeout (`user_id` None: everyone).
    Ids only; each gateway process drops the sessions it holds for them and asks identity again."""

    user_id: uuid.UUID | None = None
    reason: str  # user_changed | password_changed | session_rules_changed


class AccountChanged(EventData):
    """Security notice: `change` is password_changed or email_changed (then sent to both addresses)."""

    user_id: uuid.UUID
    change: str
    email: str
    given_name: str
    previous_email: str | None = None
    changed_at: datetime


class AuditRecorded(EventData):
    """An identity action kept in the append-only audit log (no secrets, no codes)."""

    audit_id: int
    action: str
    outcome: str
    actor_id: uuid.UUID | None = None
    subject_user_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    at: datetime


class OrganisationChanged(EventData):
    """An LA or education setting was created or changed (name, type, its LA, its nominated DT)."""

    organisation_id: uuid.UUID
    name: str
    organisation_type: str  # local_authority | setting
    la_id: uuid.UUID | None = None
    setting_type: str | None = None
    urn: str | None = None
    designated_teacher_id: uuid.UUID | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


class ChildChanged(EventData):
    """A child's core data was created or changed (pep owns it). Other services keep what they need to route
    work and show dashboards; `version` rises with every change, so an older event never overwrites a newer."""

    child_id: uuid.UUID
    version: int
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    social_worker_id: uuid.UUID | None = None
    iro_id: uuid.UUID | None = None
    carer_ids: list[uuid.UUID] = []
    given_name: str
    family_name: str
    year_group: str | None = None
    sen_status: str | None = None
    in_care: bool = True
    # The facts the PEP clocks count from (added within v1; delegation's timeliness tracking reads them):
    date_of_birth: date | None = None  # Post-16 reviews run every six months from the 16th birthday
    date_entered_care: date | None = None  # the initial PEP is due from it
    entered_care_emergency: bool = False  # an emergency placement: the initial PEP's shorter clock
    moved_on: date | None = None  # the start date of the latest change of school or placement
    move_kind: str | None = None  # school | placement: what changed on `moved_on`
    move_reason: str | None = None


class ChildErased(EventData):
    """A child's retention ended (their LA's rule: by default their 75th birthday) and pep erased their record
    and PEPs. Every service that holds anything about the child erases or anonymises it, in its own schema."""

    child_id: uuid.UUID
    la_id: uuid.UUID
    pep_ids: list[uuid.UUID] = []
    retention_ended: date


class PepStatusChanged(EventData):
    """A PEP was started or moved on (submitted, returned, approved, finalised, cancelled)."""

    pep_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    kind: str
    term: str
    academic_year: str
    from_status: str
    status: str
    action: str
    reason: str | None = None
    by_user: uuid.UUID | None = None
    version: int
    meeting_date: date | None = None


class MeetingInvitee(EventData):
    """Someone the meeting section lists as invited. `email` is given for people without an account (carers,
    parents) so they can be sent the calendar invitation; it may be missing or not a valid address."""

    name: str
    email: str | None = None
    role: str | None = None


class PepMeetingChanged(EventData):
    """A PEP meeting was scheduled or moved (date, time or place). `sequence` rises with every change, so a
    calendar invitation can be updated (iCalendar SEQUENCE) and an older event never wins."""

    pep_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    change: str  # scheduled | moved | cancelled
    meeting_date: date
    meeting_time: str | None = None
    location: str | None = None
    sequence: int
    invitees: list[MeetingInvitee] = []  # from the meeting section's attendees (added within v1)


class FundingRequested(EventData):
    """A submitted PEP's target asks for funding: qa decides (approve, possibly less; refuse; ask for more).
    One event per target per submission; `target` is its 1-based row among the PEP's current targets.
    A target raised between PEPs (Kent's "Action Plan and Targets outside of PEP") has no PEP: `pep_id` is None,
    `action_target_id` names it and `target` is 1."""

    pep_id: uuid.UUID | None = None
    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    target: int
    description: str
    funding_type: str | None = None
    amount: str | None = None  # pounds and pence, "250.00"
    area_of_focus: str | None = None
    intervention_type: str | None = None
    academic_year: str
    term: str
    # The keys above in the PEP template's words, for the people who read the queue, the tray and the emails.
    funding_type_label: str | None = None
    area_of_focus_label: str | None = None
    intervention_type_label: str | None = None
    meeting_date: date | None = None  # the PEP's meeting: the approver's task is due by the LA's rule from it
    action_target_id: uuid.UUID | None = None


class SubjectAttainment(EventData):
    """One subject row of a PEP's attainment section: how the child compares with age-related expectations
    (significantly_below | below | at | above) and their progress since the last PEP (less_than_expected |
    expected | more_than_expected); None where the row does not say."""

    subject: str | None = None
    compared_with_are: str | None = None
    progress: str | None = None


class PepOutcomesSubmitted(EventData):
    """What a submitted PEP records of the child's attendance and attainment, for the Virtual School's dashboard:
    the child's attendance sessions this academic year as pep holds them at the submission, and each subject row of
    the attainment section. One per submission; a later one for the same PEP replaces an earlier."""

    pep_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    attended_sessions: int = 0
    possible_sessions: int = 0
    attainment: list[SubjectAttainment] = []


class FundingDecided(EventData):
    """qa decided a funding request (a PEP target's): approved (`amount` may be less than asked), refused, or
    more information wanted. A later decision on the same (pep_id, target) replaces an earlier one. A target raised
    between PEPs has no `pep_id`; its `action_target_id` names it. `financial_year` is the one the amount counts in
    (1 April to 31 March, "2026-27")."""

    pep_id: uuid.UUID | None = None
    child_id: uuid.UUID
    la_id: uuid.UUID
    target: int = Field(ge=1)
    decision: Literal["approved", "refused", "more_information"]
    amount: str | None = Field(default=None, pattern=r"^\d{1,8}\.\d{2}$")  # pounds and pence approved
    academic_year: str
    reason: str | None = None
    action_target_id: uuid.UUID | None = None
    financial_year: str | None = None
    decided_by: uuid.UUID | None = None  # the approver or VS admin who decided (the task's history names them)


class TermlyPaymentMade(EventData):
    """qa made an automatic termly PP+ payment for a child (the LA's termly payment, capped at what was left of the
    child's allocation for the financial year: `amount` may be less than `amount_due`, or 0.00 when nothing was
    left). pep counts it in the child's PP+ agreed."""

    payment_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    pep_id: uuid.UUID
    academic_year: str
    term: str
    amount: str = Field(pattern=r"^\d{1,8}\.\d{2}$")
    amount_due: str = Field(pattern=r"^\d{1,8}\.\d{2}$")
    financial_year: str


class TaskChanged(EventData):
    """A delegation task was created or moved on (assigned, submitted, retracted, returned, completed,
    cancelled). `version` rises with every change of the task, so an older event never overwrites a newer.
    pep follows it to let only the delegate write the delegated sections; notify emails the people involved."""

    task_id: uuid.UUID
    pep_id: uuid.UUID | None  # None only for an approve_funding task about a target raised between PEPs
    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    kind: str  # complete_sections | amend | finalise | approve_funding
    sections: list[str] = []
    status: str
    action: str
    assignee_user_id: uuid.UUID | None = None
    originator_id: uuid.UUID | None = None
    due_date: date | None = None
    by_user: uuid.UUID | None = None
    version: int
    assignee_role: str | None = None  # a task for whoever holds this role at the LA (approve_funding: vs_approver)
    reason: str | None = None  # why it was retracted or cancelled, or the rule a new due date follows
    action_target_id: uuid.UUID | None = None  # the target raised between PEPs an approve_funding task is about


class TaskReminder(EventData):
    """An open task is due soon, due today, overdue, or escalated to the Virtual School: sent once per task,
    rule and occurrence (the day it fell due), whatever the number of delegation replicas."""

    task_id: uuid.UUID
    pep_id: uuid.UUID | None  # None only for an approve_funding task about a target raised between PEPs
    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    assignee_user_id: uuid.UUID | None = None
    originator_id: uuid.UUID | None = None
    kind: str
    assignee_role: str | None = None
    rule: str  # due_soon | due_today | overdue | escalated
    occurrence: date
    due_date: date


class PepClockPrompt(EventData):
    """One of a child's PEP clocks (delegation's domain/clocks.py) is about to run out (stage due_soon), has run
    out (overdue), or has been overdue for the LA's escalation period (escalated: the Virtual School is told).
    Sent once per (child, clock, due date, stage), whatever the number of delegation replicas. `setting_id` and
    `social_worker_id` are the child's when delegation sent it: who is responsible for the child."""

    child_id: uuid.UUID
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    social_worker_id: uuid.UUID | None = None
    pep_id: uuid.UUID | None = None  # the PEP the clock is about, where there is one (the QA clock's)
    clock: str  # initial_pep | review_after_change | termly_review | post16_review | qa_review
    label: str  # what is due, as a person reads it: "Initial PEP"
    due: date
    stage: str  # due_soon | overdue | escalated
    explanation: str  # which rule set the due date and how
    escalation: str | None = None  # escalated: the LA's rule that tells the Virtual School now, in words


class TimescaleRuleData(EventData):
    """One of an LA's timescale rules: `amount` `unit`s (working_days, school_days, weeks or months), set by
    configuration version `version` (0: the default)."""

    amount: int
    unit: str
    version: int = 0


class TermDates(EventData):
    term: str
    start: date
    end: date


class TimescalesChanged(EventData):
    """An LA saved a new version of its timescales (delegation's engine): every rule by name, with the term dates
    and INSET days school days count in, so another service counts by the LA's own rules (qa: the dashboard's
    QA within timescale, by `qa_review`). Keep the highest `version` per LA: an older event may arrive late."""

    la_id: uuid.UUID
    version: int
    rules: dict[str, TimescaleRuleData]
    term_periods: list[TermDates] = []
    inset_days: list[date] = []


class DigestDue(EventData):
    """notify's own: a person's daily digest of reminders is due (one per person per day); notify sends it."""

    user_id: uuid.UUID
    digest_date: date


class MeetingReminderDue(EventData):
    """notify's own: the reminder of a PEP meeting's version is due for these addresses (each claimed once per
    (pep_id, sequence, address)); notify sends it, unless the meeting has since moved or been cancelled."""

    pep_id: uuid.UUID
    sequence: int
    recipients: list[str]


class ReviewedArea(EventData):
    """One area of a review as the framework words it: its grade's label and the reviewer's feedback."""

    key: str
    title: str
    grade: str | None = None
    grade_label: str | None = None
    feedback: str | None = None


class ReviewDecided(EventData):
    """qa decided a submitted PEP (approve, or return for amendment), a first reviewer approved it and it waits for
    the second level (`reviewed`, where the LA has two-level QA), or a second level confirmed its rating: the grade
    it shows now (Gold awarded where earned) in the LA framework's words, with the whole review (added within v1:
    each area's rating and feedback, overall, by whom), so the Full PEP can carry it. `review_id` rises with every
    review row qa keeps, so an older event never overwrites a newer one."""

    pep_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    outcome: str  # approve | return | confirm | reviewed
    grade: str | None = None
    grade_label: str | None = None
    review_id: int | None = None
    level: int = 1  # 1: the first (or only) reviewer; 2: the second level (an approver or the VS admin)
    framework_key: str | None = None
    framework_name: str | None = None
    overall_grade: str | None = None  # as rated; `grade` is what the PEP shows (Gold where earned)
    overall_label: str | None = None
    overall_feedback: str | None = None
    areas: list[ReviewedArea] = []
    reason: str | None = None  # why it went back to the school (a return)
    submitted_at: datetime | None = None  # the submission reviewed
    by_user: uuid.UUID | None = None


class ViewsInvitationSent(EventData):
    """A young person or carer was invited to give their views in one section of a child's PEP. `token` makes
    the emailed link (only notify sees it; pep keeps its hash). `child_name` is first name and initial only."""

    invitation_id: uuid.UUID
    pep_id: uuid.UUID
    child_id: uuid.UUID
    la_id: uuid.UUID
    audience: str  # young_person | carer
    email: str
    given_name: str
    child_name: str
    invited_by_name: str
    token: SealedStr  # sealed in the outbox and on the broker (shared/sealed.py)
    expires_at: datetime


class ViewsCodeIssued(EventData):
    """The short code that opens a views invitation, emailed to the invited address (never logged)."""

    invitation_id: uuid.UUID
    la_id: uuid.UUID
    email: str
    given_name: str
    code: SealedStr  # formatted "1234 5678"; sealed in the outbox and on the broker (shared/sealed.py)
    expires_at: datetime


EVENTS: dict[tuple[str, int], type[EventData]] = {
    ("identity.sign_in_code.issued", 1): SignInCodeIssued,
    ("identity.user.changed", 1): UserChanged,
    ("identity.invitation.created", 1): InvitationCreated,
    ("identity.email_code.issued", 1): EmailCodeIssued,
    ("identity.session.started", 1): SignedIn,
    ("identity.account.changed", 1): AccountChanged,
    ("identity.audit.recorded", 1): AuditRecorded,
    ("identity.organisation.changed", 1): OrganisationChanged,
    ("identity.session.ended", 1): SessionEnded,
    ("identity.access.changed", 1): AccessChanged,
    ("pep.child.changed", 1): ChildChanged,
    ("pep.child.erased", 1): ChildErased,
    ("pep.pep.status_changed", 1): PepStatusChanged,
    ("pep.meeting.changed", 1): PepMeetingChanged,
    ("pep.funding.requested", 1): FundingRequested,
    ("pep.outcomes.submitted", 1): PepOutcomesSubmitted,
    ("qa.funding.decided", 1): FundingDecided,
    ("qa.termly_payment.made", 1): TermlyPaymentMade,
    ("delegation.task.changed", 1): TaskChanged,
    ("delegation.task.reminder", 1): TaskReminder,
    ("notify.digest.due", 1): DigestDue,
    ("delegation.timescales.changed", 1): TimescalesChanged,
    ("delegation.clock.prompt", 1): PepClockPrompt,
    ("qa.review.decided", 1): ReviewDecided,
    ("notify.meeting_reminder.due", 1): MeetingReminderDue,
    ("pep.views_invitation.sent", 1): ViewsInvitationSent,
    ("pep.views_code.issued", 1): ViewsCodeIssued,
}


def event_type_of(model: type[EventData]) -> tuple[str, int]:
    for key, value in EVENTS.items():
        if value is model:
            return key
    raise KeyError(f"{model.__name__} is not a registered event")


def parse_data(envelope: Envelope) -> EventData:
    model = EVENTS.get((envelope.event_type, envelope.version))
    if model is None:
        raise KeyError(f"unknown event {envelope.routing_key}")
    return model.model_validate(envelope.data)
