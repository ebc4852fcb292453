"""Each LA's own session rules on real Postgres: whose sessions follow which LA's rule (everyone working for the LA,
at the LA or at one of its settings), the strictest where someone works for several, the default where an LA has
set none, and an idle session refused by its person's own rule. The bounds an LA may choose, in words."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.identity import store
from services.identity.domain.session_rules import RuleDefaults, rule_errors
from services.identity.settings import IdentitySettings
from tests.conftest import module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
DEFAULTS = RuleDefaults(idle_seconds=20 * 60, warning_seconds=2 * 60)

database = module_database("epep_idrules")


@pytest.fixture
async def conn(identity_conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    yield identity_conn


async def _person(conn: asyncpg.Connection, *memberships: tuple[uuid.UUID, str]) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute("INSERT INTO users (id, email, email_normalised, given_name, family_name) "
                       "VALUES ($1, $2, $2, 'Pat', 'Example')", user_id, f"{user_id}@example.test")
    for org_id, role in memberships:
        await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $2, $3)",
                           user_id, org_id, role)
    return user_id


async def _la(conn: asyncpg.Connection, name: str, rule: tuple[int, int] | None) -> uuid.UUID:
    la_id = uuid.uuid4()
    await conn.execute("INSERT INTO organisations (id, name, type) VALUES ($1, $2, 'local_authority')", la_id, name)
    if rule is not None:
        admin = await _person(conn, (la_id, "vs_admin"))
        await conn.execute("INSERT INTO session_rules (la_id, idle_minutes, warning_minutes, changed_by) "
                           "VALUES ($1, $2, $3, $4)", la_id, *rule, admin)
    return la_id


async def _setting(conn: asyncpg.Connection, la_id: uuid.UUID) -> uuid.UUID:
    setting_id = uuid.uuid4()
    await conn.execute("INSERT INTO organisations (id, name, type, la_id) VALUES ($1, 'School', 'setting', $2)",
                       setting_id, la_id)
    return setting_id


async def _rule(conn: asyncpg.Connection, user_id: uuid.UUID, defaults: RuleDefaults = DEFAULTS) -> tuple[int, int]:
    row = await store.session_rule(conn, user_id, defaults)
    return row["idle_seconds"], row["warning_seconds"]


async def _session(conn: asyncpg.Connection, user_id: uuid.UUID, seen_seconds_ago: float) -> bytes:
    token_hash = hashlib.sha256(uuid.uuid4().bytes).digest()
    await store.create_session(conn, user_id, token_hash, 12 * 60 * 60)
    await conn.execute("UPDATE sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE token_hash = $1",
                       token_hash, float(seen_seconds_ago))
    return token_hash


async def test_everyone_working_for_an_la_follows_its_rule_and_the_strictest_wins(conn: asyncpg.Connection) -> None:
    kent = await _la(conn, "Kent", (20, 2))
    welfare_call = await _la(conn, "Welfare Call", (40, 10))
    no_rule = await _la(conn, "Northshire", None)
    kent_school = await _setting(conn, kent)

    assert await _rule(conn, await _person(conn, (welfare_call, "vs_caseworker"))) == (40 * 60, 10 * 60)
    # At one of the LA's settings is working for the LA.
    assert await _rule(conn, await _person(conn, (kent_school, "designated_teacher"))) == (20 * 60, 2 * 60)
    # Both: the shorter idle timeout, with its own warning.
    both = await _person(conn, (welfare_call, "vs_caseworker"), (kent_school, "setting_staff"))
    assert await _rule(conn, both) == (20 * 60, 2 * 60)
    # An LA without a rule counts with the default (stricter than Welfare Call's 40 minutes).
    assert await _rule(conn, await _person(conn, (no_rule, "social_worker"))) == (20 * 60, 2 * 60)
    shorter_default = RuleDefaults(idle_seconds=15 * 60, warning_seconds=60)
    mixed = await _person(conn, (welfare_call, "vs_admin"), (no_rule, "iro"))
    assert await _rule(conn, mixed, shorter_default) == (15 * 60, 60)
    # ...but only for someone working for such an LA: Welfare Call's people alone keep its 40 minutes.
    assert await _rule(conn, await _person(conn, (welfare_call, "carer")), shorter_default) == (40 * 60, 10 * 60)


async def test_equal_timeouts_keep_the_longer_warning_and_ended_work_does_not_count(conn: asyncpg.Connection) -> None:
    kent = await _la(conn, "Kent", (20, 2))
    early = await _la(conn, "Early warners", (20, 5))
    welfare_call = await _la(conn, "Welfare Call", (40, 10))
    assert await _rule(conn, await _person(conn, (kent, "iro"), (early, "iro"))) == (20 * 60, 5 * 60)
    # Their Kent membership deactivated: Kent's rule no longer binds them.
    moved_on = await _person(conn, (kent, "social_worker"), (welfare_call, "social_worker"))
    await conn.execute("UPDATE memberships SET disabled_at = now() WHERE user_id = $1 AND organisation_id = $2",
                       moved_on, kent)
    assert await _rule(conn, moved_on) == (40 * 60, 10 * 60)


async def test_a_session_idle_past_its_persons_rule_is_refused(conn: asyncpg.Connection) -> None:
    kent = await _la(conn, "Kent", (20, 2))
    welfare_call = await _la(conn, "Welfare Call", (40, 10))
    kent_person = await _person(conn, (await _setting(conn, kent), "designated_teacher"))
    welfare_person = await _person(conn, (welfare_call, "vs_caseworker"))
    idle_21_minutes = 21 * 60
    assert await store.resolve_session(conn, await _session(conn, kent_person, idle_21_minutes), DEFAULTS, 60) is None
    alive = await store.resolve_session(conn, await _session(conn, welfare_person, idle_21_minutes), DEFAULTS, None)
    assert alive is not None and (alive["idle_seconds"], alive["warning_seconds"]) == (40 * 60, 10 * 60)
    # Its idle deadline is 40 minutes after it was last used: 19 minutes from now.
    left = (alive["idle_expires_at"] - await conn.fetchval("SELECT now()")).total_seconds()
    assert abs(left - 19 * 60) < 5


async def test_a_test_minute_can_be_shorter_but_the_rule_is_still_the_las(conn: asyncpg.Connection) -> None:
    kent = await _la(conn, "Kent", (5, 1))
    person = await _person(conn, (kent, "vs_caseworker"))
    seconds = RuleDefaults(idle_seconds=20 * 60, warning_seconds=120, unit_seconds=1)
    assert await _rule(conn, person, seconds) == (5, 1)
    assert await store.resolve_session(conn, await _session(conn, person, 6), seconds, 60) is None
    assert await store.resolve_session(conn, await _session(conn, person, 4), seconds, 60) is not None


async def test_the_database_keeps_to_the_bounds_too(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await _la(conn, "Too short", (4, 1))
    with pytest.raises(asyncpg.CheckViolationError):
        await _la(conn, "Warning too late", (20, 20))


def test_the_bounds_are_named_in_words() -> None:
    assert rule_errors(20, 2) == [] and rule_errors(5, 1) == [] and rule_errors(120, 119) == []
    assert rule_errors(4, 1) == [("idle_minutes", "The time before signing out must be between 5 and 120 minutes")]
    assert rule_errors(121, 10)[0][0] == "idle_minutes"
    assert rule_errors(20, 0) == [("warning_minutes", "The warning must be at least 1 minute before signing out")]
    assert rule_errors(20, 20) == [("warning_minutes", "The warning must come before the time to sign out: make it "
                                                       "shorter than 20 minutes")]


def test_the_default_must_be_a_rule_too() -> None:
    with pytest.raises(ValueError, match="EPEP_SESSION_WARNING_SECONDS"):
        IdentitySettings(session_idle_seconds=120, session_warning_seconds=120)
