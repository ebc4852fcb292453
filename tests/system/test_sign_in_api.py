"""Signing in through the gateway API, as the portal and any API client do."""

from __future__ import annotations

import time

from tests.conftest import RunningSystem

DT, PASSWORD = "dt@demo.test", "demo-pass-2026"


def start(system: RunningSystem, email: str = DT, password: str = PASSWORD, address: str | None = None) -> str:
    headers = {"X-Forwarded-For": address} if address else None
    status, body, _ = system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": password},
                                 headers=headers)
    assert status == 202, body
    return str(body["attempt_id"])


def verify(system: RunningSystem, attempt_id: str, code: str, address: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": address} if address else None
    return system.api("POST", "/api/v1/auth/sign-in/verify", {"attempt_id": attempt_id, "code": code},
                      headers=headers)


def sign_in(system: RunningSystem, email: str = DT, password: str = PASSWORD) -> str:
    return system.sign_in(email, password)


def test_every_service_is_ready(system: RunningSystem) -> None:
    for service in ("identity", "pep", "delegation", "notify", "qa", "gateway", "portal"):
        assert system.local.ready(service), system.local.readiness(service)


def test_a_designated_teacher_signs_in_with_the_emailed_code(system: RunningSystem, now: float) -> None:
    attempt = start(system)
    code = system.mailbox.wait_for_code(DT, now)
    assert len(code) == 9 and code[4] == " "
    status, body, headers = verify(system, attempt, code)
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    status, me, _ = system.api("GET", "/api/v1/me", cookie=cookie.split(";")[0])
    assert status == 200
    assert (me["email"], me["given_name"], me["family_name"]) == (DT, "Dana", "Teacher")
    assert me["memberships"] == [{"organisation_id": me["memberships"][0]["organisation_id"],
                                  "organisation_name": "Oakfield Primary School", "organisation_type": "setting",
                                  "role": "designated_teacher"}]


def test_the_code_is_accepted_without_its_space(system: RunningSystem, now: float) -> None:
    attempt = start(system)
    code = system.mailbox.wait_for_code(DT, now)
    status, _, _ = verify(system, attempt, code.replace(" ", ""))
    assert status == 200


def test_an_unknown_email_gets_the_same_answer_and_no_email(system: RunningSystem, now: float) -> None:
    known = system.api("POST", "/api/v1/auth/sign-in", {"email": DT, "password": "wrong-password"})
    unknown = system.api("POST", "/api/v1/auth/sign-in", {"email": "nobody@demo.test", "password": "whatever"})
    assert known[0] == unknown[0] == 202
    assert set(known[1]) == set(unknown[1]) == {"attempt_id"}
    time.sleep(1)
    assert system.mailbox.messages("nobody@demo.test", now) == []
    # ...and that attempt can never be verified, whatever code is tried.
    assert verify(system, unknown[1]["attempt_id"], "1234 5678")[1]["code"] == "code_invalid"


def test_a_used_code_is_refused(system: RunningSystem, now: float) -> None:
    attempt = start(system)
    code = system.mailbox.wait_for_code(DT, now)
    assert verify(system, attempt, code)[0] == 200
    status, body, _ = verify(system, attempt, code)
    assert (status, body["code"]) == (400, "code_invalid")


def test_a_code_sent_with_another_attempts_id_is_refused(system: RunningSystem, now: float) -> None:
    first = start(system)
    code = system.mailbox.wait_for_code(DT, now)
    second = start(system)
    system.mailbox.wait_for_code(DT, now, count=2)
    status, body, _ = verify(system, second, code)
    assert (status, body["code"]) == (400, "code_invalid")
    assert verify(system, first, code)[0] == 200  # still good for its own attempt


def verify_patiently(system: RunningSystem, attempt_id: str, code: str):  # type: ignore[no-untyped-def]
    """Verify, waiting out a progressive delay the way a person would."""
    while True:
        status, body, headers = verify(system, attempt_id, code, "203.0.113.6")
        if status != 429:
            return status, body
        time.sleep(int(headers["Retry-After"]) + 0.1)


def test_the_sixth_wrong_code_is_refused_even_when_right(system: RunningSystem, now: float) -> None:
    email = "staff@demo.test"
    attempt = start(system, email, address="203.0.113.6")
    code = system.mailbox.wait_for_code(email, now)
    wrong = "0000 0000" if code != "0000 0000" else "1111 1111"
    for _ in range(5):
        assert verify_patiently(system, attempt, wrong)[1]["code"] == "code_invalid"
    status, body = verify_patiently(system, attempt, code)
    assert (status, body["code"]) == (400, "code_locked")
    # A new code gives new tries; the old code stays dead.
    since = time.time()
    assert system.api("POST", "/api/v1/auth/sign-in/resend", {"attempt_id": attempt})[0] == 202
    new_code = system.mailbox.wait_for_code(email, since)
    if new_code != code:
        assert verify_patiently(system, attempt, code)[1]["code"] == "code_invalid"
    assert verify_patiently(system, attempt, new_code)[0] == 200


def test_an_expired_code_is_refused(system: RunningSystem, now: float) -> None:
    attempt = start(system)
    code = system.mailbox.wait_for_code(DT, now)
    # The clock is the subject: move the code's expiry into the past rather than wait 10 minutes.
    system.admin_sql("UPDATE identity.sign_in_attempts SET code_expires_at = now() - interval '1 second' "
                     "WHERE id = $1::uuid", attempt)
    status, body, _ = verify(system, attempt, code)
    assert (status, body["code"]) == (400, "code_expired")


def test_a_new_code_voids_the_old_one(system: RunningSystem, now: float) -> None:
    attempt = start(system)
    old = system.mailbox.wait_for_code(DT, now)
    assert system.api("POST", "/api/v1/auth/sign-in/resend", {"attempt_id": attempt})[0] == 202
    new = system.mailbox.wait_for_code(DT, now, count=2)
    if old != new:
        assert verify(system, attempt, old)[1]["code"] == "code_invalid"
    assert verify(system, attempt, new)[0] == 200


def test_repeated_failures_are_slowed_down_not_locked(system: RunningSystem) -> None:
    email = "admin@demo.test"
    address = "198.51.100.7"
    for _ in range(5):
        assert start(system, email, "wrong-password", address)
    status, body, headers = system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": PASSWORD},
                                       headers={"X-Forwarded-For": address})
    assert status == 429 and body["code"] == "throttled"
    assert "Try again in" in body["detail"] and int(headers["Retry-After"]) >= 1
    time.sleep(int(headers["Retry-After"]) + 0.2)
    assert system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": PASSWORD},
                      headers={"X-Forwarded-For": address})[0] == 202


def test_sign_out_ends_the_session(system: RunningSystem) -> None:
    cookie = sign_in(system)
    assert system.api("POST", "/api/v1/auth/sign-out", cookie=cookie)[0] == 204
    status, body, _ = system.api("GET", "/api/v1/me", cookie=cookie)
    assert status == 401 and body["status"] == 401


def test_sign_out_everywhere_ends_every_session(system: RunningSystem) -> None:
    first, second = sign_in(system, "sw@demo.test"), sign_in(system, "sw@demo.test")
    assert system.api("POST", "/api/v1/auth/sign-out-everywhere", cookie=first)[0] == 204
    assert system.api("GET", "/api/v1/me", cookie=second)[0] == 401


def test_an_idle_session_ends(system: RunningSystem) -> None:
    cookie = sign_in(system, "iro@demo.test")
    system.admin_sql("UPDATE identity.sessions SET last_seen_at = now() - interval '21 minutes' "
                     "WHERE user_id = (SELECT id FROM identity.users WHERE email = 'iro@demo.test')")
    assert system.api("GET", "/api/v1/me", cookie=cookie)[1]["code"] == "session_ended"


def test_a_password_hashed_with_the_old_parameters_still_signs_in_and_is_rehashed(system: RunningSystem) -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(PASSWORD)  # the old default
    where = "email_normalised = 'approver@demo.test'"
    system.admin_sql(f"UPDATE identity.users SET password_hash = $1 WHERE {where}", old)
    assert sign_in(system, "approver@demo.test")
    stored = system.admin_sql(f"SELECT password_hash FROM identity.users WHERE {where}")[0]["password_hash"]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert sign_in(system, "approver@demo.test")  # and the new hash verifies


def test_bad_input_names_the_field(system: RunningSystem) -> None:
    status, body, headers = system.api("POST", "/api/v1/auth/sign-in", {"email": "dt@demo.test"})
    assert status == 422 and headers["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in body["errors"]] == ["password"]
    status, body, _ = system.api("POST", "/api/v1/auth/sign-in/verify", {"attempt_id": "nope", "code": "1"})
    assert status == 422 and "attempt_id" in [e["field"] for e in body["errors"]]


def test_the_openapi_document_describes_the_api(system: RunningSystem) -> None:
    status, doc, _ = system.api("GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert {"/api/v1/auth/sign-in", "/api/v1/auth/sign-in/verify", "/api/v1/me",
            "/api/v1/auth/sign-out"} <= set(doc["paths"])
    assert doc["components"]["schemas"]["Me"]["properties"]["memberships"]


def test_services_refuse_calls_without_the_gateways_token(system: RunningSystem) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(system.local.url("identity") + "/users/me")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("identity answered without a token")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
