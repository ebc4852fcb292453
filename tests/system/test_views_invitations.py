"""The child's voice by secure invitation, through the gateway on real Postgres and RabbitMQ: a Designated
Teacher invites a young person by email; the link opens only with a code emailed to the same address; the young
person answers the Secondary questions in two sittings; the DT reads them in the PEP. An expired or revoked link,
or one whose PEP has moved on, answers with nothing but a kind message, and the views session opens nothing else."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date
from typing import Any

import pytest

from services.pep.domain.core_data import academic_year_label
from shared import demo
from tests.conftest import RunningSystem
from tests.system.test_children import LA, RIVERSIDE, new_child, people_known_to_pep  # noqa: F401

LINK = re.compile(r"/your-views/([A-Za-z0-9_\-]{20,})")


@pytest.fixture(scope="module")
def people(system: RunningSystem) -> dict[str, str]:
    return {"admin": system.sign_in("admin@demo.test"), "dt2": system.sign_in("dt2@demo.test"),
            "dt": system.sign_in("dt@demo.test"), "admin2": system.sign_in("admin@northshire.test")}


def a_pep(system: RunningSystem, people: dict[str, str]) -> tuple[str, str]:
    """A new Year 9 child at Riverside (dt2 is the DT there) with a PEP just started."""
    child = new_child(system, people["admin"], setting_id=RIVERSIDE, year_group="Year 9",
                      date_of_birth="2012-03-01")
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "termly_review", "term": "autumn", "academic_year": academic_year_label(date.today())},
        cookie=people["admin"])
    assert status == 201, pep
    return child["id"], pep["id"]


def invite(system: RunningSystem, cookie: str, pep_id: str, email: str, **more: Any) -> tuple[dict[str, Any], str]:
    since = time.time()
    status, invitation, _ = system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations", {
        "section": "views", "given_name": "Kai", "email": email, "question_set": "secondary", **more}, cookie=cookie)
    assert status == 201, invitation
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for msg in system.mailbox.messages(email, since):
            body = msg.get_body(preferencelist=("plain",))
            found = LINK.search(body.get_content() if body else "")
            if found:
                return invitation, found.group(1)
        time.sleep(0.1)
    raise AssertionError("no views invitation email")


def sit_down(system: RunningSystem, token: str, email: str) -> str:
    """Open the link, get the code by email, enter it: the views session cookie."""
    since = time.time()
    status, sent, _ = system.api("POST", "/api/v1/views/open", {"token": token})
    assert status == 202, sent
    code = system.mailbox.wait_for_code(email, since)
    status, session, _ = system.api("POST", "/api/v1/views/verify", {"token": token, "code": code})
    assert status == 200, session
    return f"epep_views={session['session_token']}"


def test_a_young_person_gives_their_views_in_two_sittings_and_the_dt_reads_them(
        system: RunningSystem, people: dict[str, str]) -> None:
    child_id, pep_id = a_pep(system, people)
    email = f"kai.{uuid.uuid4().hex[:8]}@example.test"
    invitation, token = invite(system, people["dt2"], pep_id, email)
    assert invitation["status"] == "open" and invitation["audience"] == "young_person"

    # A wrong code is refused and counted; the right one opens a session.
    since = time.time()
    assert system.api("POST", "/api/v1/views/open", {"token": token})[0] == 202
    code = system.mailbox.wait_for_code(email, since)
    wrong = "0000 0000" if code != "0000 0000" else "1111 1111"
    status, body, _ = system.api("POST", "/api/v1/views/verify", {"token": token, "code": wrong})
    assert status == 400 and body["code"] == "code_wrong"
    status, session, _ = system.api("POST", "/api/v1/views/verify", {"token": token, "code": code.replace(" ", "")})
    assert status == 200
    first = f"epep_views={session['session_token']}"
    # A used code does not open a second session.
    assert system.api("POST", "/api/v1/views/verify", {"token": token, "code": code})[0] == 400

    status, form, _ = system.api("GET", "/api/v1/views/form", cookie=first)
    assert status == 200, form
    keys = [q["key"] for q in form["questions"]]
    assert {"good_at", "future", "options", "tell_meeting"} <= set(keys)
    assert not {"how_gathered", "helper", "question_set", "observed_likes", "communication"} & set(keys)
    assert form["given_name"] == "Kai" and "child" not in form and "pep_id" not in form

    # First sitting.
    status, form, _ = system.api("PUT", "/api/v1/views/form", {"answers": {"good_at": "Art and football"}},
                                 cookie=first)
    assert status == 200 and form["answers"]["good_at"] == "Art and football"
    status, body, _ = system.api("PUT", "/api/v1/views/form", {"answers": {"how_gathered": "declined"}}, cookie=first)
    assert status == 422  # not their question
    # Second sitting, another day: a new code, the first answers still there.
    second = sit_down(system, token, email)
    status, form, _ = system.api("GET", "/api/v1/views/form", cookie=second)
    assert form["answers"]["good_at"] == "Art and football"
    status, form, _ = system.api("PUT", "/api/v1/views/form", {"answers": {
        "future": "I want to be a vet", "find_hard": "Maths tests"}}, cookie=second)
    assert status == 200

    # The DT sees them in the PEP, marked as given by invitation.
    status, section, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/views", cookie=people["dt2"])
    assert status == 200
    answers = section["answers"]
    assert answers["good_at"] == "Art and football" and answers["future"] == "I want to be a vet"
    assert answers["how_gathered"] == "interactive" and answers["question_set"] == "secondary"
    assert section["updated_by_name"] == "Kai (by invitation)"
    status, listed, _ = system.api("GET", f"/api/v1/peps/{pep_id}/views-invitations", cookie=people["dt2"])
    assert [i["id"] for i in listed] == [invitation["id"]] and listed[0]["last_used_at"]

    # Every use is in the child's access log.
    status, log, _ = system.api("GET", f"/api/v1/children/{child_id}/access-log", cookie=people["admin"])
    assert status == 200, log
    used = [e for e in log["entries"] if e["via"] == "invited_young_person"]
    assert {e["endpoint"] for e in used} >= {"/views/open", "/views/verify", "/views/verify/refused", "/views/form"}
    assert all(e["name"] == "Kai (by invitation)" for e in used)

    # The views session opens nothing else: not the PEP, not the child, not another section.
    for path in (f"/api/v1/peps/{pep_id}", f"/api/v1/peps/{pep_id}/sections/views",
                 f"/api/v1/peps/{pep_id}/sections/personal", f"/api/v1/children/{child_id}",
                 f"/api/v1/peps/{pep_id}/views-invitations"):
        assert system.api("GET", path, cookie=second)[0] == 401, path

    # Nobody outside the child's people reaches the invitations: another school's DT, another LA.
    for who in ("dt", "admin2"):
        assert system.api("GET", f"/api/v1/peps/{pep_id}/views-invitations", cookie=people[who])[0] == 404
        assert system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations/{invitation['id']}/revoke",
                          cookie=people[who])[0] == 404

    # Revoked: the link and the session answer with the same kind message, and nothing else.
    status, revoked, _ = system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations/{invitation['id']}/revoke",
                                    cookie=people["dt2"])
    assert status == 200 and revoked["status"] == "revoked"
    status, body, _ = system.api("POST", "/api/v1/views/open", {"token": token})
    assert status == 404 and body["code"] == "views_link_closed" and "views" in body["detail"]
    assert system.api("GET", "/api/v1/views/form", cookie=second)[0] in (401, 404)


def test_expired_links_and_peps_that_moved_on_answer_nothing(system: RunningSystem, people: dict[str, str]) -> None:
    _, pep_id = a_pep(system, people)
    email = f"kai.{uuid.uuid4().hex[:8]}@example.test"
    expired, old_token = invite(system, people["dt2"], pep_id, email, days=1)
    system.admin_sql("UPDATE pep.views_invitations SET expires_at = now() - interval '1 minute' WHERE id = $1",
                     uuid.UUID(expired["id"]))
    status, body, _ = system.api("POST", "/api/v1/views/open", {"token": old_token})
    assert status == 404 and body["code"] == "views_link_closed"
    status, listed, _ = system.api("GET", f"/api/v1/peps/{pep_id}/views-invitations", cookie=people["dt2"])
    assert listed[0]["status"] == "expired"
    # A made-up token gets the very same answer.
    assert system.api("POST", "/api/v1/views/open", {"token": "x" * 43})[1]["code"] == "views_link_closed"

    # The carer's section, with the same mechanism: their own questions only.
    carer_email = f"pat.{uuid.uuid4().hex[:8]}@example.test"
    since = time.time()
    status, carer, _ = system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations", {
        "section": "carer_views", "given_name": "Pat", "email": carer_email}, cookie=people["dt2"])
    assert status == 201 and carer["audience"] == "carer"
    deadline = time.monotonic() + 20
    token = None
    while token is None and time.monotonic() < deadline:
        for msg in system.mailbox.messages(carer_email, since):
            found = LINK.search(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
            token = found.group(1) if found else None
        time.sleep(0.1)
    assert token is not None
    session = sit_down(system, token, carer_email)
    form = system.api("GET", "/api/v1/views/form", cookie=session)[1]
    assert form["audience"] == "carer" and "worries" in [q["key"] for q in form["questions"]]
    assert system.api("PUT", "/api/v1/views/form", {"answers": {"good_at": "x"}}, cookie=session)[0] == 422

    # The PEP moves on (here: cancelled): the session and the link stop working. The person with a session proved
    # who they are, so they are told the invitation has ended (not asked for a code the link cannot send).
    status, _, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/cancel", {"reason": "Moved LA"},
                              cookie=people["admin"])
    assert status == 200
    status, body, _ = system.api("GET", "/api/v1/views/form", cookie=session)
    assert status == 404 and body["code"] == "views_invitation_ended"
    assert system.api("PUT", "/api/v1/views/form", {"answers": {"worries": "x"}}, cookie=session)[0] == 404
    assert system.api("POST", "/api/v1/views/open", {"token": token})[0] == 404
    # And nobody can invite to it now.
    assert system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations", {
        "section": "views", "given_name": "Kai", "email": email}, cookie=people["dt2"])[0] == 403
    assert str(demo.LA_ID) == LA


def _codes_issued(system: RunningSystem, invitation_id: str) -> int:
    """How many codes an invitation has had emailed (none: no code was ever made for it)."""
    [row] = system.admin_sql("SELECT codes_sent, code_hmac IS NULL AS none FROM pep.views_invitations "
                             "WHERE id = $1", uuid.UUID(invitation_id))
    return 0 if row["none"] else int(row["codes_sent"])


def test_a_child_asked_another_question_set_has_every_answer_shown_to_the_dt(
        system: RunningSystem, people: dict[str, str]) -> None:
    """Primary carried forward from the last PEP; the DT invites Kai with the Secondary questions. Kai's answer to
    a Secondary-only question is shown to the DT with its question, whatever the section's set says, and the
    section says who gave it, with which questions; answering moves the section's carried check on."""
    child_id, pep_id = a_pep(system, people)
    # As the last PEP's views carry forward: its question set, waiting to be checked.
    system.admin_sql("UPDATE pep.pep_sections SET answers = answers || '{\"question_set\": \"primary\"}'::jsonb, "
                     "to_check = '{question_set}' WHERE pep_id = $1 AND section_key = 'views'", uuid.UUID(pep_id))
    email = f"kai.{uuid.uuid4().hex[:8]}@example.test"
    invitation, token = invite(system, people["dt2"], pep_id, email, question_set="secondary")
    kai = sit_down(system, token, email)
    status, form, _ = system.api("PUT", "/api/v1/views/form", {"answers": {
        "good_at": "Art", "future": "I want to be a vet"}}, cookie=kai)
    assert status == 200, form

    status, section, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/views", cookie=people["dt2"])
    assert status == 200, section
    assert section["answers"]["future"] == "I want to be a vet"
    assert section["answers"]["question_set"] == "secondary" and section["to_check"] == []  # moved on
    [given] = section["given"]
    assert given["name"] == "Kai" and given["audience"] == "young_person" and given["question_set"] == "secondary"
    assert set(given["answered"]) == {"good_at", "future"}
    status, overview, _ = system.api("GET", f"/api/v1/peps/{pep_id}", cookie=people["dt2"])
    views = next(s for s in overview["sections"] if s["key"] == "views")
    assert views["to_check"] == 0 and views["status"] == "in_progress"

    # The DT then says Primary suits Kai best: the set stays theirs, and Kai's Secondary answer is still named
    # as theirs (the portal shows it with its question: tests/portal/test_views_pages.py).
    status, saved, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/sections/views", {
        "answers": {"question_set": "primary"}, "version": section["version"]}, cookie=people["dt2"])
    assert status == 200, saved
    assert saved["answers"]["future"] == "I want to be a vet" and saved["answers"]["question_set"] == "primary"
    assert "future" in saved["given"][0]["answered"]

    # The access log names the section by its title.
    log = system.api("GET", f"/api/v1/children/{child_id}/access-log", cookie=people["admin"])[1]["entries"]
    assert "Saved their views (My views)" in {e["what"] for e in log}
    assert not any(e["what"].endswith("(views)") for e in log)
    assert invitation["question_set"] == "secondary"


def test_a_dead_link_answers_404_when_opened_and_no_code_is_sent(
        system: RunningSystem, people: dict[str, str]) -> None:
    _, pep_id = a_pep(system, people)
    email = f"kai.{uuid.uuid4().hex[:8]}@example.test"
    live, live_token = invite(system, people["dt2"], pep_id, email)
    # A link that works: the check says so, and sends nothing.
    assert system.api("POST", "/api/v1/views/check", {"token": live_token})[0] == 204
    assert _codes_issued(system, live["id"]) == 0

    revoked, revoked_token = invite(system, people["dt2"], pep_id, f"r.{email}")
    assert system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations/{revoked['id']}/revoke",
                      cookie=people["dt2"])[0] == 200
    expired, expired_token = invite(system, people["dt2"], pep_id, f"e.{email}")
    system.admin_sql("UPDATE pep.views_invitations SET expires_at = now() - interval '1 minute' WHERE id = $1",
                     uuid.UUID(expired["id"]))
    answers = {}
    for name, token in (("revoked", revoked_token), ("expired", expired_token), ("unknown", "x" * 43),
                        ("cut short", live_token[:30])):
        status, body, _ = system.api("POST", "/api/v1/views/check", {"token": token})
        answers[name] = (status, body["code"], body["title"], body["detail"])
    assert len(set(answers.values())) == 1, answers  # the same answer, whatever the reason
    assert answers["revoked"][:2] == (404, "views_link_closed")
    assert _codes_issued(system, revoked["id"]) == 0 and _codes_issued(system, expired["id"]) == 0


def test_finishing_ends_the_session_on_the_server_and_a_revoke_under_an_open_form_says_so(
        system: RunningSystem, people: dict[str, str]) -> None:
    _, pep_id = a_pep(system, people)
    email = f"kai.{uuid.uuid4().hex[:8]}@example.test"
    invitation, token = invite(system, people["dt2"], pep_id, email)
    kai = sit_down(system, token, email)
    assert system.api("PUT", "/api/v1/views/form", {"answers": {"good_at": "Art"}}, cookie=kai)[0] == 200
    assert system.api("POST", "/api/v1/views/end", cookie=kai)[0] == 204
    # The cookie replayed is refused: the session ended on the server, not only in the browser.
    status, body, _ = system.api("GET", "/api/v1/views/form", cookie=kai)
    assert status == 401 and body["code"] == "views_session_ended"
    assert system.api("PUT", "/api/v1/views/form", {"answers": {"good_at": "x"}}, cookie=kai)[0] == 401
    assert system.api("POST", "/api/v1/views/end", cookie=kai)[0] == 401

    # A new sitting; the DT revokes while the form is open: the invitation has ended, and who to talk to.
    again = sit_down(system, token, email)
    assert system.api("POST", f"/api/v1/peps/{pep_id}/views-invitations/{invitation['id']}/revoke",
                      cookie=people["dt2"])[0] == 200
    for method, body in (("GET", None), ("PUT", {"answers": {"good_at": "More art"}})):
        status, problem, _ = system.api(method, "/api/v1/views/form", body, cookie=again)
        assert status == 404 and problem["code"] == "views_invitation_ended", problem
        assert problem["ask"] == "Rory Teacher"  # who sent the link: the person to talk to
    status, section, _ = system.api("GET", f"/api/v1/peps/{pep_id}/sections/views", cookie=people["dt2"])
    assert section["answers"]["good_at"] == "Art"  # nothing saved after the revoke
