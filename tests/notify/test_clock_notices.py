"""PEP clock prompts as emails: who is told at each stage, and what each email says (what is due, by when, the rule
that set the date, the link to the child's page), with the child named once in full and escaped once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.notify import clock_notices, directory, emails, previews
from services.notify.directory import Child, Person
from services.notify.settings import NotifySettings
from shared.contracts import PepClockPrompt
from tests.notify.test_emails import parts, render

SETTINGS = NotifySettings(portal_url="https://epep.northshire.test/")
LA, SETTING = uuid.uuid4(), uuid.uuid4()
SW = Person(uuid.uuid4(), "sam@example.test", "Sam", "Worker")
DT = Person(uuid.uuid4(), "dana@example.test", "Dana", "Teacher")
DT_AGAIN = Person(uuid.uuid4(), "DANA@example.test", "Dana", "Teacher")  # the same address in other letters
CASEWORKER = Person(uuid.uuid4(), "cal@example.test", "Cal", "Caseworker")
VS_ADMIN = Person(uuid.uuid4(), "amira@example.test", "Amira", "Admin")


@pytest.fixture
def people(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """notify's read models as the directory answers them; each lookup recorded."""
    asked: list[tuple[str, Any]] = []

    async def person(pool: Any, user_id: uuid.UUID | None) -> Person | None:
        asked.append(("person", user_id))
        return SW if user_id == SW.user_id else None

    async def people_with_role(pool: Any, organisation_id: uuid.UUID | None, *roles: str) -> list[Person]:
        asked.append((str(organisation_id), roles))
        out = []
        if organisation_id == SETTING and "designated_teacher" in roles:
            out += [DT, DT_AGAIN]
        if organisation_id == LA and "vs_caseworker" in roles:
            out.append(CASEWORKER)
        if organisation_id == LA and "vs_admin" in roles:
            out.append(VS_ADMIN)
        return out

    monkeypatch.setattr(directory, "person", person)
    monkeypatch.setattr(directory, "people_with_role", people_with_role)
    return asked


def prompt(stage: str, clock: str = "initial_pep", **more: Any) -> PepClockPrompt:
    return PepClockPrompt(child_id=uuid.uuid4(), la_id=LA, setting_id=SETTING, social_worker_id=SW.user_id,
                          clock=clock, label="Initial PEP", due="2027-03-16", stage=stage,
                          explanation="10 working days after entering care on 2 March 2027 by emergency placement "
                                      "(default rule 'initial_pep_emergency')", **more)


async def test_due_soon_and_overdue_go_to_the_social_worker_and_the_settings_designated_teachers_once_each(
        people: list[tuple[str, Any]]) -> None:
    for stage in ("due_soon", "overdue"):
        assert await clock_notices.recipients(None, prompt(stage)) == [SW, DT]  # type: ignore[arg-type]


async def test_a_child_without_a_social_worker_or_setting_still_prompts_whoever_there_is(
        people: list[tuple[str, Any]]) -> None:
    assert await clock_notices.recipients(None, prompt("overdue").model_copy(  # type: ignore[arg-type]
        update={"social_worker_id": None})) == [DT]
    assert await clock_notices.recipients(None, prompt("overdue").model_copy(  # type: ignore[arg-type]
        update={"setting_id": None})) == [SW]


async def test_the_qa_clock_prompts_the_virtual_schools_caseworkers_only(people: list[tuple[str, Any]]) -> None:
    for stage in ("due_soon", "overdue"):
        assert await clock_notices.recipients(None, prompt(stage, "qa_review")) == [CASEWORKER]  # type: ignore[arg-type]
    assert ("person", SW.user_id) not in people


async def test_an_escalation_goes_to_the_virtual_school_not_to_the_people_responsible(
        people: list[tuple[str, Any]]) -> None:
    for clock in ("initial_pep", "qa_review"):
        assert await clock_notices.recipients(None, prompt("escalated", clock)) == [  # type: ignore[arg-type]
            CASEWORKER, VS_ADMIN]
    assert people == [(str(LA), ("vs_caseworker", "vs_admin"))] * 2


CHILD = Child("Jordan <b>", "Example & Co", LA, SETTING, SW.user_id)


def test_each_stage_says_what_is_due_by_when_and_the_rule_with_a_link_to_the_childs_page() -> None:
    data = prompt("escalated", escalation="The Virtual School is told 10 working days after it (default rule "
                                          "'escalate_after')")
    for stage, template, subject in (
            ("due_soon", "clock_due_soon", "Due soon: a PEP deadline for Jordan <b> E."),
            ("overdue", "clock_overdue", "Overdue: a PEP deadline for Jordan <b> E."),
            ("escalated", "clock_escalated", "Overdue PEP deadline for Jordan <b> E.")):
        [email] = clock_notices.prompt_emails(data.model_copy(update={"stage": stage}), child=CHILD, recipients=[SW],
                                              virtual_school=previews.VIRTUAL_SCHOOL, settings=SETTINGS)
        assert (email.template, email.recipient) == (template, SW.email)
        message = render(email)
        assert str(message["Subject"]) == subject
        text, html = parts(message)
        assert "What is due: Initial PEP" in text and "Due by: Tuesday 16 March 2027" in text
        assert ("How the date was set: 10 working days after entering care on 2 March 2027 by emergency placement "
                "(default rule 'initial_pep_emergency')") in text
        assert f"https://epep.northshire.test/children/{data.child_id}" in text
        assert f'href="https://epep.northshire.test/children/{data.child_id}"' in html
        # The child's names, as typed, in the text; escaped once in the HTML.
        assert "Jordan <b> Example & Co" in text
        assert "Jordan &lt;b&gt; Example &amp; Co" in html and "&amp;lt;" not in html and "<b>" not in html
        assert ("default rule 'escalate_after'" in text) == (stage == "escalated")
        assert emails.payload_of(email) is not None  # it can be sent again from the delivery log


def test_a_stage_this_version_does_not_know_sends_nothing() -> None:
    assert clock_notices.prompt_emails(prompt("reminded_twice"), child=CHILD, recipients=[SW],
                                       virtual_school=None, settings=SETTINGS) == []


def test_a_prompt_in_the_daily_digest_says_what_is_due_for_whom_and_links_to_the_child() -> None:
    from services.notify import digest

    data = prompt("overdue")
    [email] = clock_notices.prompt_emails(data, child=CHILD, recipients=[DT], virtual_school=None, settings=SETTINGS)
    assert email.template in digest.DIGESTIBLE
    daily = digest.digest_email(DT, data.due, [{"template": email.template, "values": dict(email.values)}], None)
    text, html = parts(render(daily))
    assert "- Overdue: Initial PEP for Jordan <b> Example & Co, due by Tuesday 16 March 2027" in text
    assert f"https://epep.northshire.test/children/{data.child_id}" in text
    assert "Initial PEP for Jordan &lt;b&gt; Example &amp; Co, due by Tuesday 16 March 2027" in html
    assert "See the child's PEPs" in html
