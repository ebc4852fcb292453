"""Which emails a PEP's events become, and to whom: pure functions over the event and what notify knows of
the people around the child (see `directory`). No I/O.

Nobody is written to who could not see the PEP anyway: the setting's Designated Teachers, the child's social
worker, the LA's Virtual School staff, and the people the meeting section lists as invited (carers, parents,
health professionals), who are sent only the meeting's date, time and place. A subject line names the child
by first name and family-name initial only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

from services.notify import calendar
from services.notify.directory import Child, Person
from services.notify.emails import CalendarFile, Email
from services.notify.settings import NotifySettings
from services.notify.wording import day_in_words, london_time
from shared.contracts import MeetingInvitee, Organisation, PepMeetingChanged, PepStatusChanged


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str  # how to greet them
    has_account: bool

    @property
    def key(self) -> str:
        return self.email.casefold()


@dataclass(frozen=True)
class MeetingVersion:
    """A version of the meeting notify already sent invitations for."""

    sequence: int
    meeting_date: date
    meeting_time: str | None
    location: str | None
    invited: frozenset[str]  # lower-cased addresses

    def same_meeting(self, data: PepMeetingChanged) -> bool:
        return (self.meeting_date, self.meeting_time or None, (self.location or "").strip()) == \
            (data.meeting_date, data.meeting_time or None, (data.location or "").strip())


def usable_address(address: str | None) -> str | None:
    """The address as typed, if it is one an email can be sent to; None otherwise (typed into a free-text
    answer, so a mistake there is skipped rather than failing everyone else's invitation)."""
    if not address or not address.strip():
        return None
    try:
        # test_environment: the same rule identity applies to accounts, which allows *.test addresses.
        return validate_email(address.strip(), check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError:
        return None


def meeting_recipients(invitees: Iterable[MeetingInvitee], people: Iterable[Person]) -> list[Recipient]:
    """The invitees with a usable address, then the social worker and Designated Teachers with accounts; each
    address once (an invitee who also has an account is greeted as the account knows them)."""
    found: dict[str, Recipient] = {}
    for p in people:
        found.setdefault(p.email.casefold(), Recipient(p.email, p.given_name, has_account=True))
    for invitee in invitees:
        address = usable_address(invitee.email)
        if address and address.casefold() not in found:
            found[address.casefold()] = Recipient(address, invitee.name.strip(), has_account=False)
    return list(found.values())


def meeting_emails(data: PepMeetingChanged, *, child: Child, recipients: list[Recipient],
                   previous: MeetingVersion | None, ever_invited: frozenset[str],
                   virtual_school: Organisation | None, settings: NotifySettings, stamp: datetime) -> list[Email]:
    """Invitation, update or cancellation, each with its .ics.

    A person not invited to an earlier version gets an invitation; one who was gets an update, but only if the
    date, time or place changed (a save of the meeting section that changes none of them sends nothing to
    them). A cancellation goes to everyone ever invited, even if since taken off the list."""
    if data.change == "cancelled":
        everyone = {r.key: r for r in recipients}
        for address in sorted(ever_invited - set(everyone)):
            everyone[address] = Recipient(address, "", has_account=False)
        return [_meeting_email("meeting_cancelled", data, r, child, previous, virtual_school, settings, stamp)
                for r in everyone.values()]
    out = []
    for r in recipients:
        if previous is None or r.key not in previous.invited:
            out.append(_meeting_email("meeting_invitation", data, r, child, previous, virtual_school, settings, stamp))
        elif not previous.same_meeting(data):
            out.append(_meeting_email("meeting_update", data, r, child, previous, virtual_school, settings, stamp))
    return out


def _when(meeting_date: date, meeting_time: str | None) -> str:
    start = calendar.meeting_start(meeting_date, meeting_time)
    if isinstance(start, datetime):
        return london_time(start)
    return f"{day_in_words(meeting_date)} (no time given yet)"


def _meeting_email(template: str, data: PepMeetingChanged, r: Recipient, child: Child,
                   previous: MeetingVersion | None, virtual_school: Organisation | None,
                   settings: NotifySettings, stamp: datetime) -> Email:
    cancelled = template == "meeting_cancelled"
    when = _when(data.meeting_date, data.meeting_time)
    previous_when = _when(previous.meeting_date, previous.meeting_time) if previous else ""
    place = (data.location or "").strip()
    organiser_name, organiser_email = _organiser(virtual_school, settings)
    ics = calendar.invitation(
        pep_id=data.pep_id, sequence=data.sequence, cancelled=cancelled, meeting_date=data.meeting_date,
        meeting_time=data.meeting_time, location=place or None, summary=f"PEP meeting: {child.short_name}",
        description=f"The Personal Education Plan (PEP) meeting for {child.full_name}. Questions: "
                    f"{organiser_name}, {organiser_email}.", organiser_email=organiser_email,
        organiser_name=organiser_name, attendee_email=r.email, attendee_name=r.name or None, stamp=stamp)
    values = {"given_name": r.name or "", "child": child.short_name, "child_name": child.full_name, "when": when,
              "place": place,
              "previous_when": previous_when if previous_when != when else "",
              "link": _pep_link(settings, data.pep_id) if r.has_account else ""}
    return Email(template, r.email, values, virtual_school=virtual_school,
                 calendar=CalendarFile("CANCEL" if cancelled else "REQUEST", ics))


def _organiser(virtual_school: Organisation | None, settings: NotifySettings) -> tuple[str, str]:
    """The Virtual School organises PEP meetings; without its contact address, replies go to the sender."""
    name, address = parseaddr(settings.mail_from)
    if virtual_school is not None:
        return virtual_school.name, virtual_school.contact_email or address
    return name or settings.service_name, address


# ---- the PEP's workflow -------------------------------------------------------------------------------------

STATUS_TEMPLATES = {"submitted": "pep_submitted", "returned": "pep_returned", "approved": "pep_approved",
                    "finalised": "pep_finalised"}


def status_recipients(data: PepStatusChanged, *, social_worker: Person | None, designated_teachers: list[Person],
                      virtual_school_staff: list[Person]) -> list[Person]:
    """Submitted: the Virtual School's caseworkers and admins. Returned: the Designated Teachers, who amend it.
    Approved or signed off: the social worker and Designated Teachers. Never the person who did it."""
    if data.status == "submitted":
        people = virtual_school_staff
    elif data.status == "returned":
        people = designated_teachers
    elif data.status in ("approved", "finalised"):
        people = [*([social_worker] if social_worker else []), *designated_teachers]
    else:
        return []
    seen: dict[str, Person] = {}
    for p in people:
        if p.user_id != data.by_user:
            seen.setdefault(p.email.casefold(), p)
    return list(seen.values())


def status_emails(data: PepStatusChanged, *, child: Child, recipients: list[Person], by_name: str,
                  virtual_school: Organisation | None, settings: NotifySettings, rating: str = "") -> list[Email]:
    """`rating`: the grade QA gave (approved and signed-off emails say it; "" before any)."""
    template = STATUS_TEMPLATES.get(data.status)
    if template == "pep_submitted" and data.from_status == "returned":
        # Not the same email twice: the reviewer is told this is the amended PEP coming back.
        template = "pep_resubmitted"
    if template is None:
        return []
    pep_name = f"{data.term} term {data.academic_year} PEP"
    return [Email(template, p.email, {
        "given_name": p.given_name, "child": child.short_name, "child_name": child.full_name, "pep_name": pep_name,
        "by_name": by_name or "Someone", "reason": (data.reason or "").strip(), "rating": rating,
        "link": _pep_link(settings, data.pep_id)}, virtual_school=virtual_school) for p in recipients]


def _pep_link(settings: NotifySettings, pep_id: uuid.UUID) -> str:
    return f"{settings.portal_url.rstrip('/')}/peps/{pep_id}"
