"""Each service's Postgres role reaches its own schema and nothing else."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.settings import ServiceSettings
from tests.conftest import RunningSystem


def as_role(system: RunningSystem, service: str, sql: str) -> object:
    settings = ServiceSettings(pg_host=system.local.pg_host, pg_port=system.local.pg_port,
                               pg_database=system.local.database)

    async def run() -> object:
        conn = await asyncpg.connect(settings.service_dsn(service))
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()
    return asyncio.run(run())


def test_a_service_reads_its_own_schema(system: RunningSystem) -> None:
    assert as_role(system, "identity", "SELECT count(*) FROM identity.users")
    assert as_role(system, "notify", "SELECT count(*) FROM notify.deliveries")


@pytest.mark.parametrize("service,sql", [
    ("notify", "SELECT * FROM identity.users"),
    ("notify", "SELECT * FROM identity.sessions"),
    ("pep", "INSERT INTO notify.deliveries (id, event_id, recipient, template, subject) "
            "VALUES (gen_random_uuid(), gen_random_uuid(), 'x', 'x', 'x')"),
    ("identity", "SELECT * FROM pep.children"),
    ("qa", "UPDATE identity.users SET given_name = 'x'"),
    ("delegation", "DELETE FROM qa.inbox"),
])
def test_a_service_cannot_touch_another_services_schema(system: RunningSystem, service: str, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        as_role(system, service, sql)


@pytest.mark.parametrize("sql", ["CREATE TABLE identity.sneaky (x int)", "DROP TABLE identity.users",
                                 "CREATE TABLE public.sneaky (x int)", "SELECT * FROM identity.schema_migrations"])
def test_a_service_cannot_change_its_schema_at_run_time(system: RunningSystem, sql: str) -> None:
    with pytest.raises((asyncpg.InsufficientPrivilegeError,)):
        as_role(system, "identity", sql)
