"""Emailed codes and invitation tokens travel sealed (shared/sealed.py): the producer's outbox row, the message on
the broker and any dead letter of it hold ciphertext that only notify opens, and the email still carries the secret
(issue 23, finding 9)."""

from __future__ import annotations

import time

from tests.conftest import RunningSystem
from tests.system.test_children import LA
from tests.system.test_identity_access import invitation_token


def outbox(system: RunningSystem, service: str, key: str, value: str) -> str:
    rows = system.admin_sql(f"SELECT envelope::text FROM {service}.outbox WHERE envelope->'data'->>'{key}' = $1",
                            value)
    assert len(rows) >= 1, (service, key, value)
    return "\n".join(r[0] for r in rows)


def test_the_sign_in_code_is_sealed_in_the_outbox_and_still_emailed(system: RunningSystem) -> None:
    email = "caseworker@demo.test"
    since = time.time()
    status, body, _ = system.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": "demo-pass-2026"})
    assert status == 202, body
    code = system.mailbox.wait_for_code(email, since)  # the email still arrives, with the code
    row = outbox(system, "identity", "attempt_id", body["attempt_id"])
    assert code not in row and code.replace(" ", "") not in row, row
    assert '"code": "sealed:v1:' in row
    # And the code from the email signs in.
    status, verified, _ = system.api("POST", "/api/v1/auth/sign-in/verify",
                                     {"attempt_id": body["attempt_id"], "code": code})
    assert status == 200, verified


def test_the_invitation_token_is_sealed_in_the_outbox_and_still_emailed(system: RunningSystem) -> None:
    admin = system.sign_in("admin@demo.test")
    email = f"sealed-{time.time_ns()}@demo.test"
    since = time.time()
    status, body, _ = system.api("POST", f"/api/v1/organisations/{LA}/invitations", {
        "given_name": "Sid", "family_name": "Sealed", "email": email, "role": "vs_caseworker"}, cookie=admin)
    assert status == 201, body
    token = invitation_token(system, email, since)
    row = outbox(system, "identity", "email", email)
    assert token not in row and '"token": "sealed:v1:' in row, row
