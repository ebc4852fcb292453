"""Every template renders from its event into a complete, accessible email, with nothing personal in its subject."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest

from services.notify import emails, notices, previews, task_notices
from services.notify.consumers import subscriptions_for
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.contracts import (
    AccountChanged,
    ChildChanged,
    ChildErased,
    DigestDue,
    EmailCodeIssued,
    EventData,
    FundingDecided,
    InvitationCreated,
    MeetingReminderDue,
    OrganisationChanged,
    PepClockPrompt,
    PepMeetingChanged,
    PepStatusChanged,
    ReviewDecided,
    SignedIn,
    SignInCodeIssued,
    TaskChanged,
    TaskReminder,
    UserChanged,
    ViewsCodeIssued,
    ViewsInvitationSent,
    event_type_of,
)
from tests.notify import samples
from tests.support.mailbox import CODE

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")
FOOTER = "This email was sent by ePEP on behalf of your Virtual School."
# What each event type becomes, as the consumers wire it.
COMPOSE: dict[type[EventData], Callable[[Any, NotifySettings], list[Email]]] = {
    SignInCodeIssued: notices.sign_in_code,
    InvitationCreated: notices.invitation,
    EmailCodeIssued: notices.email_code,
    SignedIn: notices.new_sign_in,
    AccountChanged: notices.account_changed,
}


def emails_for(event: EventData) -> list[Email]:
    return COMPOSE[type(event)](event, SETTINGS)


def render(email: Email) -> EmailMessage:
    return emails.render(email, delivery_id=uuid.uuid4(), sender=SETTINGS.mail_from,
                         subject=emails.subject_for(email.template, SETTINGS.service_name, email.values),
                         service_name=SETTINGS.service_name)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


ALL = [email for event in samples.every_event() for email in emails_for(event)] + samples.pep_emails(SETTINGS) \
    + previews.views_emails(SETTINGS)


def test_the_samples_cover_every_template_and_every_consumer() -> None:
    assert {email.template for email in ALL} == set(emails.SUBJECTS)
    models: list[type[EventData]] = [*COMPOSE, UserChanged, PepMeetingChanged, PepStatusChanged, ChildChanged,
                                     OrganisationChanged, TaskChanged, TaskReminder, DigestDue,
                                     FundingDecided, MeetingReminderDue, ReviewDecided, ViewsInvitationSent,
                                     ViewsCodeIssued, ChildErased, PepClockPrompt]
    routing_keys = {"{}.v{}".format(*event_type_of(model)) for model in models}
    assert {key for sub in subscriptions_for(SETTINGS) for key in sub.routing_keys} == routing_keys
    assert all(sub.name.startswith("notify.") for sub in subscriptions_for(SETTINGS))


@pytest.mark.parametrize("email", ALL, ids=lambda e: f"{e.template}-{e.recipient}")
def test_every_template_renders_completely(email: Email) -> None:
    message = render(email)
    text, html = parts(message)
    subject = str(message["Subject"])
    assert subject == emails.SUBJECTS[email.template].format_map({"service_name": "ePEP", **email.values})
    assert message["To"] == email.recipient
    for body in (text, html):
        assert "{{" not in body and "{%" not in body and "}}" not in body
        assert FOOTER in body
        assert re.search(r"Hello( \w|,)", body)  # "Hello," for someone known only by address
    assert_accessible_html(html, subject)


@pytest.mark.parametrize("email", ALL, ids=lambda e: f"{e.template}-{e.recipient}")
def test_no_subject_says_anything_personal(email: Email) -> None:
    subject = str(render(email)["Subject"])
    # A child is named by first name and family-name initial only ("Jordan E."), never more.
    personal = [v for k, v in email.values.items() if k not in ("given_name", "child") and isinstance(v, str) and v]
    assert all(value not in subject for value in personal), subject
    assert samples.CHILD.family_name not in subject
    assert email.recipient not in subject
    assert not CODE.search(subject)


@pytest.mark.parametrize("email", [e for e in ALL if "code" in e.values], ids=lambda e: e.template)
def test_a_code_is_in_the_body_where_the_mailbox_finds_it_and_it_says_how_long_it_works(email: Email) -> None:
    text, html = parts(render(email))
    code = str(email.values["code"])
    assert CODE.search(text) and CODE.search(text).group(1) == code  # type: ignore[union-attr]
    assert code in html
    assert "10 minutes" in text and "10 minutes" in html


def test_the_virtual_schools_name_and_contact_details_are_in_the_footer_when_the_event_names_it() -> None:
    text, html = parts(render(emails_for(samples.invitation())[0]))
    for body in (text, html):
        assert "Northshire Virtual School" in body
        assert "virtual.school@northshire.test" in body
        assert "01632 960 001" in body
    assert 'href="mailto:virtual.school@northshire.test"' in html
    assert 'href="tel:01632960001"' in html
    text, _ = parts(render(emails_for(samples.signed_in())[0]))
    assert text.rstrip().endswith(FOOTER)


def test_an_invitation_says_who_invited_whom_as_what_and_until_when() -> None:
    event = samples.invitation(role="iro")
    text, html = parts(render(emails_for(event)[0]))
    link = f"https://epep.northshire.test/invitations/{event.token}"
    for body in (text, html):
        assert "Vic Admin has invited you to use ePEP as an Independent Reviewing Officer for Northshire Council." \
            in body
        assert link in body
        assert "expires on Monday 7 December 2026 at 4:30pm" in body
    assert f'<a href="{link}"' in html


def test_each_code_purpose_has_its_own_words() -> None:
    texts = {p: parts(render(emails_for(samples.email_code(p))[0]))[0]
             for p in ("verify_registration", "change_email", "reset_password")}
    assert "Confirm your email address" in str(render(emails_for(samples.email_code("verify_registration"))[0])
                                                ["Subject"])
    assert "confirm your email address and finish registering" in texts["verify_registration"]
    assert "confirm this is your new email address" in texts["change_email"]
    assert ("If you did not ask to reset your password, you can ignore this email; your password has not changed"
            in texts["reset_password"])


def test_a_new_sign_in_says_when_in_london_time_and_what_to_do_if_it_was_not_you() -> None:
    text, _ = parts(render(emails_for(samples.signed_in())[0]))
    assert "You signed in to ePEP on Monday 7 December 2026 at 4:30pm." in text
    assert "If this was not you, reset your password now and tell your Virtual School." in text
    assert "Reset your password: https://epep.northshire.test/forgotten-password" in text


def test_a_changed_email_address_is_told_to_both_addresses() -> None:
    sent = emails_for(samples.email_changed("old.jo@example.test", "new.jo@example.test"))
    assert [(e.template, e.recipient) for e in sent] == [("email_changed", "old.jo@example.test"),
                                                         ("email_changed", "new.jo@example.test")]
    text, _ = parts(render(sent[0]))
    assert ("changed from old.jo@example.test to new.jo@example.test on Monday 7 December 2026 at 4:30pm"
            in " ".join(text.split()))


def test_an_address_changed_only_in_letter_case_is_told_once() -> None:
    sent = emails_for(samples.email_changed("Jo@Example.test", "jo@example.test"))
    assert [e.recipient for e in sent] == ["jo@example.test"]


def test_what_notify_cannot_say_yet_is_refused_not_guessed() -> None:
    with pytest.raises(notices.UnknownNotice):
        emails_for(samples.email_code("something_new"))
    event = samples.password_changed()
    event.change = "something_new"
    with pytest.raises(notices.UnknownNotice):
        emails_for(event)


def test_values_are_escaped_in_html_but_not_in_text() -> None:
    event = samples.invitation()
    event.invited_by_name = "Vic <b>Admin</b> & Co"
    text, html = parts(render(emails_for(event)[0]))
    assert "Vic <b>Admin</b> & Co has invited you" in text
    assert "Vic &lt;b&gt;Admin&lt;/b&gt; &amp; Co has invited you" in html


# ---- a basic check of the HTML ----------------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "link", "input"}


class _Check(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.lang: str | None = None
        self.title = ""
        self.in_title = False
        self.headings = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "table" and a.get("role") != "presentation":
            self.problems.append("a layout table without role=presentation")
        if tag == "img" and not a.get("alt"):
            self.problems.append("an image without alt text")
        if tag == "a" and not (a.get("href") or "").startswith(("https://", "http://", "mailto:", "tel:")):
            self.problems.append(f"a link to {a.get('href')!r}")
        if tag == "h1":
            self.headings += 1
        self.in_title = tag == "title"
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data


def assert_accessible_html(html: str, subject: str) -> None:
    assert html.lstrip().lower().startswith("<!doctype html>")
    check = _Check()
    check.feed(html)
    check.close()
    assert check.problems == [] and check.open == [], (check.problems, check.open)
    assert check.lang == "en"
    assert check.title.strip() == subject
    assert check.headings == 1
    assert "font-family:Arial" in html
    assert re.search(r'<meta charset="utf-8">', html)


def test_the_delivery_log_names_every_kind_of_email_and_only_safe_ones_can_be_resent() -> None:
    from services.notify.handlers import TEMPLATE_NAMES

    assert set(TEMPLATE_NAMES) == set(emails.SUBJECTS)
    for email in ALL:
        payload = emails.payload_of(email)
        if "code" in email.values or "token" in str(email.values.get("link", "")) or email.template == "invitation":
            assert payload is None, email.template
        if payload is not None:  # what a resend renders is what was first sent
            again = emails.from_payload(email.template, email.recipient, json.loads(json.dumps(payload)))
            assert parts(render(again)) == parts(render(email))
            assert (again.calendar == email.calendar) and again.virtual_school == email.virtual_school


def test_a_funding_decision_says_the_amount_the_reason_or_what_is_needed_and_links_to_the_pep() -> None:
    sent = samples.funding_emails(SETTINGS)
    assert [(e.template, e.recipient) for e in sent] == [
        (template, who.email) for template in ("funding_approved", "funding_refused", "funding_more_information")
        for who in (samples.DT, samples.SW)]
    texts = {e.template: " ".join(parts(render(e))[0].split()) for e in sent}
    link = f"https://epep.northshire.test/peps/{samples.PEP_ID}"
    assert "approved Pupil Premium Plus (PP+) funding for target 2 of the 2026/27 PEP for Jordan Example." in \
        texts["funding_approved"]
    # The body names the child in full, never "Jordan E.." (issue 22); the subject keeps the initial.
    assert all("Jordan E." not in text for text in texts.values())
    assert "Amount approved: £1,250.00" in texts["funding_approved"]
    assert "Why: The tutoring is already funded by the school" in texts["funding_refused"]
    assert "What is needed: Which tutor, and for how many sessions?" in texts["funding_more_information"]
    assert all(link in text for text in texts.values())
    assert str(render(sent[0])["Subject"]) == "PP+ funding approved for Jordan E."


def test_funding_goes_to_the_settings_dts_and_the_social_worker_once_each() -> None:
    from services.notify.funding_notices import funding_recipients, pounds

    twice = samples.Person(samples.DT.user_id, "DANA@example.test", "Dana")
    assert funding_recipients(social_worker=samples.SW, designated_teachers=[samples.DT, twice]) == [
        samples.DT, samples.SW]
    assert funding_recipients(social_worker=None, designated_teachers=[]) == []
    assert (pounds("20.00"), pounds("1234567.5"), pounds(None), pounds("x")) == ("£20.00", "£1,234,567.50", "", "")


@pytest.mark.parametrize("email", [e for e in ALL if "child" in e.values  # views: the invitee's own words
                                   and not e.template.startswith(("views_", "funding_"))],  # funding: tested above
                         ids=lambda e: f"{e.template}-{e.recipient}")
def test_the_body_names_the_child_in_full_never_by_initial(email: Email) -> None:
    """Issue 22: "Riley S.." read badly; someone who works with the child reads their full name. Only the subject
    (on lock screens, in the delivery log) keeps to the first name and initial."""
    message = render(email)
    text, html = parts(message)
    html_body = re.sub(r"<title>.*?</title>", "", html, flags=re.S)
    for body in (text, html_body):
        assert "Jordan Example" in body, body
        assert "Jordan E." not in body, body
    assert "Jordan E." in str(message["Subject"]) and "Example" not in str(message["Subject"])


def test_the_daily_digest_names_each_child_in_full() -> None:
    digests = [e for e in ALL if e.template == "daily_digest"]
    assert digests
    for email in digests:
        text, html = parts(render(email))
        assert "the PEP for Jordan Example" in text and "Jordan E." not in text
        assert "the PEP for Jordan Example" in html


def test_an_email_kept_before_bodies_named_the_child_in_full_can_still_be_resent() -> None:
    kept = emails.payload_of(next(e for e in ALL if e.template == "task_assigned"))
    assert kept is not None
    old = {**kept, "values": {k: v for k, v in kept["values"].items() if k != "child_name"}}  # type: ignore[union-attr]
    text, _ = parts(render(emails.from_payload("task_assigned", "dt@example.test", old)))
    assert "the Personal Education Plan (PEP) for Jordan E." in text


def test_an_approver_asked_to_decide_a_target_set_between_peps_is_not_told_it_is_in_a_pep() -> None:
    between = previews.task_changed("assign", kind="approve_funding").model_copy(update={"pep_id": None})
    in_pep = previews.task_changed("assign", kind="approve_funding")
    texts = []
    for data in (between, in_pep):
        [email] = task_notices.change_emails(data, child=previews.CHILD, recipients=[previews.DT], reason="",
                                             virtual_school=None, settings=SETTINGS)
        body = render(email).get_body(preferencelist=("plain",))
        assert body is not None
        texts.append(" ".join(body.get_content().split()))
    assert "decide the PP+ funding asked for in a target set between PEPs for" in texts[0]
    assert "Personal Education Plan" not in texts[0]
    assert "decide the PP+ funding asked for in the Personal Education Plan (PEP) for" in texts[1]
