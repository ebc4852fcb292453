"""Who hears about a PEP's meeting and workflow, and the calendar invitation they get, read back with the
icalendar library as a calendar program would."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from services.notify import pep_notices
from services.notify.directory import Child, Person
from services.notify.emails import Email, subject_for
from services.notify.settings import NotifySettings
from shared.contracts import MeetingInvitee
from tests.notify import samples

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")
LONDON = ZoneInfo("Europe/London")
DT, SW, CASEWORKER = samples.DT, samples.SW, samples.CASEWORKER


def event_of(email: Email) -> tuple[icalendar.Calendar, icalendar.Event]:
    assert email.calendar is not None
    cal = icalendar.Calendar.from_ical(email.calendar.ics)
    [event] = cal.walk("VEVENT")
    return cal, event


def meeting(data, recipients, previous=None, ever=frozenset()):  # type: ignore[no-untyped-def]
    return pep_notices.meeting_emails(data, child=samples.CHILD, recipients=recipients, previous=previous,
                                      ever_invited=ever, virtual_school=samples.VIRTUAL_SCHOOL, settings=SETTINGS,
                                      stamp=samples.WHEN)


def test_an_invitation_is_a_request_at_the_london_wall_clock_time_summer_or_winter() -> None:
    for day, utc_hour in ((date(2026, 12, 1), 15), (date(2026, 6, 2), 14)):  # GMT, then BST
        data = samples.meeting_changed(on=day, at="15:30")
        [email] = meeting(data, pep_notices.meeting_recipients([], [DT]))
        cal, event = event_of(email)
        assert str(cal["METHOD"]) == "REQUEST" and email.calendar and email.calendar.method == "REQUEST"
        start = event.decoded("DTSTART")
        assert start == datetime(day.year, day.month, day.day, 15, 30, tzinfo=LONDON)
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        assert start.utcoffset() is not None and (start - start.utcoffset()).hour == utc_hour
        assert event.decoded("DTEND") - start == timedelta(hours=1)
        assert str(event["UID"]) == f"pep-{samples.PEP_ID}@epep"
        assert event.decoded("SEQUENCE") == 0
        assert str(event["LOCATION"]) == "Oakfield Primary School, Room 4"
        assert str(event["ATTENDEE"]) == "mailto:dana@example.test"
        assert str(event["ORGANIZER"]) == "mailto:virtual.school@northshire.test"
        assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]


def test_a_meeting_without_a_time_is_all_day() -> None:
    [email] = meeting(samples.meeting_changed(at=None), pep_notices.meeting_recipients([], [DT]))
    _, event = event_of(email)
    assert event.decoded("DTSTART") == date(2026, 12, 1) and event.decoded("DTEND") == date(2026, 12, 2)
    assert "Tuesday 1 December 2026 (no time given yet)" in str(email.values["when"])


def test_invitees_are_the_listed_people_with_usable_addresses_and_the_people_with_accounts_once_each() -> None:
    invitees = [MeetingInvitee(name="Pat Carer", email=" pat.carer@example.test ", role="carer"),
                MeetingInvitee(name="No Address", role="parent"),
                MeetingInvitee(name="Typo", email="not an address", role="parent"),
                MeetingInvitee(name="Dana again", email="DANA@example.test", role="designated_teacher")]
    recipients = pep_notices.meeting_recipients(invitees, [SW, DT])
    assert [(r.email, r.name, r.has_account) for r in recipients] == [
        ("sam@example.test", "Sam", True), ("dana@example.test", "Dana", True),
        ("pat.carer@example.test", "Pat Carer", False)]
    emails = meeting(samples.meeting_changed(), recipients)
    assert {e.recipient: bool(e.values["link"]) for e in emails} == {
        "sam@example.test": True, "dana@example.test": True, "pat.carer@example.test": False}


def test_a_reschedule_updates_the_same_event_a_resave_sends_nothing_and_a_newcomer_is_invited() -> None:
    recipients = pep_notices.meeting_recipients([], [DT])
    first = samples.meeting_changed(sequence=0)
    before = pep_notices.MeetingVersion(0, first.meeting_date, first.meeting_time, first.location,
                                        frozenset({"dana@example.test"}))
    moved = samples.meeting_changed("moved", sequence=1, on=date(2026, 12, 3), at="09:00")
    [update] = meeting(moved, recipients, before, before.invited)
    _, event = event_of(update)
    assert update.template == "meeting_update"
    assert (str(event["UID"]), event.decoded("SEQUENCE")) == (f"pep-{samples.PEP_ID}@epep", 1)
    assert event.decoded("DTSTART") == datetime(2026, 12, 3, 9, 0, tzinfo=LONDON)
    assert update.values["previous_when"] == "Tuesday 1 December 2026 at 3:30pm"

    # Saved again with the same date, time and place: nothing for Dana; an invitation for someone just added.
    resaved = samples.meeting_changed("moved", sequence=1)
    newcomer = pep_notices.meeting_recipients([MeetingInvitee(name="Pat", email="pat@example.test")], [DT])
    assert [(e.template, e.recipient) for e in meeting(resaved, newcomer, before, before.invited)] == [
        ("meeting_invitation", "pat@example.test")]


def test_a_cancellation_reaches_everyone_ever_invited() -> None:
    before = pep_notices.MeetingVersion(1, date(2026, 12, 1), "15:30", None,
                                        frozenset({"dana@example.test", "gone@example.test"}))
    cancelled = samples.meeting_changed("cancelled", sequence=2)
    emails = meeting(cancelled, pep_notices.meeting_recipients([], [DT]), before,
                     before.invited | {"older@example.test"})
    assert sorted((e.template, e.recipient) for e in emails) == [
        ("meeting_cancelled", "dana@example.test"), ("meeting_cancelled", "gone@example.test"),
        ("meeting_cancelled", "older@example.test")]
    cal, event = event_of(emails[0])
    assert str(cal["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") == 2


def test_workflow_emails_go_to_the_right_people_and_never_to_whoever_acted() -> None:
    people = {"social_worker": SW, "designated_teachers": [DT], "virtual_school_staff": [CASEWORKER]}

    def to(status: str, action: str, by: Person | None = None) -> list[str]:
        data = samples.status_changed(status, action, by=by)
        return [p.email for p in pep_notices.status_recipients(data, **people)]  # type: ignore[arg-type]

    assert to("submitted", "submit", by=DT) == ["cal@example.test"]
    assert to("returned", "return", by=CASEWORKER) == ["dana@example.test"]
    assert to("approved", "approve", by=CASEWORKER) == ["sam@example.test", "dana@example.test"]
    assert to("finalised", "finalise", by=SW) == ["dana@example.test"]
    assert to("in_progress", "start") == [] and to("cancelled", "cancel") == []


def test_a_return_carries_the_feedback_and_every_workflow_email_links_to_the_pep() -> None:
    data = samples.status_changed("returned", "return", reason="Targets 2 and 3 need a date")
    [email] = pep_notices.status_emails(data, child=samples.CHILD, recipients=[DT], by_name="Cal Caseworker",
                                        virtual_school=None, settings=SETTINGS)
    assert email.template == "pep_returned"
    assert email.values["reason"] == "Targets 2 and 3 need a date"
    assert email.values["link"] == f"https://epep.northshire.test/peps/{samples.PEP_ID}"


def test_a_pep_amended_after_its_return_is_announced_as_resubmitted_not_as_a_second_submission() -> None:
    first = samples.status_changed("submitted", "submit")
    again = first.model_copy(update={"from_status": "returned"})
    [one], [two] = (pep_notices.status_emails(d, child=samples.CHILD, recipients=[CASEWORKER], by_name="Dana Teacher",
                                              virtual_school=None, settings=SETTINGS) for d in (first, again))
    assert (one.template, two.template) == ("pep_submitted", "pep_resubmitted")
    subjects = [subject_for(e.template, "ePEP", e.values) for e in (one, two)]
    assert subjects[0] != subjects[1] and "resubmitted after amendment" in subjects[1]


def test_a_child_is_named_by_first_name_and_initial() -> None:
    assert Child("Jordan", "example", samples.LA_ID, None, None).short_name == "Jordan E."
    assert Child(" Riley ", "", samples.LA_ID, None, None).short_name == "Riley"
