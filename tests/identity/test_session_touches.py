"""The gateways' batched idle-clock restarts on real Postgres (store.touch_sessions, POST /sessions/touch): each
session's clock moves to its latest request, by the rule resolve_session follows; a touch never revives a session
that is revoked, past its absolute limit or already idle, and never moves a clock into the future."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.identity import store
from services.identity.domain.session_rules import RuleDefaults
from tests.conftest import module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
IDLE = 20 * 60
DEFAULTS = RuleDefaults(IDLE, 120)
TOUCH_AFTER = 60.0

database = module_database("epep_idtouch")


@pytest.fixture
async def conn(identity_conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    await identity_conn.execute("SET search_path = identity, public")
    yield identity_conn


async def _session(conn: asyncpg.Connection, seen_seconds_ago: float) -> uuid.UUID:
    user_id, token_hash = uuid.uuid4(), hashlib.sha256(uuid.uuid4().bytes).digest()
    await conn.execute("INSERT INTO users (id, email, email_normalised, given_name, family_name) "
                       "VALUES ($1, $2, $2, 'Tess', 'Touch')", user_id, f"{user_id}@example.test")
    await conn.execute("INSERT INTO organisations (id, name, type) VALUES ($1, 'LA', 'local_authority')", user_id)
    await conn.execute("INSERT INTO memberships (user_id, organisation_id, role) VALUES ($1, $1, 'social_worker')",
                       user_id)
    session = await store.create_session(conn, user_id, token_hash, 12 * 60 * 60)
    await conn.execute("UPDATE sessions SET last_seen_at = now() - make_interval(secs => $2) WHERE id = $1",
                       session["id"], float(seen_seconds_ago))
    return session["id"]


async def _seen_ago(conn: asyncpg.Connection, session_id: uuid.UUID) -> float:
    return await conn.fetchval("SELECT extract(epoch FROM now() - last_seen_at)::float8 FROM sessions WHERE id = $1",
                               session_id)


async def _db_now(conn: asyncpg.Connection) -> datetime:
    return await conn.fetchval("SELECT now()")


async def test_the_latest_request_of_each_session_restarts_its_clock(conn: asyncpg.Connection) -> None:
    first, second = await _session(conn, 600), await _session(conn, 600)
    now = await _db_now(conn)
    written = await store.touch_sessions(conn, [(first, now - timedelta(seconds=30)),
                                                (first, now - timedelta(seconds=10)),
                                                (second, now - timedelta(seconds=100))], DEFAULTS, TOUCH_AFTER)
    assert written == 2
    assert 9 <= await _seen_ago(conn, first) <= 12
    assert 99 <= await _seen_ago(conn, second) <= 102


async def test_a_restart_within_the_threshold_is_not_written(conn: asyncpg.Connection) -> None:
    """As resolve_session does: most requests only read."""
    session_id = await _session(conn, 30)
    assert await store.touch_sessions(conn, [(session_id, await _db_now(conn))], DEFAULTS, TOUCH_AFTER) == 0
    assert await _seen_ago(conn, session_id) >= 30


async def test_a_touch_never_revives_a_session(conn: asyncpg.Connection) -> None:
    idle, revoked, expired = await _session(conn, IDLE + 5), await _session(conn, 600), await _session(conn, 600)
    await conn.execute("UPDATE sessions SET revoked_at = now() WHERE id = $1", revoked)
    await conn.execute("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1", expired)
    now = await _db_now(conn)
    assert await store.touch_sessions(conn, [(s, now) for s in (idle, revoked, expired)], DEFAULTS, TOUCH_AFTER) == 0
    # A request the gateway served while the session was still live counts, even if identity hears of it later.
    late = await _session(conn, IDLE + 5)
    assert await store.touch_sessions(conn, [(late, now - timedelta(seconds=10))], DEFAULTS, TOUCH_AFTER) == 1


async def test_a_clock_is_never_moved_into_the_future(conn: asyncpg.Connection) -> None:
    session_id = await _session(conn, 600)
    ahead = datetime.now(UTC) + timedelta(hours=1)  # a gateway whose clock runs fast
    assert await store.touch_sessions(conn, [(session_id, ahead)], DEFAULTS, TOUCH_AFTER) == 1
    assert 0 <= await _seen_ago(conn, session_id) < 5
