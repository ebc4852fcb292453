"""PEP emails through the whole system: a meeting's calendar invitations (read back with the icalendar library
as a calendar program would), its reschedule and cancellation, and the workflow emails, each to the right
people and nobody else, read from the mail sink's Maildir."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from shared import demo
from shared.contracts import Envelope, SignedIn
from tests.conftest import RunningSystem
from tests.system.qa_steps import decide_in_qa
from tests.system.test_peps import answer_what_is_missing, owners

LONDON = ZoneInfo("Europe/London")
LA, OAKFIELD = str(demo.LA_ID), str(demo.OAKFIELD)
SW = str(demo.account_id("sw"))
DT_EMAIL, SW_EMAIL = "dt@demo.test", "sw@demo.test"


@pytest.fixture(scope="module")
def people(system: RunningSystem) -> dict[str, str]:
    return {who: system.sign_in(f"{who}@demo.test") for who in ("sw", "dt", "caseworker", "admin")}


def wait_for_mail(system: RunningSystem, to: str, since: float, match: str, count: int = 1,
                  timeout: float = 30.0) -> list[EmailMessage]:
    """Messages to `to` since `since` whose raw text holds `match`, once `count` have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in system.mailbox.messages(to, since) if match in searchable(m)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def searchable(message: EmailMessage) -> str:
    """The subject and every text part, decoded (the .ics is base64 on the wire)."""
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            raw = part.get_payload(decode=True)
            parts.append(raw.decode() if isinstance(raw, bytes) else str(raw))
    return "\n".join(parts)


def calendar_of(message: EmailMessage) -> tuple[icalendar.Calendar, icalendar.Event]:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "invite.ics"
    cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    [event] = cal.walk("VEVENT")
    return cal, event


def body_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(body.get_content().split())


def new_child_with_a_pep(system: RunningSystem, people: dict[str, str]) -> tuple[str, str, str]:
    family = "Q" + secrets.token_hex(3)
    status, child, _ = system.api("POST", "/api/v1/children", {
        "la_id": LA, "given_name": "Alex", "family_name": family, "date_of_birth": "2016-05-01",
        "setting_id": OAKFIELD, "year_group": "Year 4", "social_worker_id": SW}, cookie=people["caseworker"])
    assert status == 201, child
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": "2026/27"}, cookie=people["sw"])
    assert status == 201, pep
    return child["id"], pep["id"], family


def save_meeting(system: RunningSystem, cookie: str, pep_id: str, answers: dict[str, Any]) -> None:
    status, section, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/meeting", cookie=cookie)
    assert status == 200, section
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/meeting",
                                 {"answers": answers, "version": section["version"]}, cookie=cookie)
    assert status == 200, body


def test_a_meeting_invitation_its_reschedule_and_its_cancellation(system: RunningSystem,
                                                                  people: dict[str, str]) -> None:
    _, pep_id, family = new_child_with_a_pep(system, people)
    uid = f"pep-{pep_id}@epep"
    carer = f"pat.{secrets.token_hex(3)}@example.test"
    attendees = [{"name": "Pat Carer", "role": "carer", "email": carer},
                 {"name": "Dr Lee", "role": "health", "email": "not an email address"},
                 {"name": "Sam Social-Worker", "role": "social_worker"}]
    since = time.time()
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2026-12-01", "meeting_time": "15:30",
                                                "location": "Oakfield Primary School, Room 4",
                                                "attendees": attendees})

    # The carer (no account, an address in the list), the social worker and the setting's DT: one each.
    first: dict[str, EmailMessage] = {}
    for to in (carer, SW_EMAIL, DT_EMAIL):
        [message] = wait_for_mail(system, to, since, uid)
        first[to] = message
        assert message["Subject"] == f"Invitation: PEP meeting for Alex {family[0]}."
        assert family not in message["Subject"]
        cal, event = calendar_of(message)
        assert str(cal["METHOD"]) == "REQUEST" and str(event["UID"]) == uid and event.decoded("SEQUENCE") == 0
        assert event.decoded("DTSTART") == datetime(2026, 12, 1, 15, 30, tzinfo=LONDON)
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        assert str(event["ATTENDEE"]).lower() == f"mailto:{to}"  # nobody else's address
        text = body_of(message)
        assert "When: Tuesday 1 December 2026 at 3:30pm Where: Oakfield Primary School, Room 4" in text
        assert "Demo Virtual School Email: virtual.school@demo.test Phone: 01632 960000" in text
    assert f"/peps/{pep_id}" in body_of(first[DT_EMAIL]) and f"/peps/{pep_id}" not in body_of(first[carer])
    # Nobody else: not the Virtual School, not another school's DT.
    for other in ("caseworker@demo.test", "admin@demo.test", "dt2@demo.test"):
        assert wait_for_mail(system, other, since, uid, timeout=0) == []
    rows = system.admin_sql("SELECT recipient, template, status, tenant FROM notify.deliveries "
                            "WHERE template = 'meeting_invitation' AND recipient = ANY($1) AND created_at > "
                            "to_timestamp($2)", [carer, SW_EMAIL, DT_EMAIL], since)
    assert sorted((r["recipient"], r["status"], r["tenant"]) for r in rows) == sorted(
        (to, "sent", LA) for to in (carer, SW_EMAIL, DT_EMAIL))

    # Saved again with nothing about the meeting changed: nobody is sent anything.
    resaved = time.time()
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2026-12-01", "location":
                                                "Oakfield Primary School, Room 4"})
    # Moved to a summer date (British Summer Time): the same event, a higher SEQUENCE, for everyone.
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2027-06-08", "meeting_time": "09:15"})
    for to in (carer, SW_EMAIL, DT_EMAIL):
        [update] = wait_for_mail(system, to, resaved, uid)
        assert update["Subject"] == f"Updated: PEP meeting for Alex {family[0]}."
        cal, event = calendar_of(update)
        assert str(cal["METHOD"]) == "REQUEST" and str(event["UID"]) == uid and event.decoded("SEQUENCE") == 2
        start = event.decoded("DTSTART")
        assert start == datetime(2027, 6, 8, 9, 15, tzinfo=LONDON) and start.utcoffset().total_seconds() == 3600
        assert "It was Tuesday 1 December 2026 at 3:30pm" in body_of(update)

    # The PEP is cancelled, so is its meeting.
    cancelled = time.time()
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/cancel", {"reason": "Moved LA"},
                                 cookie=people["caseworker"])
    assert status == 200, body
    for to in (carer, SW_EMAIL, DT_EMAIL):
        [cancel] = wait_for_mail(system, to, cancelled, uid)
        assert cancel["Subject"] == f"Cancelled: PEP meeting for Alex {family[0]}."
        cal, event = calendar_of(cancel)
        assert str(cal["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == uid and event.decoded("SEQUENCE") == 3
    time.sleep(1)  # room for a duplicate to show up, were there one
    for to in (carer, SW_EMAIL, DT_EMAIL):
        assert len(wait_for_mail(system, to, since, uid, timeout=0)) == 3


def test_submit_return_approve_and_sign_off_each_tell_the_right_people(system: RunningSystem,
                                                                        people: dict[str, str]) -> None:
    _, pep_id, family = new_child_with_a_pep(system, people)
    link = f"/peps/{pep_id}"
    by_owner = owners(system, people["dt"], pep_id)
    answer_what_is_missing(system, people["sw"], pep_id, by_owner.get("social_worker", set()))
    answer_what_is_missing(system, people["dt"], pep_id, by_owner.get("designated_teacher", set()) |
                           by_owner.get("young_person", set()) | by_owner.get("carer", set()))

    def act(action: str, who: str, reason: str | None = None) -> float:
        since = time.time()
        if action in ("approve", "return"):  # only through the PEP's QA review
            status, body = decide_in_qa(system, people[who], pep_id, action, reason)
        else:
            status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/{action}",
                                         {"reason": reason} if reason else {}, cookie=people[who])
        assert status == 200, body
        return since

    since = act("submit", "dt")
    for to in ("caseworker@demo.test", "admin@demo.test"):
        [message] = wait_for_mail(system, to, since, link)
        assert message["Subject"] == f"PEP submitted for Alex {family[0]}."
        assert "The autumn term 2026/27 PEP for Alex" in body_of(message) and "by Dana Teacher" in body_of(message)
    since_return = act("return", "caseworker", reason="Target 2 needs a date to be met by")
    [returned] = wait_for_mail(system, DT_EMAIL, since_return, link)
    assert returned["Subject"] == f"PEP returned for amendment: Alex {family[0]}."
    assert "What needs changing: Target 2 needs a date to be met by" in body_of(returned)
    since_approval = act("submit", "dt")
    wait_for_mail(system, "caseworker@demo.test", since_approval, link)
    act("approve", "caseworker")
    since_final = act("finalise", "sw")
    [approved_sw] = wait_for_mail(system, SW_EMAIL, since_approval, "PEP approved")
    assert link in body_of(approved_sw)
    [final_dt] = wait_for_mail(system, DT_EMAIL, since_final, "PEP signed off")
    assert link in body_of(final_dt)
    time.sleep(1)
    # Nobody hears of their own action, and nobody outside the child's circle hears anything.
    assert wait_for_mail(system, SW_EMAIL, since_final, "PEP signed off", timeout=0) == []
    # (Approval and sign-off follow each other closely and are sent concurrently: their order may vary.)
    assert sorted(m["Subject"] for m in wait_for_mail(system, DT_EMAIL, since, link, timeout=0)
                  if m["Subject"].startswith("PEP")) == [f"PEP approved for Alex {family[0]}.",
                                                         f"PEP returned for amendment: Alex {family[0]}.",
                                                         f"PEP signed off for Alex {family[0]}."]
    for outsider in ("dt2@demo.test", "admin@northshire.test", "staff@demo.test", "iro@demo.test"):
        assert wait_for_mail(system, outsider, since, link, timeout=0) == []
    assert len(wait_for_mail(system, "caseworker@demo.test", since, link, timeout=0)) == 2  # two submissions


# ---- the delivery log -------------------------------------------------------------------------------------


def test_an_las_admins_search_its_delivery_log_and_resend_a_failed_email(system: RunningSystem,
                                                                         people: dict[str, str]) -> None:
    _, pep_id, _ = new_child_with_a_pep(system, people)
    carer = f"kim.{secrets.token_hex(3)}@example.test"
    since = time.time()
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2026-12-02", "meeting_time": "10:00",
                                                "attendees": [{"name": "Kim Carer", "role": "carer", "email": carer}]})
    [first] = wait_for_mail(system, carer, since, f"pep-{pep_id}@epep")
    log = f"/api/v1/organisations/{LA}/deliveries"

    status, page, _ = system.api("GET", f"{log}?recipient={carer[:9]}", cookie=people["admin"])
    assert status == 200, page
    [entry] = page["items"]
    assert (entry["recipient"], entry["template"], entry["template_name"], entry["status"], entry["attempts"]) == \
        (carer, "meeting_invitation", "PEP meeting invitation", "sent", 1)
    assert entry["sent_at"] and entry["can_resend"] is False
    assert not {"subject", "payload", "body", "values"} & set(entry)  # what it said is not shown
    # Filters narrow, newest first, 25 a page.
    invitations = system.api("GET", f"{log}?template=meeting_invitation&status=sent", cookie=people["admin"])[1]
    assert any(i["id"] == entry["id"] for i in invitations["items"])
    assert {i["template"] for i in invitations["items"]} == {"meeting_invitation"}
    everything = system.api("GET", log, cookie=people["admin"])[1]
    assert everything["total"] >= 3 and len(everything["items"]) == min(25, everything["total"])
    created = [i["created_at"] for i in everything["items"]]
    assert created == sorted(created, reverse=True)
    assert system.api("GET", f"{log}?status=lost", cookie=people["admin"])[0] == 422

    # Nobody else reads it: another LA's admin, a Designated Teacher, a caseworker.
    for who in ("admin@northshire.test", "dt@demo.test", "caseworker@demo.test"):
        cookie = people.get(who.split("@")[0]) if who.endswith("@demo.test") else system.sign_in(who)
        assert system.api("GET", log, cookie=cookie)[0] == 404, who
        assert system.api("POST", f"{log}/{entry['id']}/resend", cookie=cookie)[0] == 404, who
    assert system.api("GET", log)[0] == 401

    # A sent email is not sent again; one the mail server refused for good can be, once.
    assert system.api("POST", f"{log}/{entry['id']}/resend", cookie=people["admin"])[0] == 409
    system.admin_sql("UPDATE notify.deliveries SET status = 'permanent_failure', last_error = 'SMTP 550' "
                     "WHERE id = $1", entry["id"])  # as if the carer's mail server had refused it
    refused = system.api("GET", f"{log}?recipient={carer}&status=permanent_failure", cookie=people["admin"])[1]
    assert [(i["id"], i["error"], i["can_resend"]) for i in refused["items"]] == [(entry["id"], "SMTP 550", True)]
    resent_at = time.time()
    status, again, _ = system.api("POST", f"{log}/{entry['id']}/resend", cookie=people["admin"])
    assert status == 200, again
    assert (again["status"], again["attempts"], again["resent_at"] is not None) == ("sent", 2, True)
    [copy] = wait_for_mail(system, carer, resent_at, f"pep-{pep_id}@epep")
    assert copy["Subject"] == first["Subject"]
    assert calendar_of(copy)[1].decoded("DTSTART") == calendar_of(first)[1].decoded("DTSTART")
    assert system.api("POST", f"{log}/{entry['id']}/resend", cookie=people["admin"])[0] == 409

    # An invitation to register held a link token: it is in the log but cannot be resent.
    invited = f"new.{secrets.token_hex(3)}@example.test"
    assert system.api("POST", f"/api/v1/organisations/{LA}/invitations", {
        "given_name": "New", "family_name": "Person", "email": invited, "role": "vs_caseworker"},
        cookie=people["admin"])[0] == 201
    wait_for_mail(system, invited, since, "invited")
    [invitation] = system.api("GET", f"{log}?recipient={invited}", cookie=people["admin"])[1]["items"]
    system.admin_sql("UPDATE notify.deliveries SET status = 'permanent_failure' WHERE id = $1", invitation["id"])
    status, body, _ = system.api("POST", f"{log}/{invitation['id']}/resend", cookie=people["admin"])
    assert (status, body["code"]) == (409, "not_resendable")


# ---- the mail server away during a burst ------------------------------------------------------------------

BURST, OUTAGE_SECONDS = 200, 60
# Retries spread over longer than the outage (the test system's usual ones give up after about 30 s).
PATIENT_RETRIES = "[1, 2, 5, 10, 15, 15, 15, 15, 15, 15]"


def _notify_with_retries(system: RunningSystem, delays: str) -> None:
    system.local.service_env.setdefault("notify", {})["EPEP_BUS_RETRY_DELAYS"] = delays
    system.local.stop("notify")
    system.local.start("notify")
    system.local.wait_ready(["notify"])


def test_a_burst_while_the_mail_server_is_away_for_a_minute_arrives_exactly_once(system: RunningSystem) -> None:
    run = secrets.token_hex(3)
    addresses = [f"burst.{run}.{n}@example.test" for n in range(BURST)]
    envelopes = [Envelope(event_type="identity.session.started", version=1, producer="identity",
                          data=SignedIn(user_id=uuid.uuid4(), email=address, given_name="Bo", session_id=uuid.uuid4(),
                                        signed_in_at=datetime.now(UTC)).model_dump(mode="json"))
                 for address in addresses]
    fast = system.local.service_env["notify"]["EPEP_BUS_RETRY_DELAYS"]
    _notify_with_retries(system, PATIENT_RETRIES)
    try:
        system.local.stop("mailsink")
        since = time.time()
        try:
            # Into identity's outbox in one statement, as a burst of sign-ins would put them: its relay publishes.
            system.admin_sql(
                "INSERT INTO identity.outbox (event_id, routing_key, envelope) "
                "SELECT e, 'identity.session.started.v1', j::jsonb FROM unnest($1::uuid[], $2::text[]) AS t(e, j)",
                [e.event_id for e in envelopes], [e.model_dump_json() for e in envelopes])
            # Every one tried and turned away (a row may be mid-retry, "sending", at any moment), none sent.
            _wait(lambda: _tally(system, run)["tried"] == BURST, 45, "every email to be tried")
            time.sleep(max(0.0, since + OUTAGE_SECONDS - time.time()))
            assert _tally(system, run)["sent"] == 0
        finally:
            system.local.start_mailsink()
        _wait(lambda: _tally(system, run)["sent"] == BURST, 90, "every email to be sent")
        time.sleep(2)  # room for a duplicate to show up, were there one
        arrived = Counter(str(m["To"]) for m in system.mailbox.messages(since=since)
                          if str(m["To"]).startswith(f"burst.{run}."))
        assert len(arrived) == BURST and set(arrived.values()) == {1}, arrived.most_common(3)
        assert _tally(system, run)["least_attempts"] >= 2
    finally:
        _notify_with_retries(system, fast)


def _tally(system: RunningSystem, run: str) -> dict[str, int]:
    [row] = system.admin_sql(
        "SELECT count(*) FILTER (WHERE status = 'sent') AS sent, count(*) FILTER (WHERE attempts >= 1 AND status IN "
        "('temporary_failure', 'sending')) AS tried, coalesce(min(attempts), 0) AS least_attempts "
        "FROM notify.deliveries WHERE recipient LIKE $1", f"burst.{run}.%")
    return {k: int(row[k]) for k in ("sent", "tried", "least_attempts")}


def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_someone_added_to_the_meeting_later_is_invited_and_nobody_else_again(system: RunningSystem,
                                                                             people: dict[str, str]) -> None:
    _, pep_id, _ = new_child_with_a_pep(system, people)
    uid = f"pep-{pep_id}@epep"
    first, later = (f"{who}.{secrets.token_hex(3)}@example.test" for who in ("pat", "robin"))
    since = time.time()
    save_meeting(system, people["dt"], pep_id, {"meeting_date": "2026-12-01", "meeting_time": "15:30",
                                                "attendees": [{"name": "Pat Carer", "role": "carer", "email": first}]})
    assert len(wait_for_mail(system, first, since, uid)) == 1
    # Only the list changes (autosave sends just that): the newcomer is invited, nobody else is written to.
    save_meeting(system, people["dt"], pep_id, {"attendees": [
        {"name": "Pat Carer", "role": "carer", "email": first},
        {"name": "Robin Parent", "role": "parent", "email": later}]})
    [message] = wait_for_mail(system, later, since, uid)
    assert message["Subject"].startswith("Invitation: PEP meeting for")
    time.sleep(1.5)
    assert len(wait_for_mail(system, first, since, uid, timeout=0)) == 1
    assert len(wait_for_mail(system, DT_EMAIL, since, uid, timeout=0)) == 1
