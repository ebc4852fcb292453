"""What qa's store tests share: a pool as qa's own role on the module's own database, with qa's schema migrated
afresh. Each module names its database with `module_database`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared import db
from shared.migrate import ensure_database, migrate
from shared.settings import ServiceSettings
from tests.conftest import PG_HOST, PG_PORT

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "qa" / "migrations"


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    settings = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database, environment="test")
    await ensure_database(settings)
    admin = await asyncpg.connect(settings.admin_dsn())
    await admin.execute("DROP SCHEMA IF EXISTS qa CASCADE")
    await admin.close()
    await migrate(settings, "qa", MIGRATIONS, ("bus", "users"))
    pool = await db.create_pool(settings, "qa")
    yield pool
    await pool.close()
