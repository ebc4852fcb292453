"""PEP meetings as iCalendar (RFC 5545) invitations, made with the `icalendar` library. Pure: no I/O.

One PEP has one meeting, so its UID is the PEP's (`pep-<pep_id>@epep`): a reschedule arrives as the same
event with a higher SEQUENCE and calendars move it rather than add a second one; a cancellation is
METHOD:CANCEL with the same UID. Times are Europe/London wall-clock times with a VTIMEZONE, so a meeting at
3:30pm stays at 3:30pm across the change to or from British Summer Time; without a time it is all day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from services.notify.wording import LONDON

PRODID = "-//ePEP//notify//EN"
MEETING_LENGTH = timedelta(hours=1)


def meeting_uid(pep_id: object) -> str:
    return f"pep-{pep_id}@epep"


def meeting_start(meeting_date: date, meeting_time: str | None) -> datetime | date:
    """The meeting's start: an aware Europe/London datetime, or the date alone for an all-day meeting.

    A time notify cannot read is treated as no time (all day) rather than refusing the invitation."""
    if meeting_time:
        try:
            return datetime.combine(meeting_date, time.fromisoformat(meeting_time), tzinfo=LONDON)
        except ValueError:
            pass
    return meeting_date


def invitation(*, pep_id: object, sequence: int, cancelled: bool, meeting_date: date, meeting_time: str | None,
               location: str | None, summary: str, description: str, organiser_email: str, organiser_name: str,
               attendee_email: str, attendee_name: str | None, stamp: datetime) -> bytes:
    """The .ics for one recipient. Each recipient's copy names only them as attendee: carers' and parents'
    addresses are not shown to everyone else invited."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", meeting_uid(pep_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    start = meeting_start(meeting_date, meeting_time)
    event.add("dtstart", start)
    event.add("dtend", start + MEETING_LENGTH if isinstance(start, datetime) else start + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organiser = vCalAddress(f"mailto:{organiser_email}")
    organiser.params["cn"] = vText(organiser_name)
    event.add("organizer", organiser)
    attendee = vCalAddress(f"mailto:{attendee_email}")
    if attendee_name:
        attendee.params["cn"] = vText(attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    cal.add_component(event)
    # The Europe/London VTIMEZONE the DTSTART's TZID refers to, for the years around the meeting only.
    cal.add_missing_timezones(first_date=date(meeting_date.year - 1, 1, 1), last_date=date(meeting_date.year + 2, 1, 1))
    return cal.to_ical()
