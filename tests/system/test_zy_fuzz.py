"""A bounded fuzz run: schemathesis generates requests for every operation in the gateway's OpenAPI document,
valid and invalid, sent as a Virtual School admin and as a Designated Teacher, and each also as one of the
other demo roles in turn (caseworker, approver, social worker, IRO, setting staff, carer), so every role is
tried on every operation. None may answer with a server error (5xx), and every answer must match the schema
the document declares for its status. Operations that end the session or create records in bulk are left out
(the run must keep its sessions, and the children it would invent are of no use); everything else is tried.

Named to run near the end of the system tests: what it creates cannot disturb the others."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import response_schema_conformance

from tests.conftest import RunningSystem

LEFT_OUT = ("/api/v1/auth/", "/api/v1/session", "/api/v1/me/sessions", "/api/v1/registrations",
            "/api/v1/invitations/accept", "/api/v1/me/email", "/api/v1/me/password")
BULK = {("POST", "/api/v1/children"), ("POST", "/api/v1/children/import"),
        ("POST", "/api/v1/children/attendance/import"), ("POST", "/api/v1/organisations/{la_id}/settings")}
EXAMPLES = 6  # per operation: bounded, so the run takes a minute or two
ALWAYS = ("admin@demo.test", "dt@demo.test")
IN_TURN = ("caseworker@demo.test", "approver@demo.test", "sw@demo.test", "iro@demo.test", "staff@demo.test",
           "carer@demo.test")


def gateway_schema(system: RunningSystem) -> Any:
    status, document, _ = system.api("GET", "/api/v1/openapi.json")
    assert status == 200
    document["paths"] = {path: item for path, item in document["paths"].items() if not path.startswith(LEFT_OUT)}
    for path, item in document["paths"].items():
        for method in list(item):
            if (method.upper(), path) in BULK:
                del item[method]
    return schemathesis.openapi.from_dict(document)


def test_no_request_makes_a_server_error_or_breaks_the_schema_for_any_role(system: RunningSystem) -> None:
    jars = {email: dict([system.sign_in(email).split("=", 1)]) for email in (*ALWAYS, *IN_TURN)}
    errors: list[str] = []
    calls: Counter[str] = Counter()
    operations = cases = 0
    for result in gateway_schema(system).get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            for email in (*ALWAYS, IN_TURN[cases % len(IN_TURN)]):
                response = case.call(base_url=system.gateway_url, cookies=jars[email], timeout=30)
                calls[email] += 1
                if response.status_code >= 500:
                    errors.append(f"{email}: {case.method} {case.formatted_path} -> {response.status_code}: "
                                  f"{response.text[:200]}")
                    continue
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis's failures
                    errors.append(f"{email}: {case.method} {case.formatted_path} -> {response.status_code} "
                                  f"breaks the schema: {str(exc)[:300]}")

        run()
    print(f"fuzz: {operations} operations, {sum(calls.values())} calls:",
          ", ".join(f"{email.split('@')[0]} {n}" for email, n in sorted(calls.items())))
    assert errors == [], "\n".join(sorted(set(errors))[:30])
    # Hypothesis stops early where an operation has few distinct inputs: on average half the examples at least.
    assert operations >= 60 and calls["admin@demo.test"] >= operations * EXAMPLES // 2, (operations, calls)
    assert all(calls[email] >= operations // 2 for email in IN_TURN), calls  # every role, across the operations
