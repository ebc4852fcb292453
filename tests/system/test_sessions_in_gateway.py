"""Sessions resolved in the gateway (issue 19, item 1), with two gateway processes in front of the real identity.

Each gateway process holds the sessions it resolved for up to EPEP_SESSION_CACHE_SECONDS and drops them when
identity's events say so (services/gateway/sessions.py). Here: a held session costs identity no call; sign-out,
sign-out everywhere, deactivation, a membership removed and a password change are each refused on the next request
through EACH process within one second (polled against a deadline, not slept); the idle timeout is still enforced,
and a person active through one process is not signed out by the other; an entry is asked of identity again after
its life, which also bounds an event that never arrives."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.system.test_session_rules import minutes_of_one_second

PASSWORD = "demo-pass-2026"
CHILD_PEPS = f"/api/v1/children/{demo.CHILDREN[0]['id']}/peps"  # a read of pep's: identity is not asked for it
NORTHSHIRE_RULES = f"/api/v1/organisations/{demo.OTHER_LA_ID}/session-rules"
KENT_RULES = f"/api/v1/organisations/{demo.LA_ID}/session-rules"
WITHIN = 1.0  # seconds: the bound for a change to reach every gateway process


def call(base: str, method: str, path: str, cookie: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def metric(base: str, name: str, **labels: str) -> float:
    """The sum of one metric's samples with these labels, from a process's own /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def resolves(system: RunningSystem) -> float:
    """How many times identity has been asked to resolve a session cookie."""
    return metric(system.local.url("identity"), "epep_http_request_duration_seconds_count",
                  route="/sessions/resolve")


@pytest.fixture(scope="module")
def gateways(system: RunningSystem) -> Iterator[tuple[str, str]]:
    """Two more gateway processes, as an operator scales out, each consuming identity's events on its own queue."""
    names = ["gateway-held-a", "gateway-held-b"]
    bases = [f"http://127.0.0.1:{system.local.start_replica('gateway', name)}" for name in names]
    try:
        for base in bases:
            wait_until_consuming(base)
        yield bases[0], bases[1]
    finally:
        for name in names:
            system.local.stop(name)


def wait_until_consuming(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while metric(base, "epep_gateway_session_events_consuming") != 1:
        assert time.monotonic() < deadline, f"{base} never consumed identity's session events"
        time.sleep(0.1)


def new_person(system: RunningSystem, memberships: list[tuple[uuid.UUID, str]]) -> tuple[uuid.UUID, str]:
    """An account of the test's own (the demo password), so changing it touches no other test."""
    user_id = uuid.uuid4()
    email = f"held-{user_id.hex[:10]}@demo.test"
    system.admin_sql("INSERT INTO identity.users (id, email, email_normalised, given_name, family_name, "
                     "password_hash) SELECT $1, $2, $2, 'Hal', 'Held', password_hash FROM identity.users "
                     "WHERE email_normalised = 'caseworker@demo.test'", user_id, email)
    for organisation, role in memberships:
        system.admin_sql("INSERT INTO identity.memberships (user_id, organisation_id, role) VALUES ($1, $2, $3)",
                         user_id, organisation, role)
    return user_id, email


def held_by_both(system: RunningSystem, bases: tuple[str, str], cookie: str, path: str = CHILD_PEPS) -> None:
    """Each process has resolved the session once and now answers from what it holds: more requests, no more
    questions to identity."""
    for base in bases:
        assert call(base, "GET", path, cookie)[0] == 200
    asked = resolves(system)
    for base in bases:
        for _ in range(3):
            assert call(base, "GET", path, cookie)[0] == 200
    assert resolves(system) == asked


def refused_by_both(bases: tuple[str, str], cookie: str, since: float, path: str = CHILD_PEPS,
                    status: int = 401) -> None:
    """The next requests through each process are refused within WITHIN seconds of `since` (the change's answer)."""
    for base in bases:
        while (got := call(base, "GET", path, cookie))[0] != status:
            assert got[0] == 200, got
            assert time.monotonic() - since < WITHIN, f"{base} still answered {got[0]} after {WITHIN} s"
            time.sleep(0.01)
    assert time.monotonic() - since < WITHIN + 0.5  # the refusals themselves: one request each


def test_a_held_session_costs_identity_nothing(system: RunningSystem, gateways: tuple[str, str]) -> None:
    cookie = system.sign_in("caseworker@demo.test")
    asked = resolves(system)
    held_before = sum(metric(base, "epep_gateway_sessions_total", outcome="held") for base in gateways)
    for base in gateways:
        for _ in range(20):
            assert call(base, "GET", CHILD_PEPS, cookie)[0] == 200
    assert resolves(system) - asked == 2  # once per process
    held = sum(metric(base, "epep_gateway_sessions_total", outcome="held") for base in gateways) - held_before
    assert held == 38


def test_sign_out_is_refused_through_each_process_within_a_second(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    cookie = system.sign_in("caseworker@demo.test")
    held_by_both(system, gateways, cookie)
    assert call(gateways[0], "POST", "/api/v1/auth/sign-out", cookie)[0] == 204
    refused_by_both(gateways, cookie, time.monotonic())


def test_sign_out_everywhere_is_refused_through_each_process_within_a_second(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    _, email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
    here, there = system.sign_in(email), system.sign_in(email)
    for cookie in (here, there):
        held_by_both(system, gateways, cookie)
    assert call(gateways[1], "POST", "/api/v1/auth/sign-out-everywhere", here)[0] == 204
    since = time.monotonic()
    for cookie in (here, there):
        refused_by_both(gateways, cookie, since)


def test_deactivation_is_refused_through_each_process_within_a_second(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    user_id, email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
    cookie, admin = system.sign_in(email), system.sign_in("admin@demo.test")
    held_by_both(system, gateways, cookie)
    assert call(gateways[0], "POST", f"/api/v1/users/{user_id}/deactivate", admin)[0] == 204
    refused_by_both(gateways, cookie, time.monotonic())


def test_a_membership_removed_is_refused_through_each_process_within_a_second(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    """Someone working for two LAs, deactivated by one: still signed in, but that LA's records are closed to them
    (another LA's answer 404) on the next request through either process."""
    user_id, email = new_person(system, [(demo.LA_ID, "vs_caseworker"), (demo.OTHER_LA_ID, "vs_caseworker")])
    cookie, northshire_admin = system.sign_in(email), system.sign_in("admin@northshire.test")
    held_by_both(system, gateways, cookie, NORTHSHIRE_RULES)
    assert call(gateways[1], "POST", f"/api/v1/users/{user_id}/deactivate", northshire_admin)[0] == 204
    refused_by_both(gateways, cookie, time.monotonic(), NORTHSHIRE_RULES, status=404)
    for base in gateways:
        assert call(base, "GET", KENT_RULES, cookie)[0] == 200


def test_a_password_change_ends_the_other_sessions_through_each_process_within_a_second(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    _, email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
    changing, other = system.sign_in(email), system.sign_in(email)
    for cookie in (changing, other):
        held_by_both(system, gateways, cookie)
    status, body = call(gateways[0], "POST", "/api/v1/me/password", changing,
                        {"current_password": PASSWORD, "new_password": "tulip-harbour-quartz-91"})
    assert status == 204, body
    refused_by_both(gateways, other, time.monotonic())
    for base in gateways:  # the session that changed it carries on
        assert call(base, "GET", CHILD_PEPS, changing)[0] == 200


def test_the_idle_timeout_is_still_enforced_and_activity_through_one_process_counts_in_the_other(
        system: RunningSystem, gateways: tuple[str, str]) -> None:
    """The LA's rule at 5 "minutes" of one second each: someone idle for 5 s is refused by both processes; someone
    working through one process only is still signed in when they next reach the other."""
    a, b = gateways
    with minutes_of_one_second(system):
        admin = system.sign_in("admin@demo.test")
        assert call(a, "PUT", KENT_RULES, admin, {"idle_minutes": 5, "warning_minutes": 1})[0] == 200
        _, idle_email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
        _, busy_email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
        idle, busy = system.sign_in(idle_email), system.sign_in(busy_email)
        for cookie in (idle, busy):
            for base in gateways:
                assert call(base, "GET", CHILD_PEPS, cookie)[0] == 200
        started = time.monotonic()
        while time.monotonic() - started < 7:  # past the 5 s, working through `a` alone
            assert call(a, "GET", CHILD_PEPS, busy)[0] == 200
            time.sleep(0.5)
        assert call(b, "GET", CHILD_PEPS, busy)[0] == 200  # `a`'s requests reached identity's idle clock
        for base in gateways:
            status, body = call(base, "GET", CHILD_PEPS, idle)
            assert status == 401 and body["code"] == "session_ended", body


def test_an_entry_is_asked_again_after_its_life_which_bounds_a_lost_event(system: RunningSystem) -> None:
    """A process holding sessions for 2 s: after that identity is asked again, so a session ended with no event
    at all (straight in the database) is refused within that life."""
    port = system.local.start_replica("gateway", "gateway-held-short", env={"EPEP_SESSION_CACHE_SECONDS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_consuming(base)
        user_id, email = new_person(system, [(demo.LA_ID, "vs_caseworker")])
        cookie = system.sign_in(email)
        asked = resolves(system)
        assert call(base, "GET", CHILD_PEPS, cookie)[0] == 200
        time.sleep(2.2)  # past the entry's life
        assert call(base, "GET", CHILD_PEPS, cookie)[0] == 200
        assert resolves(system) - asked == 2

        system.admin_sql("UPDATE identity.sessions SET revoked_at = now() WHERE user_id = $1", user_id)
        since = time.monotonic()
        while (status := call(base, "GET", CHILD_PEPS, cookie)[0]) != 401:
            assert status == 200 and time.monotonic() - since < 2 + WITHIN, status
            time.sleep(0.05)
    finally:
        system.local.stop("gateway-held-short")
