"""The idle clock on real Postgres: ordinary requests only read a session whose clock was restarted lately, and
restart it once it is older than the threshold; an idle session still ends; "Stay signed in" restarts it at once."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.identity import store
from services.identity.domain.session_rules import RuleDefaults
from services.identity.settings import IdentitySettings
from tests.conftest import module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
IDLE = 20 * 60
DEFAULTS = RuleDefaults(IDLE, 120)  # nobody here works for an LA with rules of its own
TOUCH_AFTER = 60.0


database = module_database("epep_idsess")


@pytest.fixture
async def conn(identity_conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    yield identity_conn


async def _session(conn: asyncpg.Connection, seen_seconds_ago: float) -> bytes:
    user_id, token_hash = uuid.uuid4(), hashlib.sha256(uuid.uuid4().bytes).digest()
    await conn.execute("INSERT INTO users (id, email, email_normalised, given_name, family_name) "
                       "VALUES ($1, $2, $2, 'Sam', 'Idle')", user_id, f"{user_id}@example.test")
    # A session lives only while its person has an active membership.
    await conn.execute("INSERT INTO organisations (id, name, type) VALUES ($1, 'LA', 'local_authority')", user_id)
    await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $1, 'social_worker')",
                       user_id)
    await store.create_session(conn, user_id, token_hash, 12 * 60 * 60)
    await conn.execute("UPDATE sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE token_hash = $1",
                       token_hash, float(seen_seconds_ago))
    return token_hash


async def _seen(conn: asyncpg.Connection, token_hash: bytes) -> tuple[float, int]:
    """How many seconds ago the idle clock was restarted, and the row's version (xmin: any write changes it)."""
    row = await conn.fetchrow("SELECT extract(epoch FROM now() - last_seen_at)::float8 AS ago, xmin::text::bigint "
                              "AS version FROM sessions WHERE token_hash = $1", token_hash)
    return row["ago"], row["version"]


async def test_a_request_within_the_threshold_only_reads(conn: asyncpg.Connection) -> None:
    token_hash = await _session(conn, 30)
    _, version = await _seen(conn, token_hash)
    session = await store.resolve_session(conn, token_hash, DEFAULTS, TOUCH_AFTER)
    ago, version_after = await _seen(conn, token_hash)
    assert session is not None and version_after == version and ago >= 30
    # The idle deadline it reports is the one the database enforces: from the last restart, not this request.
    assert abs((session["idle_expires_at"] - session["expires_at"]).total_seconds()
               - (IDLE - 30 - 12 * 60 * 60)) < 5


async def test_a_request_after_the_threshold_restarts_the_idle_clock(conn: asyncpg.Connection) -> None:
    token_hash = await _session(conn, 61)
    _, version = await _seen(conn, token_hash)
    assert await store.resolve_session(conn, token_hash, DEFAULTS, TOUCH_AFTER) is not None
    ago, version_after = await _seen(conn, token_hash)
    assert ago < 5 and version_after != version


async def test_stay_signed_in_restarts_it_at_once_and_looking_never_does(conn: asyncpg.Connection) -> None:
    token_hash = await _session(conn, 10)
    assert await store.resolve_session(conn, token_hash, DEFAULTS, None) is not None
    assert (await _seen(conn, token_hash))[0] >= 10
    assert await store.resolve_session(conn, token_hash, DEFAULTS, 0) is not None
    assert (await _seen(conn, token_hash))[0] < 5


async def test_an_idle_session_still_ends(conn: asyncpg.Connection) -> None:
    token_hash = await _session(conn, IDLE + 1)
    assert await store.resolve_session(conn, token_hash, DEFAULTS, TOUCH_AFTER) is None
    assert await store.resolve_session(conn, token_hash, DEFAULTS, 0) is None
    assert (await _seen(conn, token_hash))[0] > IDLE  # and asking did not revive it


async def test_the_tolerance_is_a_minute_at_most_and_small_beside_the_idle_timeout(conn: asyncpg.Connection) -> None:
    """The threshold is a twentieth of the person's own idle timeout when that is less than a minute: 15 s of a
    5-minute one."""
    assert IdentitySettings().session_touch_seconds == 60
    short = RuleDefaults(300, 60)
    token_hash = await _session(conn, 14)
    assert await store.resolve_session(conn, token_hash, short, TOUCH_AFTER) is not None
    assert (await _seen(conn, token_hash))[0] >= 14
    await conn.execute("UPDATE sessions SET last_seen_at = now() - interval '16 seconds' WHERE token_hash = $1",
                       token_hash)
    session = await store.resolve_session(conn, token_hash, short, TOUCH_AFTER)
    assert session is not None and session["idle_seconds"] == 300 and session["warning_seconds"] == 60
    assert (await _seen(conn, token_hash))[0] < 5
