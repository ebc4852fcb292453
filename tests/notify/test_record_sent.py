"""An email that has gone must be recorded as sent even if Postgres goes away at that moment: left `sending`,
its event's retry would wait out the lease and send it a second time (make chaos found exactly that)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.notify.consumers import _record_sent
from tests.conftest import PG_HOST, PG_PORT, RUN_ID, drop_database


class DropsTheFirstQuery:
    """A real pool whose first statement fails the way asyncpg fails when the server restarts mid-query."""

    def __init__(self, pool: asyncpg.Pool, error: Exception) -> None:
        self.pool, self.error, self.calls = pool, error, 0

    async def execute(self, *args: Any) -> str:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        return await self.pool.execute(*args)


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    name = f"epep_record_sent_{RUN_ID}"
    admin = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres")
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    pool = await asyncpg.create_pool(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}", min_size=1, max_size=2)
    await pool.execute("CREATE TABLE deliveries (id uuid PRIMARY KEY, status text NOT NULL, last_error text, "
                       "updated_at timestamptz, sent_at timestamptz)")
    yield pool
    await pool.close()
    await drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", name)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.InternalClientError("the server closed the connection mid-query"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    ConnectionResetError(),
], ids=type)
async def test_a_sent_email_is_recorded_after_the_database_comes_back(pool: asyncpg.Pool, error: Exception) -> None:
    delivery = uuid.uuid4()
    await pool.execute("INSERT INTO deliveries (id, status) VALUES ($1, 'sending')", delivery)
    flaky = DropsTheFirstQuery(pool, error)
    await asyncio.wait_for(_record_sent(flaky, delivery, {}), timeout=10)  # type: ignore[arg-type]
    assert flaky.calls == 2
    assert await pool.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery) == "sent"
