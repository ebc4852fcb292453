"""An LA's timescales through the gateway: the defaults, a change saved as a new version with its history, the
deadlines it gives (dates worked out by hand below), validation, and nobody else's LA."""

from __future__ import annotations

from typing import Any

import pytest

from shared import demo
from tests.conftest import RunningSystem

LA = f"/api/v1/organisations/{demo.LA_ID}/timescales"
OTHER_LA = f"/api/v1/organisations/{demo.OTHER_LA_ID}/timescales"
RULES = ("initial_pep", "initial_pep_emergency", "delegate", "dt_return", "vs_review", "approver", "finalise")
TERMS = [
    {"term": "Summer 2027", "start": "2027-04-12", "end": "2027-05-28"},  # half-term 31 May - 4 June
    {"term": "Summer 2027", "start": "2027-06-07", "end": "2027-07-21"},
    {"term": "Autumn 2027", "start": "2027-09-02", "end": "2027-10-22"},
    {"term": "Autumn 2027", "start": "2027-11-01", "end": "2027-12-17"},
]


@pytest.fixture(scope="module")
def admin(system: RunningSystem) -> str:
    return system.sign_in("admin@demo.test")


@pytest.fixture(scope="module")
def caseworker(system: RunningSystem) -> str:
    return system.sign_in("caseworker@demo.test")


@pytest.fixture(scope="module")
def northshire(system: RunningSystem) -> str:
    return system.sign_in("admin@northshire.test")


def rules_of(current: dict[str, Any], **changed: dict[str, Any]) -> dict[str, Any]:
    rules = {name: {"amount": current["rules"][name]["amount"], "unit": current["rules"][name]["unit"]}
             for name in RULES}
    return {**rules, **changed}


def a_change(current: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The configuration as it is, with some fields changed: what a client sends back."""
    body = {"based_on_version": current["version"], "rules": rules_of(current),
            "term_periods": current["term_periods"], "inset_days": current["inset_days"],
            "termly_deadlines": current["termly_deadlines"]}
    return {**body, **fields}


def test_an_admin_changes_the_timescales_and_the_deadlines_follow(system: RunningSystem, admin: str) -> None:
    status, before, _ = system.api("GET", LA, cookie=admin)
    assert status == 200, before
    assert before["rules"]["delegate"]["amount"] > 0 and before["rules"]["delegate"]["label"]

    change = a_change(before, rules=rules_of(before, delegate={"amount": 7, "unit": "school_days"}),
                      term_periods=TERMS, termly_deadlines=[{"term": "Summer 2027", "due": "2027-07-09"}],
                      note="Schools asked for longer")
    status, saved, _ = system.api("PUT", LA, change, cookie=admin)
    assert status == 200, saved
    version = before["version"] + 1
    assert saved["version"] == version and saved["term_dates_version"] == version
    assert saved["rules"]["delegate"] == {"amount": 7, "unit": "school_days", "version": version,
                                          "label": "Delegate sections to the Designated Teacher",
                                          "counts": "before the meeting"}
    assert saved["rules"]["dt_return"]["version"] == before["rules"]["dt_return"]["version"]  # unchanged
    assert saved["changed_at"]
    assert system.api("GET", LA, cookie=admin)[1] == saved

    status, history, _ = system.api("GET", f"{LA}/history", cookie=admin)
    assert status == 200
    latest = history[0]
    assert latest["version"] == version and latest["note"] == "Schools asked for longer"
    assert latest["changed_by_id"] == str(demo.account_id("admin"))
    assert {"field": "rules.delegate", "before": "{amount} {unit}".format(**before["rules"]["delegate"]).replace(
        "_", " "), "after": "7 school days"} in latest["changes"]
    assert "term_periods" in {c["field"] for c in latest["changes"]}

    status, preview, _ = system.api("POST", f"{LA}/preview", {"meeting_date": "2027-06-09"}, cookie=admin)
    assert status == 200, preview
    assert preview["version"] == version
    due = {d["key"]: d for d in preview["deadlines"]}
    # 7 school days before Wed 9 June 2027: Tue 8 (1), Mon 7 (2), [half-term 31 May - 4 June and the spring bank
    # holiday] Fri 28 May (3), Thu 27 (4), Wed 26 (5), Tue 25 (6), Mon 24 May 2027 (7).
    assert due["delegate"]["due"] == "2027-05-24"
    assert due["delegate"]["explanation"] == (f"7 school days before the meeting on 9 June 2027 (LA rule 'delegate', "
                                              f"version {version})")
    assert due["termly_deadline"]["due"] == "2027-07-09"
    # The meeting is in week 8 of Summer 2027 (weeks of 12, 19, 26 Apr, 3, 10, 17, 24 May, [half-term] 7 Jun).
    # Autumn 2027 starts Thu 2 Sep: weeks of 30 Aug (1), 6 (2), 13 (3), 20 (4), 27 Sep (5), 4 (6), 11 (7),
    # 18 Oct (8): Wed 20 Oct 2027.
    assert due["next_pep"]["due"] == "2027-10-20"

    # 20 working days after Mon 14 Dec 2026, across Christmas and New Year: Thu 14 Jan 2027 (worked out in
    # tests/delegation/test_timescales.py); an emergency placement on Wed 23 Dec 2026: 10 working days, Mon 11 Jan.
    status, preview, _ = system.api("POST", f"{LA}/preview", {"date_entered_care": "2026-12-14"}, cookie=admin)
    assert [(d["key"], d["due"]) for d in preview["deadlines"]] == [("initial_pep", "2027-01-14")]
    status, preview, _ = system.api("POST", f"{LA}/preview", {"date_entered_care": "2026-12-23",
                                                             "placement": "emergency"}, cookie=admin)
    assert [(d["key"], d["due"], d["rule"]) for d in preview["deadlines"]] == [
        ("initial_pep", "2027-01-11", "initial_pep_emergency")]


def test_a_save_from_an_older_version_is_refused(system: RunningSystem, admin: str) -> None:
    current = system.api("GET", LA, cookie=admin)[1]
    status, saved, _ = system.api("PUT", LA, a_change(current, inset_days=["2027-06-07"]), cookie=admin)
    assert status == 200 and saved["version"] == current["version"] + 1
    status, body, _ = system.api("PUT", LA, a_change(current, inset_days=["2027-06-08"]), cookie=admin)
    assert status == 409 and body["current_version"] == saved["version"]
    # Saving what is already there makes no new version.
    status, again, _ = system.api("PUT", LA, a_change(saved), cookie=admin)
    assert status == 200 and again["version"] == saved["version"]


@pytest.mark.parametrize("change,field", [
    ({"term_periods": [TERMS[1], TERMS[0]]}, "term_periods"),
    ({"term_periods": [TERMS[0], {**TERMS[1], "start": "2027-05-20"}]}, "term_periods"),
    ({"term_periods": [{**TERMS[0], "end": "2027-04-01"}]}, "term_periods.0"),
    ({"termly_deadlines": [{"term": "Spring 2031", "due": "2031-03-01"}]}, "termly_deadlines"),
    ({"inset_days": ["2270-01-01"]}, "inset_days.0"),
    ({"based_on_version": -1}, "based_on_version"),
])
def test_bad_timescales_name_the_field(system: RunningSystem, admin: str, change: dict[str, Any], field: str) -> None:
    current = system.api("GET", LA, cookie=admin)[1]
    status, body, _ = system.api("PUT", LA, {**a_change(current, term_periods=TERMS), **change}, cookie=admin)
    assert status == 422, body
    assert field in [e["field"] for e in body["errors"]]


def test_a_rule_needs_a_positive_number_and_a_known_unit(system: RunningSystem, admin: str) -> None:
    current = system.api("GET", LA, cookie=admin)[1]
    bad = a_change(current, rules=rules_of(current, dt_return={"amount": 0, "unit": "fortnights"}))
    status, body, _ = system.api("PUT", LA, bad, cookie=admin)
    assert status == 422
    assert {"rules.dt_return.amount", "rules.dt_return.unit"} <= {e["field"] for e in body["errors"]}
    status, body, _ = system.api("POST", f"{LA}/preview", {}, cookie=admin)
    assert status == 422 and body["errors"][0]["field"] == "meeting_date"


def test_the_virtual_school_reads_them_but_only_the_admin_changes_them(system: RunningSystem,
                                                                      caseworker: str) -> None:
    status, current, _ = system.api("GET", LA, cookie=caseworker)
    assert status == 200
    assert system.api("GET", f"{LA}/history", cookie=caseworker)[0] == 200
    assert system.api("POST", f"{LA}/preview", {"meeting_date": "2027-06-09"}, cookie=caseworker)[0] == 200
    assert system.api("PUT", LA, a_change(current), cookie=caseworker)[0] == 403
    dt = system.sign_in("dt@demo.test")
    assert system.api("GET", LA, cookie=dt)[0] == 404


def test_another_las_admin_can_neither_read_nor_change_them(system: RunningSystem, admin: str,
                                                           northshire: str) -> None:
    current = system.api("GET", LA, cookie=admin)[1]
    for method, path, body in (("GET", LA, None), ("GET", f"{LA}/history", None),
                               ("POST", f"{LA}/preview", {"meeting_date": "2027-06-09"}),
                               ("PUT", LA, a_change(current, inset_days=["2027-06-10"]))):
        status, answer, _ = system.api(method, path, body, cookie=northshire)
        assert status == 404, (method, path, answer)
    assert system.api("GET", LA, cookie=admin)[1]["version"] == current["version"]
    # Their own LA is theirs, and keeps its own configuration.
    status, own, _ = system.api("GET", OTHER_LA, cookie=northshire)
    assert status == 200 and own["la_id"] == str(demo.OTHER_LA_ID) and own["term_periods"] == []
    assert system.api("GET", OTHER_LA, cookie=admin)[0] == 404
    assert system.api("GET", "/api/v1/organisations/not-a-uuid/timescales", cookie=admin)[0] == 404
