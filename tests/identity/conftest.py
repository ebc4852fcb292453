"""What identity's store tests share: a connection to the module's own database, migrated to identity's schema,
with identity first on the search path. Each module names its database with `module_database`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.identity.settings import IdentitySettings
from shared.migrate import ensure_database, migrate
from tests.conftest import PG_HOST, PG_PORT

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "identity" / "migrations"


@pytest.fixture
async def identity_conn(database: str) -> AsyncIterator[asyncpg.Connection]:
    settings = IdentitySettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database, environment="test")
    await ensure_database(settings)
    await migrate(settings, "identity", MIGRATIONS)
    connection = await asyncpg.connect(settings.admin_dsn())
    await connection.execute("SET search_path = identity")
    yield connection
    await connection.close()
