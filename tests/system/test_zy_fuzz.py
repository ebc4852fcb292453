"""A bounded fuzz run: schemathesis generates requests for every operation in the gateway's OpenAPI document,
valid and invalid, sent as a Virtual School admin and as a Designated Teacher. None may answer with a server
error (5xx). Operations that end the session or create records in bulk are left out (the run must keep its
session, and the children it would invent are of no use); everything else is tried.

Named to run near the end of the system tests: what it creates cannot disturb the others."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import RunningSystem

LEFT_OUT = ("/api/v1/auth/", "/api/v1/session", "/api/v1/me/sessions", "/api/v1/registrations",
            "/api/v1/invitations/accept", "/api/v1/me/email", "/api/v1/me/password")
BULK = {("POST", "/api/v1/children"), ("POST", "/api/v1/children/import"),
        ("POST", "/api/v1/children/attendance/import"), ("POST", "/api/v1/organisations/{la_id}/settings")}
EXAMPLES = 6  # per operation: bounded, so the run takes about a minute


def gateway_schema(system: RunningSystem) -> Any:
    status, document, _ = system.api("GET", "/api/v1/openapi.json")
    assert status == 200
    document["paths"] = {path: item for path, item in document["paths"].items() if not path.startswith(LEFT_OUT)}
    for path, item in document["paths"].items():
        for method in list(item):
            if (method.upper(), path) in BULK:
                del item[method]
    return schemathesis.openapi.from_dict(document)


def test_no_request_makes_a_server_error(system: RunningSystem) -> None:
    cookies = [dict([system.sign_in(email).split("=", 1)]) for email in ("admin@demo.test", "dt@demo.test")]
    errors: list[str] = []
    calls = operations = 0
    for result in gateway_schema(system).get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls
            for jar in cookies:
                response = case.call(base_url=system.gateway_url, cookies=jar, timeout=30)
                calls += 1
                if response.status_code >= 500:
                    errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                  f"{response.text[:200]}")

        run()
    assert operations >= 60 and calls >= operations * EXAMPLES, (operations, calls)
    assert errors == [], "\n".join(sorted(set(errors))[:30])
