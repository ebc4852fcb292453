"""Issue 23, finding 8: behind a proxy everyone is one address. One attacker's failures from the proxy's address
must slow that address down, never lock every sign-in out for a quarter of an hour; the attacked accounts stay
throttled as long as ever. On real Postgres, through identity's own throttle store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.identity import store
from services.identity.domain.throttle import ADDRESS_MAX_DELAY_SECONDS
from services.identity.settings import IdentitySettings
from tests.conftest import module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"
database = module_database("epep_idthrottle")
PROXY = "address:10.0.0.7"  # the ingress's address, as identity sees every browser without trusted proxies


@pytest.fixture
async def conn(identity_conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    await identity_conn.execute("DELETE FROM throttle")
    yield identity_conn


async def test_an_attack_from_the_proxys_address_never_locks_everyone_out(conn: asyncpg.Connection) -> None:
    settings = IdentitySettings(environment="test")
    for n in range(200):  # a password spray: one failure on each of 200 accounts, all "from" the proxy
        await store.record_failure(conn, PROXY, settings.throttle_free_failures_address,
                                   settings.throttle_max_delay_seconds)
        await store.record_failure(conn, f"account:victim{n}@example.test", settings.throttle_free_failures_account,
                                   settings.throttle_max_delay_seconds)
    # Everyone behind the proxy waits seconds, not the 15 minutes the doubling would reach.
    assert 0 < await store.blocked_for(conn, [PROXY]) <= ADDRESS_MAX_DELAY_SECONDS
    # Guessing one account's password is still bound by the account's own throttle.
    for _ in range(settings.throttle_free_failures_account + 10):
        await store.record_failure(conn, "account:target@example.test", settings.throttle_free_failures_account,
                                   settings.throttle_max_delay_seconds)
    assert await store.blocked_for(conn, ["account:target@example.test"]) > 10 * ADDRESS_MAX_DELAY_SECONDS
