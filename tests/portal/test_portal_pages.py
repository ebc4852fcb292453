"""The portal's pages against a stand-in gateway: what they ask it, and how they show its answers."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import ME, SESSION, FakeGateway, problem

LA = ME["memberships"][0]["organisation_id"]  # type: ignore[index]
RIVERSIDE = "c4d7d9a8-7f55-5b8e-9a64-3f1cf4bd6a11"
TOKEN = "t" * 43
INVITATION = "0b6c5d9e-3f1a-4c2b-9d8e-7f6a5b4c3d2e"
REGISTRATION = "1c7d6e0f-4a2b-4d3c-8e9f-8a7b6c5d4e3f"
ATTEMPT = "2d8e7f1a-5b3c-4e4d-9f0a-9b8c7d6e5f4a"
LA_ORG = {"id": LA, "name": "Demo Virtual School", "organisation_type": "local_authority", "la_id": None,
          "setting_type": None, "urn": None, "phase": None, "address": None, "contact_email": None,
          "contact_phone": None, "designated_teacher": None, "can_manage": True}


def _signed_in(portal: TestClient, fake: FakeGateway) -> None:
    fake.signed_in()
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})


async def _csrf(portal: TestClient, path: str = "/sign-in") -> str:
    html = await (await portal.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html
    return token.group(1)


# ---- sessions that end ----------------------------------------------------------------------------


async def test_a_session_that_has_ended_goes_to_sign_in_saying_so(portal: TestClient, fake: FakeGateway) -> None:
    portal.session.cookie_jar.update_cookies({"epep_session": "old"})
    fake.answer("GET", "/me", *problem(401, "Not signed in", "Your session has ended.", code="session_ended"))
    resp = await portal.get("/home", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/sign-in?reason=session-ended"
    assert 'epep_session=""' in resp.headers["Set-Cookie"]
    html = await (await portal.get("/sign-in?reason=session-ended")).text()
    # Whose session it was is not known any more, nor so their LA's idle timeout: no number of minutes.
    assert "You have been signed out" in html and "did not do anything for a while" in html


async def test_an_unknown_session_goes_to_sign_in_without_a_banner(portal: TestClient, fake: FakeGateway) -> None:
    portal.session.cookie_jar.update_cookies({"epep_session": "forged"})
    fake.answer("GET", "/me", *problem(401, "Not signed in", code="not_signed_in"))
    resp = await portal.get("/account", allow_redirects=False)
    assert resp.headers["Location"] == "/sign-in"
    assert "You have been signed out" not in await (await portal.get("/sign-in?reason=nonsense")).text()


async def test_signed_in_pages_carry_the_sessions_clock_and_the_warning(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    html = await (await portal.get("/home")).text()
    assert 'data-idle-expires-at="2030-01-01T08:20:00+00:00"' in html and 'data-warn-seconds="120"' in html
    assert '<dialog class="app-timeout-dialog" id="timeout-warning"' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    # Asked last, after the page's own call, so the idle deadline is the one that call left.
    assert [(m, p) for m, p, _, _ in fake.calls] == [("GET", "/me"), ("GET", "/session")]
    signed_out = await (await portal.get("/sign-in")).text()
    assert "data-idle-expires-at" not in signed_out and "timeout-warning" not in signed_out


async def test_stay_signed_in_answers_the_script_in_json(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("POST", "/session/extend", 200, {**SESSION, "idle_expires_at": "2030-01-01T08:40:00+00:00"})
    token = await _csrf(portal, "/home")
    resp = await portal.post("/session/extend", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert resp.status == 200
    clock = await resp.json()
    assert clock["idle_expires_at"] == "2030-01-01T08:40:00+00:00" and clock["warn_seconds"] == 120
    # Without the script, the form goes back to the page it was on (on this site only).
    resp = await portal.post("/session/extend", data={"csrf_token": token}, allow_redirects=False,
                             headers={"Referer": str(portal.make_url("/account?x=1"))})
    assert resp.status == 303 and resp.headers["Location"] == "/account?x=1"
    resp = await portal.post("/session/extend", data={"csrf_token": token}, allow_redirects=False,
                             headers={"Referer": "http://evil.test/"})
    assert resp.headers["Location"] == "/home"


async def test_stay_signed_in_after_the_session_ended_says_so_in_json(portal: TestClient, fake: FakeGateway) -> None:
    token = await _csrf(portal)
    resp = await portal.post("/session/extend", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert resp.status == 401 and await resp.json() == {"signed_in": False}
    resp = await portal.get("/session")
    assert resp.status == 401


async def test_a_timed_out_sign_out_says_why(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("POST", "/auth/sign-out", 204)
    token = await _csrf(portal, "/home")
    resp = await portal.post("/sign-out", data={"csrf_token": token, "reason": "timeout"}, allow_redirects=False)
    assert resp.headers["Location"] == "/signed-out?reason=timeout"
    html = await (await portal.get("/signed-out?reason=timeout")).text()
    assert "You have been signed out" in html and "did not do anything for 20 minutes" in html
    # The timeout warning's script says how long the person's own idle timeout was (their LA's rule).
    html = await (await portal.get("/signed-out?reason=timeout&after=2400")).text()
    assert "did not do anything for 40 minutes" in html
    html = await (await portal.get("/signed-out?reason=timeout&after=<b>")).text()
    assert "did not do anything for 20 minutes" in html


# ---- administration: what is not yours does not exist --------------------------------------------------


async def test_an_id_that_is_not_an_id_is_page_not_found_without_asking(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    for path in ("/organisations/..%2Fusers", "/organisations/123", f"/organisations/{LA}/staff/x/access"):
        resp = await portal.get(path)
        assert resp.status == 404 and "Page not found" in await resp.text()
    assert fake.calls == []


async def test_another_organisations_page_is_page_not_found(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", f"/organisations/{RIVERSIDE}", *problem(404, "Not found", code="not_found"))
    resp = await portal.get(f"/organisations/{RIVERSIDE}")
    assert resp.status == 404 and "Page not found" in await resp.text()


async def test_a_403_is_not_dressed_up_as_page_not_found(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", f"/organisations/{RIVERSIDE}", *problem(403, "Forbidden", code="forbidden"))
    resp = await portal.get(f"/organisations/{RIVERSIDE}")
    assert resp.status == 403 and "You cannot use this page" in await resp.text()


async def test_an_la_page_offers_only_what_the_caller_may_do(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", "/me", 200, {**ME, "memberships": [{**ME["memberships"][0], "role": "vs_caseworker"}]})  # type: ignore[dict-item]
    fake.answer("GET", f"/organisations/{LA}", 200, {**LA_ORG, "can_manage": False})
    html = await (await portal.get(f"/organisations/{LA}")).text()
    assert "Demo Virtual School" in html
    for offer in ("Invite someone", "Add a setting", "Audit log", "People"):
        assert offer not in html
    assert not fake.asked("GET", f"/organisations/{LA}/users")
    resp = await portal.get(f"/organisations/{LA}/invitations/new")
    assert resp.status == 404


async def test_the_audit_page_passes_its_filters_on(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", f"/organisations/{LA}", 200, LA_ORG)
    fake.answer("GET", f"/organisations/{LA}/users", 200, [])
    fake.answer("GET", f"/organisations/{LA}/audit", 200, [
        {"id": 7, "at": "2026-11-23T16:37:00+00:00", "action": "invitation_sent", "outcome": "success",
         "actor_name": "Amira Admin", "subject_name": None, "organisation_name": "Riverside Academy",
         "client_address": "192.0.2.1"}])
    html = await (await portal.get(f"/organisations/{LA}/audit?action=invitation_sent&user_id=not-an-id")).text()
    assert fake.asked("GET", f"/organisations/{LA}/audit") == [{"action": "invitation_sent", "limit": "50"}]
    assert "Invitation sent" in html and "23 November 2026 at 4:37pm" in html and "Amira Admin" in html


async def test_an_invitation_is_sent_with_the_gateways_field_errors_shown_inline(
        portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", f"/organisations/{LA}", 200, LA_ORG)
    fake.answer("POST", f"/organisations/{LA}/invitations", *problem(422, "Invalid", errors=[
        {"field": "email", "message": "There is already an open invitation for this email address"}]))
    token = await _csrf(portal, f"/organisations/{LA}/invitations/new")
    form = {"csrf_token": token, "given_name": "Nia", "family_name": "Newteacher", "email": "nia@demo.test",
            "role": "social_worker"}
    html = await (await portal.post(f"/organisations/{LA}/invitations/new", data=form)).text()
    assert '<a href="#email">There is already an open invitation for this email address</a>' in html
    assert 'value="Nia"' in html
    fake.answer("POST", f"/organisations/{LA}/invitations", 201,
                {"id": INVITATION, "expires_at": "2030-01-01T00:00:00Z"})
    resp = await portal.post(f"/organisations/{LA}/invitations/new", data=form, allow_redirects=False)
    assert resp.headers["Location"] == f"/organisations/{LA}?done=invited"
    assert fake.asked("POST", f"/organisations/{LA}/invitations")[-1] == {
        "given_name": "Nia", "family_name": "Newteacher", "email": "nia@demo.test", "role": "social_worker"}


# ---- invitations and registration -------------------------------------------------------------------------


def _invitation(fake: FakeGateway) -> None:
    fake.answer("GET", "/invitations/lookup", 200, {"organisation_name": "Riverside Academy",
                                                   "organisation_type": "setting", "role": "setting_staff",
                                                   "expires_at": "2030-01-01T12:00:00+00:00"})


async def test_opening_an_invitation_link_only_looks_it_up(portal: TestClient, fake: FakeGateway) -> None:
    _invitation(fake)
    html = await (await portal.get(f"/invitations/{TOKEN}")).text()
    assert "You’ve been invited to use ePEP as Setting staff for Riverside Academy" in html
    assert f'action="/invitations/{TOKEN}"' in html
    assert [(m, p) for m, p, _, _ in fake.calls] == [("GET", "/invitations/lookup")]
    assert fake.asked("GET", "/invitations/lookup") == [{"token": TOKEN}]


@pytest.mark.parametrize("token", ["short", "x" * 101, "has.dots.in.it.and.more.than.twenty"])
async def test_a_link_that_cannot_be_an_invitation_is_not_looked_up(portal: TestClient, fake: FakeGateway,
                                                                     token: str) -> None:
    resp = await portal.get(f"/invitations/{token}")
    assert resp.status == 404 and "You cannot use this invitation link" in await resp.text()
    assert fake.calls == []


async def test_a_used_invitation_says_what_the_gateway_said(portal: TestClient, fake: FakeGateway) -> None:
    detail = ("This invitation link has expired or has already been used. Ask the person who invited you to "
              "send a new one.")
    fake.answer("GET", "/invitations/lookup", *problem(404, "Invitation not found", detail,
                                                       code="invitation_not_found"))
    resp = await portal.get(f"/invitations/{TOKEN}")
    assert resp.status == 404 and detail in await resp.text()


async def test_registering_shows_mismatches_inline_then_moves_to_the_code(portal: TestClient,
                                                                        fake: FakeGateway) -> None:
    _invitation(fake)
    token = await _csrf(portal, f"/invitations/{TOKEN}")
    form_page = await (await portal.post(f"/invitations/{TOKEN}", data={"csrf_token": token})).text()
    assert "Create your account" in form_page and "at least 10 characters" in form_page
    assert not fake.asked("POST", "/registrations")

    fake.answer("POST", "/registrations", *problem(422, "Invalid", errors=[
        {"field": "family_name", "message": "The family name does not match the invitation"}]))
    data = {"csrf_token": token, "given_name": "Nia", "family_name": "Different", "email": "nia@demo.test",
            "password": "kettle-orbit-tangerine"}
    html = await (await portal.post(f"/invitations/{TOKEN}/account", data=data)).text()
    assert '<a href="#family_name">The family name does not match the invitation</a>' in html
    assert "kettle-orbit-tangerine" not in html

    fake.answer("POST", "/registrations", 202, {"registration_id": REGISTRATION, "email": "nia@demo.test"})
    resp = await portal.post(f"/invitations/{TOKEN}/account", data={**data, "family_name": "Newteacher"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/create-account/code"
    assert "Path=/create-account" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    assert fake.asked("POST", "/registrations")[-1] == {
        "token": TOKEN, "given_name": "Nia", "family_name": "Newteacher", "email": "nia@demo.test",
        "password": "kettle-orbit-tangerine"}

    fake.answer("POST", "/registrations/verify", *problem(400, "The code is not right", "Check the code.",
                                                          code="code_invalid"))
    html = await (await portal.post("/create-account/code", data={"csrf_token": token, "code": "1234 5678"})).text()
    assert "The code is not right" in html and "nia@demo.test" in html
    fake.answer("POST", "/registrations/verify", 204)
    resp = await portal.post("/create-account/code", data={"csrf_token": token, "code": "1234 5678"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/create-account/done"
    assert fake.asked("POST", "/registrations/verify")[-1] == {"registration_id": REGISTRATION, "code": "12345678"}
    assert "Your account is ready" in await (await portal.get("/create-account/done")).text()


async def test_the_code_page_without_a_registration_says_to_open_the_link_again(portal: TestClient) -> None:
    resp = await portal.get("/create-account/code")
    assert resp.status == 400 and "Open your invitation link again" in await resp.text()


# ---- forgotten password ---------------------------------------------------------------------------------


async def test_a_reset_password_ends_this_browsers_session_too(portal: TestClient, fake: FakeGateway) -> None:
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    fake.answer("POST", "/auth/password-reset", 202, {"attempt_id": ATTEMPT})
    token = await _csrf(portal, "/forgotten-password")
    resp = await portal.post("/forgotten-password", data={"csrf_token": token, "email": "dt@demo.test"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/forgotten-password/code"
    assert "Path=/forgotten-password" in resp.headers["Set-Cookie"]

    fake.answer("POST", "/auth/password-reset/complete", *problem(422, "Invalid", errors=[
        {"field": "new_password", "message": "Choose a less common password"}]))
    html = await (await portal.post("/forgotten-password/code", data={
        "csrf_token": token, "code": "1234 5678", "new_password": "password123"})).text()
    assert '<a href="#new_password">Choose a less common password</a>' in html
    assert 'value="1234 5678"' in html and "password123" not in html

    fake.answer("POST", "/auth/password-reset/complete", 204)
    resp = await portal.post("/forgotten-password/code", data={
        "csrf_token": token, "code": "1234 5678", "new_password": "kettle-orbit-tangerine"}, allow_redirects=False)
    assert resp.headers["Location"] == "/forgotten-password/done"
    assert 'epep_session=""' in ",".join(resp.headers.getall("Set-Cookie"))
    assert fake.asked("POST", "/auth/password-reset/complete")[-1] == {
        "attempt_id": ATTEMPT, "code": "12345678", "new_password": "kettle-orbit-tangerine"}


async def test_a_page_is_shown_without_the_warning_when_only_the_clock_is_missing(
        portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    fake.answer("GET", "/session", *problem(503, "Unavailable"))
    resp = await portal.get("/home")
    html = await resp.text()
    assert resp.status == 200 and "Signed in as Amira Admin" in html
    assert "data-idle-expires-at" not in html and "timeout-warning" not in html


async def test_saving_the_current_designated_teacher_again_records_nothing(portal: TestClient,
                                                                        fake: FakeGateway) -> None:
    _signed_in(portal, fake)
    dt = {"user_id": "0b8c4c5e-2a5b-4c4f-9d0e-7a3d2c1b0a99", "given_name": "Rory", "family_name": "Teacher",
          "email": "dt2@demo.test"}
    fake.answer("GET", f"/organisations/{RIVERSIDE}", 200, {
        **LA_ORG, "id": RIVERSIDE, "name": "Riverside Academy", "organisation_type": "setting", "la_id": LA,
        "designated_teacher": dt})
    fake.answer("GET", f"/organisations/{RIVERSIDE}/users", 200, [])
    fake.answer("GET", f"/organisations/{RIVERSIDE}/designated-teacher/history", 200, [])
    token = await _csrf(portal, f"/organisations/{RIVERSIDE}/designated-teacher")
    resp = await portal.post(f"/organisations/{RIVERSIDE}/designated-teacher",
                             data={"csrf_token": token, "user_id": dt["user_id"]}, allow_redirects=False)
    assert resp.headers["Location"] == f"/organisations/{RIVERSIDE}"
    assert not fake.asked("POST", f"/organisations/{RIVERSIDE}/designated-teacher")
