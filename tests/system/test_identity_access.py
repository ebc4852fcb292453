"""Identity and access through the gateway: invitations, registration, account care, administration, audit,
and one LA (or setting) never reaching another's."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import asyncpg
import pytest

from shared import demo
from shared.settings import ServiceSettings
from tests.conftest import RunningSystem

LA, OAKFIELD, RIVERSIDE = str(demo.LA_ID), str(demo.OAKFIELD), str(demo.RIVERSIDE)
NORTHSHIRE, HILLSIDE = str(demo.OTHER_LA_ID), str(demo.HILLSIDE)
GOOD_PASSWORD = "a long and unusual passphrase"


@pytest.fixture(scope="module")
def admin(system: RunningSystem) -> str:
    return system.sign_in("admin@demo.test")


@pytest.fixture(scope="module")
def dt(system: RunningSystem) -> str:
    return system.sign_in("dt@demo.test")


def fresh_email(name: str) -> str:
    return f"{name}.{secrets.token_hex(3)}@demo.test"


def invitation_token(system: RunningSystem, email: str, since: float) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for msg in system.mailbox.messages(email, since):
            body = msg.get_body(preferencelist=("plain",))
            found = re.search(r"/invitations/([A-Za-z0-9_-]{20,})", body.get_content() if body else "")
            if found:
                return found.group(1)
        time.sleep(0.05)
    raise TimeoutError(f"no invitation email for {email}")


def invite(system: RunningSystem, cookie: str, org: str, given: str, family: str, email: str, role: str) -> str:
    since = time.time()
    status, body, _ = system.api("POST", f"/api/v1/organisations/{org}/invitations",
                                 {"given_name": given, "family_name": family, "email": email, "role": role},
                                 cookie=cookie)
    assert status == 201, body
    return invitation_token(system, email, since)


def register(system: RunningSystem, token: str, given: str, family: str, email: str) -> None:
    since = time.time()
    status, body, _ = system.api("POST", "/api/v1/registrations", {
        "token": token, "given_name": given, "family_name": family, "email": email, "password": GOOD_PASSWORD})
    assert status == 202, body
    code = system.mailbox.wait_for_code(email, since)
    status, body, _ = system.api("POST", "/api/v1/registrations/verify",
                                 {"registration_id": body["registration_id"], "code": code})
    assert status == 204, body


# ---- the new user's journey -----------------------------------------------------------------------


def test_an_invited_designated_teacher_registers_verifies_and_signs_in(system: RunningSystem, admin: str) -> None:
    email = fresh_email("nia")
    token = invite(system, admin, RIVERSIDE, "Nia", "Newteacher", email, "setting_staff")
    status, preview, _ = system.api("GET", f"/api/v1/invitations/lookup?token={token}")
    assert status == 200
    assert (preview["organisation_name"], preview["role"]) == ("Riverside Academy", "setting_staff")
    # A different surname is refused, and the message says which field.
    status, body, _ = system.api("POST", "/api/v1/registrations", {
        "token": token, "given_name": "Nia", "family_name": "Different", "email": email, "password": GOOD_PASSWORD})
    assert status == 422
    assert body["errors"] == [{"field": "family_name", "message": "The family name does not match the invitation"}]
    # Names and email compare trimmed and case-insensitively.
    register(system, token, " nia ", "NEWTEACHER", email.upper())
    cookie = system.sign_in(email, GOOD_PASSWORD)
    status, me, _ = system.api("GET", "/api/v1/me", cookie=cookie)
    assert (me["given_name"], me["family_name"]) == ("Nia", "Newteacher")
    assert [(m["organisation_name"], m["role"]) for m in me["memberships"]] == [("Riverside Academy", "setting_staff")]
    # The link is used up.
    assert system.api("GET", f"/api/v1/invitations/lookup?token={token}")[1]["code"] == "invitation_not_found"


def test_registration_refuses_a_weak_password_and_a_different_email(system: RunningSystem, admin: str) -> None:
    email = fresh_email("oli")
    token = invite(system, admin, LA, "Oli", "Officer", email, "vs_caseworker")
    status, body, _ = system.api("POST", "/api/v1/registrations", {
        "token": token, "given_name": "Oli", "family_name": "Officer", "email": "someone.else@demo.test",
        "password": "password1"})
    assert status == 422
    fields = {(e["field"], e["message"]) for e in body["errors"]}
    assert ("email", "The email address does not match the invitation") in fields
    assert ("password", "Your password must be at least 10 characters") in fields


def test_an_existing_user_accepts_an_invitation_to_a_second_organisation(system: RunningSystem, admin: str) -> None:
    email = fresh_email("multi")
    register(system, invite(system, admin, RIVERSIDE, "Max", "Multi", email, "setting_staff"), "Max", "Multi", email)
    token = invite(system, admin, LA, "Max", "Multi", email, "social_worker")
    cookie = system.sign_in(email, GOOD_PASSWORD)
    status, body, _ = system.api("POST", "/api/v1/invitations/accept", {"token": token}, cookie=cookie)
    assert status == 200, body
    roles = {(m["organisation_name"], m["role"]) for m in system.api("GET", "/api/v1/me", cookie=cookie)[1]
             ["memberships"]}
    assert roles == {("Riverside Academy", "setting_staff"), ("Demo Virtual School", "social_worker")}


def test_forgotten_password_resets_with_a_code_and_ends_every_session(system: RunningSystem, admin: str) -> None:
    email = fresh_email("forgetful")
    register(system, invite(system, admin, RIVERSIDE, "Fay", "Forgetful", email, "setting_staff"), "Fay",
             "Forgetful", email)
    old_session = system.sign_in(email, GOOD_PASSWORD)
    since = time.time()
    status, body, _ = system.api("POST", "/api/v1/auth/password-reset", {"email": email})
    unknown = system.api("POST", "/api/v1/auth/password-reset", {"email": "nobody@demo.test"})
    assert status == unknown[0] == 202 and set(body) == set(unknown[1]) == {"attempt_id"}
    code = system.mailbox.wait_for_code(email, since)
    weak = system.api("POST", "/api/v1/auth/password-reset/complete",
                      {"attempt_id": body["attempt_id"], "code": code, "new_password": "short"})
    assert weak[0] == 422 and weak[1]["errors"][0]["field"] == "new_password"
    status, _, _ = system.api("POST", "/api/v1/auth/password-reset/complete", {
        "attempt_id": body["attempt_id"], "code": code, "new_password": "another fine passphrase"})
    assert status == 204
    assert system.api("GET", "/api/v1/me", cookie=old_session)[0] == 401
    system.sign_in(email, "another fine passphrase")


# ---- my account -----------------------------------------------------------------------------------


def test_changing_my_password_keeps_this_session_and_ends_the_others(system: RunningSystem, admin: str) -> None:
    email = fresh_email("changer")
    register(system, invite(system, admin, OAKFIELD, "Cy", "Changer", email, "setting_staff"), "Cy", "Changer", email)
    this, other = system.sign_in(email, GOOD_PASSWORD), system.sign_in(email, GOOD_PASSWORD)
    wrong = system.api("POST", "/api/v1/me/password", {"current_password": "nope", "new_password": "x" * 12},
                       cookie=this)
    assert wrong[1]["errors"] == [{"field": "current_password", "message": "Your current password is not right"}]
    ok = system.api("POST", "/api/v1/me/password", {"current_password": GOOD_PASSWORD,
                                                    "new_password": "changed but still long"}, cookie=this)
    assert ok[0] == 204
    assert system.api("GET", "/api/v1/me", cookie=this)[0] == 200
    assert system.api("GET", "/api/v1/me", cookie=other)[0] == 401


def test_changing_my_email_needs_a_code_from_the_new_address(system: RunningSystem, admin: str) -> None:
    email, new_email = fresh_email("mover"), fresh_email("moved")
    register(system, invite(system, admin, OAKFIELD, "Mo", "Mover", email, "setting_staff"), "Mo", "Mover", email)
    cookie = system.sign_in(email, GOOD_PASSWORD)
    since = time.time()
    status, body, _ = system.api("POST", "/api/v1/me/email", {"new_email": new_email, "password": GOOD_PASSWORD},
                                 cookie=cookie)
    assert status == 202
    code = system.mailbox.wait_for_code(new_email, since)
    assert system.api("POST", "/api/v1/me/email/verify", {"change_id": body["change_id"], "code": code},
                      cookie=cookie)[0] == 204
    assert system.api("GET", "/api/v1/me", cookie=cookie)[1]["email"] == new_email
    system.sign_in(new_email, GOOD_PASSWORD)


def test_my_sessions_can_be_listed_and_ended_one_at_a_time(system: RunningSystem) -> None:
    first, second = system.sign_in("approver@demo.test"), system.sign_in("approver@demo.test")
    status, sessions, _ = system.api("GET", "/api/v1/me/sessions", cookie=first)
    assert status == 200 and sum(s["current"] for s in sessions) == 1
    other = next(s for s in sessions if not s["current"])
    assert system.api("DELETE", f"/api/v1/me/sessions/{other['id']}", cookie=first)[0] == 204
    assert system.api("GET", "/api/v1/me", cookie=second)[0] == 401
    assert system.api("GET", "/api/v1/me", cookie=first)[0] == 200


def test_looking_at_the_session_does_not_keep_it_alive(system: RunningSystem) -> None:
    cookie = system.sign_in("iro@demo.test")
    first = system.api("GET", "/api/v1/session", cookie=cookie)[1]
    time.sleep(1.1)
    again = system.api("GET", "/api/v1/session", cookie=cookie)[1]
    assert again["idle_expires_at"] == first["idle_expires_at"] and again["warn_seconds_before"] == 120
    extended = system.api("POST", "/api/v1/session/extend", cookie=cookie)[1]
    assert extended["idle_expires_at"] > first["idle_expires_at"]


# ---- administration -------------------------------------------------------------------------------


def test_a_vs_admin_adds_and_edits_a_setting_in_their_la(system: RunningSystem, admin: str) -> None:
    status, setting, _ = system.api("POST", f"/api/v1/organisations/{LA}/settings", {
        "name": "Brookside College", "setting_type": "college", "urn": "1234567", "phase": "post_16"}, cookie=admin)
    assert status == 201 and setting["la_id"] == LA and setting["can_manage"]
    bad = system.api("POST", f"/api/v1/organisations/{LA}/settings", {"name": "X", "setting_type": "castle",
                                                                      "urn": "12"}, cookie=admin)
    assert bad[0] == 422 and {e["field"] for e in bad[1]["errors"]} == {"setting_type", "urn"}
    status, edited, _ = system.api("PATCH", f"/api/v1/organisations/{setting['id']}", {"address": "1 High St"},
                                   cookie=admin)
    assert status == 200 and edited["address"] == "1 High St" and edited["name"] == "Brookside College"
    blank = system.api("PATCH", f"/api/v1/organisations/{setting['id']}", {"name": None}, cookie=admin)
    assert blank[0] == 422 and blank[1]["errors"] == [{"field": "name", "message": "This cannot be left empty"}]
    names = [s["name"] for s in system.api("GET", f"/api/v1/organisations/{LA}/settings", cookie=admin)[1]]
    assert "Brookside College" in names and "Hillside School" not in names


def test_who_may_invite_whom(system: RunningSystem, admin: str, dt: str) -> None:
    def attempt(cookie: str, org: str, role: str) -> int:
        return system.api("POST", f"/api/v1/organisations/{org}/invitations", {
            "given_name": "Ivy", "family_name": "Invitee", "email": fresh_email("ivy"), "role": role},
            cookie=cookie)[0]

    assert attempt(dt, OAKFIELD, "setting_staff") == 201
    assert attempt(dt, OAKFIELD, "designated_teacher") == 422
    assert attempt(dt, RIVERSIDE, "setting_staff") == 404
    assert attempt(admin, LA, "designated_teacher") == 422
    assert attempt(admin, OAKFIELD, "designated_teacher") == 201
    assert attempt(admin, HILLSIDE, "setting_staff") == 404


def test_nominating_a_new_designated_teacher_keeps_one_and_the_history(system: RunningSystem, admin: str) -> None:
    email = fresh_email("newdt")
    register(system, invite(system, admin, RIVERSIDE, "Dee", "Deputy", email, "setting_staff"), "Dee", "Deputy", email)
    users = system.api("GET", f"/api/v1/organisations/{RIVERSIDE}/users", cookie=admin)[1]
    new_dt = next(u for u in users if u["email"] == email)["user_id"]
    status, org, _ = system.api("POST", f"/api/v1/organisations/{RIVERSIDE}/designated-teacher",
                                {"user_id": new_dt}, cookie=admin)
    assert status == 200 and org["designated_teacher"]["email"] == email
    roles = {u["email"]: u["roles"] for u in system.api("GET", f"/api/v1/organisations/{RIVERSIDE}/users",
                                                        cookie=admin)[1]}
    assert roles[email] == ["designated_teacher"] and roles["dt2@demo.test"] == ["setting_staff"]
    history = system.api("GET", f"/api/v1/organisations/{RIVERSIDE}/designated-teacher/history", cookie=admin)[1]
    assert [h["given_name"] for h in history[:2]] == ["Dee", "Rory"] and history[1]["ended_at"]
    # Put Rory back, so the demo stays as it was.
    rory = str(demo.account_id("dt2"))
    assert system.api("POST", f"/api/v1/organisations/{RIVERSIDE}/designated-teacher", {"user_id": rory},
                      cookie=admin)[0] == 200


def test_deactivation_ends_sessions_at_once_and_stops_sign_in(system: RunningSystem, admin: str, now: float) -> None:
    email = fresh_email("leaver")
    register(system, invite(system, admin, OAKFIELD, "Lee", "Leaver", email, "setting_staff"), "Lee", "Leaver", email)
    cookie = system.sign_in(email, GOOD_PASSWORD)
    user_id = system.api("GET", "/api/v1/me", cookie=cookie)[1]["id"]
    assert system.api("POST", f"/api/v1/users/{user_id}/deactivate", cookie=admin)[0] == 204
    assert system.api("GET", "/api/v1/me", cookie=cookie)[0] == 401
    since = time.time()
    assert system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": GOOD_PASSWORD})[0] == 202
    time.sleep(1.5)
    assert system.mailbox.codes(email, since) == []
    assert system.api("POST", f"/api/v1/users/{user_id}/reactivate", cookie=admin)[0] == 204
    system.sign_in(email, GOOD_PASSWORD)


def test_a_dt_limits_what_a_member_of_staff_sees(system: RunningSystem, dt: str) -> None:
    staff = str(demo.account_id("staff"))
    status, _, _ = system.api("PUT", f"/api/v1/organisations/{OAKFIELD}/staff/{staff}/access",
                              {"children": [str(demo.CHILDREN[0]["id"])], "sections": ["B"]}, cookie=dt)
    assert status == 204
    users = {u["user_id"]: u for u in system.api("GET", f"/api/v1/organisations/{OAKFIELD}/users", cookie=dt)[1]}
    assert users[staff]["access"] == {"children": [str(demo.CHILDREN[0]["id"])], "sections": ["B"]}
    staff_cookie = system.sign_in("staff@demo.test")
    # Staff see their setting, but manage nothing in it.
    assert system.api("GET", f"/api/v1/organisations/{OAKFIELD}", cookie=staff_cookie)[1]["can_manage"] is False
    assert system.api("GET", f"/api/v1/organisations/{OAKFIELD}/users", cookie=staff_cookie)[0] == 403
    assert system.api("PUT", f"/api/v1/organisations/{OAKFIELD}/staff/{staff}/access",
                      {"children": None, "sections": None}, cookie=staff_cookie)[0] == 403


# ---- tenant isolation -----------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}"),
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}/settings"),
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}/users"),
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}/invitations"),
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}/audit"),
    ("GET", f"/api/v1/organisations/{HILLSIDE}"),
    ("GET", f"/api/v1/organisations/{HILLSIDE}/users"),
    ("GET", f"/api/v1/organisations/{HILLSIDE}/designated-teacher/history"),
    ("POST", f"/api/v1/users/{demo.account_id('dt3')}/deactivate"),
    ("POST", f"/api/v1/users/{demo.account_id('admin2')}/sessions/revoke-all"),
])
def test_another_las_records_answer_404_to_a_vs_admin(system: RunningSystem, admin: str, method: str,
                                                      path: str) -> None:
    status, body, _ = system.api(method, path, cookie=admin)
    assert status == 404, body


@pytest.mark.parametrize("method,path", [
    ("GET", f"/api/v1/organisations/{LA}/users"),
    ("GET", f"/api/v1/organisations/{LA}/audit"),
    ("GET", f"/api/v1/organisations/{LA}/settings"),
    ("GET", f"/api/v1/organisations/{RIVERSIDE}"),
    ("GET", f"/api/v1/organisations/{RIVERSIDE}/users"),
    ("GET", f"/api/v1/organisations/{NORTHSHIRE}/users"),
    ("POST", f"/api/v1/users/{demo.account_id('dt2')}/deactivate"),
    ("PATCH", f"/api/v1/organisations/{RIVERSIDE}"),
])
def test_a_dt_reaches_only_their_own_setting(system: RunningSystem, dt: str, method: str, path: str) -> None:
    status, body, _ = system.api(method, path, {"name": "x"} if method == "PATCH" else None, cookie=dt)
    assert status == 404, body


def test_every_administration_endpoint_needs_a_session(system: RunningSystem) -> None:
    for method, path in [("GET", f"/api/v1/organisations/{LA}"), ("GET", f"/api/v1/organisations/{LA}/users"),
                         ("POST", f"/api/v1/organisations/{LA}/invitations"), ("GET", "/api/v1/me/sessions"),
                         ("GET", "/api/v1/session")]:
        assert system.api(method, path, {} if method == "POST" else None)[0] == 401, path


# ---- audit ----------------------------------------------------------------------------------------


def test_identity_actions_are_in_the_las_audit_trail(system: RunningSystem, admin: str) -> None:
    system.sign_in("caseworker@demo.test")
    system.api("POST", "/api/v1/auth/sign-in", {"email": "caseworker@demo.test", "password": "wrong"})
    trail = system.api("GET", f"/api/v1/organisations/{LA}/audit?limit=500", cookie=admin)[1]
    caseworker = [(e["action"], e["outcome"]) for e in trail if e["subject_name"] == "Cal Caseworker"]
    assert ("sign_in", "success") in caseworker and ("sign_in", "wrong_password") in caseworker
    assert all(e["action"] != "sign_in" or e["subject_name"] != "Hugo Hillside" for e in trail)
    only = system.api("GET", f"/api/v1/organisations/{LA}/audit?action=invitation_sent", cookie=admin)[1]
    assert only and {e["action"] for e in only} == {"invitation_sent"}


def test_the_audit_log_is_append_only_for_the_service_itself(system: RunningSystem) -> None:
    settings = ServiceSettings(pg_host=system.local.pg_host, pg_port=system.local.pg_port,
                               pg_database=system.local.database)

    async def attempt(sql: str) -> None:
        conn = await asyncpg.connect(settings.service_dsn("identity"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    for sql in ("UPDATE identity.audit_log SET outcome = 'x'", "DELETE FROM identity.audit_log",
                "TRUNCATE identity.audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(attempt(sql))


def test_a_new_sign_in_is_notified_by_email(system: RunningSystem) -> None:
    since = time.time()
    system.sign_in("sw@demo.test")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        subjects = [str(m["Subject"]) for m in system.mailbox.messages("sw@demo.test", since)]
        if len(subjects) >= 2:
            break
        time.sleep(0.1)
    assert len(subjects) == 2 and any("sign" in s.lower() and "code" not in s.lower() for s in subjects), subjects
