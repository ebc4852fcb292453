"""Each LA's own session rules through the gateway: only the LA's VS admin changes them (its other Virtual School
roles 403, anyone else 404), with the bounds named; then a member of that LA (at one of its schools) is signed out
after the LA's idle timeout, enforced by identity on every request, while another LA's member signs on.

The LA's minutes are the rule; to run in seconds, identity is restarted with a minute of one second
(EPEP_SESSION_RULE_UNIT_SECONDS, refused in production): the LA's 5-minute minimum runs out in 5 seconds."""

from __future__ import annotations

import contextlib
import re
import time
import urllib.request
from collections.abc import Iterator

from shared import demo
from tests.conftest import RunningSystem

KENT = str(demo.LA_ID)  # the demo LA, standing in for Kent
RULES = f"/api/v1/organisations/{KENT}/session-rules"


@contextlib.contextmanager
def minutes_of_one_second(system: RunningSystem) -> Iterator[None]:
    """identity on a minute of one second, then back on real minutes, with the LA's rule gone again (sessions live
    in identity's database: everyone stays signed in across the restarts)."""
    local = system.local
    before = dict(local.service_env.get("identity", {}))
    local.service_env["identity"] = {**before, "EPEP_SESSION_RULE_UNIT_SECONDS": "1"}
    local.stop("identity")
    local.start("identity")
    local.wait_ready(["identity"])
    try:
        yield
    finally:
        system.admin_sql("DELETE FROM identity.session_rule_versions WHERE la_id = $1", demo.LA_ID)
        system.admin_sql("DELETE FROM identity.session_rules WHERE la_id = $1", demo.LA_ID)
        local.service_env["identity"] = before
        local.stop("identity")
        local.start("identity")
        local.wait_ready(["identity"])


def _portal_page(system: RunningSystem, cookie: str, path: str) -> str:
    request = urllib.request.Request(system.portal_url + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def test_only_the_las_vs_admin_sets_its_session_rules_within_the_bounds(system: RunningSystem) -> None:
    admin, caseworker = system.sign_in("admin@demo.test"), system.sign_in("caseworker@demo.test")
    other_admin, dt = system.sign_in("admin@northshire.test"), system.sign_in("dt@demo.test")

    status, body, _ = system.api("GET", RULES, cookie=admin)
    assert status == 200 and body["set_by_la"] is False
    assert (body["idle_minutes"], body["warning_minutes"]) == (20, 2)  # the service's default until the LA sets its own
    assert system.api("GET", RULES, cookie=caseworker)[0] == 200
    assert system.api("PUT", RULES, {"idle_minutes": 30, "warning_minutes": 5}, cookie=caseworker)[0] == 403
    # Another LA's VS admin, or a school's DT, cannot even see them.
    assert system.api("GET", RULES, cookie=other_admin)[0] == 404
    assert system.api("PUT", RULES, {"idle_minutes": 30, "warning_minutes": 5}, cookie=other_admin)[0] == 404
    assert system.api("GET", RULES, cookie=dt)[0] == 404
    assert system.api("GET", f"/api/v1/organisations/{demo.OAKFIELD}/session-rules", cookie=admin)[0] == 404

    for idle, warning, field, words in (
            (4, 1, "idle_minutes", "The time before signing out must be between 5 and 120 minutes"),
            (121, 10, "idle_minutes", "The time before signing out must be between 5 and 120 minutes"),
            (20, 0, "warning_minutes", "The warning must be at least 1 minute before signing out"),
            (20, 20, "warning_minutes", "make it shorter than 20 minutes")):
        status, body, _ = system.api("PUT", RULES, {"idle_minutes": idle, "warning_minutes": warning}, cookie=admin)
        assert status == 422, body
        assert any(e["field"] == field and words in e["message"] for e in body["errors"]), body
    assert system.api("GET", RULES, cookie=admin)[1]["set_by_la"] is False  # nothing was saved


def test_a_member_of_the_la_is_signed_out_after_its_idle_timeout_and_another_las_is_not(
        system: RunningSystem) -> None:
    with minutes_of_one_second(system):
        admin = system.sign_in("admin@demo.test")
        status, body, _ = system.api("PUT", RULES, {"idle_minutes": 5, "warning_minutes": 1}, cookie=admin)
        assert status == 200, body
        assert body["set_by_la"] and body["version"] == 1 and body["changed_by_name"] == "Amira Admin"
        # Kept, with who set it, in every version.
        versions = system.admin_sql("SELECT version, idle_minutes, warning_minutes, changed_by "
                                    "FROM identity.session_rule_versions WHERE la_id = $1", demo.LA_ID)
        assert [tuple(v) for v in versions] == [(1, 5, 1, demo.account_id("admin"))]

        kent_dt = system.sign_in("dt@demo.test")  # at Oakfield, one of the LA's schools
        kent_sw = system.sign_in("sw@demo.test")
        northshire_dt = system.sign_in("dt@hillside.test")
        status, clock, _ = system.api("GET", "/api/v1/session", cookie=kent_dt)
        assert status == 200 and (clock["idle_timeout_seconds"], clock["warn_seconds_before"]) == (5, 1)
        status, clock, _ = system.api("GET", "/api/v1/session", cookie=northshire_dt)
        assert (clock["idle_timeout_seconds"], clock["warn_seconds_before"]) == (20 * 60, 2 * 60)
        # The portal's pages carry the person's own clock for the timeout warning.
        page = _portal_page(system, kent_dt, "/home")
        assert re.search(r'data-warn-seconds="1"', page) and re.search(r'data-idle-seconds="5"', page), page[:2000]

        # Someone who keeps working stays signed in past the 5 seconds; someone idle for them does not.
        started = time.monotonic()
        while time.monotonic() - started < 7:
            assert system.api("GET", "/api/v1/me", cookie=kent_sw)[0] == 200
            time.sleep(1.5)
        status, body, _ = system.api("GET", "/api/v1/me", cookie=kent_dt)
        assert status == 401 and body["code"] == "session_ended", body
        assert system.api("GET", "/api/v1/me", cookie=northshire_dt)[0] == 200
        assert system.api("GET", "/api/v1/me", cookie=kent_dt)[0] == 401  # asking again does not revive it
