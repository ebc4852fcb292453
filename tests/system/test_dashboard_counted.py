"""The dashboard's figures are counted again only when something they count has changed, and then at once: a qa
process serves the figures it last counted while its LA's version (raised by triggers in the same transaction as
any change to qa's read models for that LA) is the same, so a Virtual School never sees figures out of date."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from shared import demo
from tests.conftest import RunningSystem

NORTHSHIRE = demo.OTHER_LA_ID


def dashboard(system: RunningSystem, cookie: str, **query: Any) -> dict[str, Any]:
    status, body, _ = system.api("GET", "/api/v1/dashboard?" + urlencode({"la_id": NORTHSHIRE, **query}),
                                 cookie=cookie)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def version(system: RunningSystem, la_id: uuid.UUID) -> int:
    rows = system.admin_sql("SELECT version FROM qa.dashboard_marks WHERE la_id = $1", la_id)
    return int(rows[0]["version"]) if rows else 0


def twice_unchanged(system: RunningSystem, cookie: str, **query: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two readings with nothing changed in between (another test's events may still be arriving: try again)."""
    for _ in range(20):
        before = version(system, NORTHSHIRE)
        first, second = dashboard(system, cookie, **query), dashboard(system, cookie, **query)
        if version(system, NORTHSHIRE) == before:
            return first, second
    raise AssertionError("Northshire's figures kept changing")


def test_figures_are_served_again_until_something_they_count_changes(system: RunningSystem) -> None:
    admin = system.sign_in("admin@northshire.test")
    first, second = twice_unchanged(system, admin)
    assert first["figures_at"] and second == first  # served again: the very same counting

    # Another LA changes: Northshire's figures stand.
    other_before = version(system, demo.LA_ID)
    system.admin_sql("UPDATE qa.children SET year_group = year_group WHERE la_id = $1", demo.LA_ID)
    assert version(system, demo.LA_ID) > other_before
    again, _ = twice_unchanged(system, admin)
    assert again["total"] == first["total"]

    # A PEP of Northshire's appears: the very next reading counts it; it goes, and the next one no longer does.
    pep_id, child_id = uuid.uuid4(), uuid.uuid4()
    system.admin_sql("INSERT INTO qa.peps (id, child_id, la_id, status, kind, term, academic_year, status_version) "
                     "VALUES ($1, $2, $3, 'in_progress', 'termly_review', 'autumn', '2026/27', 1)",
                     pep_id, child_id, NORTHSHIRE)
    try:
        added = dashboard(system, admin)
        assert added["total"] == again["total"] + 1
        assert added["figures_at"] > again["figures_at"]
        in_progress = {c["key"]: c["count"] for c in added["by_status"]}["in_progress"]
        filtered = dashboard(system, admin, status="in_progress")
        assert filtered["total"] == in_progress
    finally:
        system.admin_sql("DELETE FROM qa.peps WHERE id = $1", pep_id)
    assert dashboard(system, admin)["total"] == again["total"]

    # A social worker's name changes (people have one version for every LA): the picker shows it at once.
    worker = system.admin_sql("SELECT id, family_name FROM qa.users WHERE email = 'admin@northshire.test'")[0]
    child = uuid.uuid4()
    system.admin_sql("INSERT INTO qa.children (id, la_id, social_worker_id, given_name, family_name, version) "
                     "VALUES ($1, $2, $3, 'Test', 'Child', 1)", child, NORTHSHIRE, worker["id"])
    try:
        def shown() -> str:
            people = dashboard(system, admin)["options"]["social_workers"]
            return str(next(p["name"] for p in people if p["id"] == str(worker["id"])))
        assert shown().endswith(worker["family_name"])
        system.admin_sql("UPDATE qa.users SET family_name = 'Renamed' WHERE id = $1", worker["id"])
        assert shown().endswith("Renamed")
    finally:
        system.admin_sql("UPDATE qa.users SET family_name = $2 WHERE id = $1", worker["id"], worker["family_name"])
        system.admin_sql("DELETE FROM qa.children WHERE id = $1", child)
