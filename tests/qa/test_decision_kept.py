"""A QA decision pep has taken is kept even when qa's own commit was cut off (make chaos: Postgres restarted as qa
committed, and the PEP was approved with no decided review in QA). Real Postgres, qa's own migrations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.qa.domain.frameworks import FRAMEWORKS
from services.qa.reviews import _record_after_pep_took_it
from shared import db
from shared.api.qa import DecideIn
from shared.migrate import ensure_database, migrate
from shared.service import POOL
from shared.settings import ServiceSettings
from tests.conftest import PG_HOST, PG_PORT, module_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "qa" / "migrations"
database = module_database("epep_qa_kept")
REDCAR = FRAMEWORKS["redcar_cleveland"]


class Request(dict[Any, Any]):
    """What the handler's helpers read of a request: its app, holding the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.app = {POOL: pool}


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


async def test_a_decision_pep_took_is_recorded_once_after_the_database_comes_back(pool: asyncpg.Pool) -> None:
    pep_id, child_id, la_id, me = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    submitted = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    await pool.execute("INSERT INTO peps (id, child_id, la_id, status, kind, term, academic_year, meeting_date, "
                       "submitted_at, status_version) VALUES ($1, $2, $3, 'submitted', 'termly_review', 'autumn', "
                       "'2026/27', $4, $5, 2)", pep_id, child_id, la_id, date(2026, 11, 24), submitted)
    await pool.execute("INSERT INTO reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, "
                       "framework_key, areas, overall_grade, by_user) VALUES ($1, $2, $3, $4, $5, 'draft', "
                       "'redcar_cleveland', $6, 'green', $7)", pep_id, child_id, la_id, submitted,
                       date(2026, 11, 24), {a.key: {"grade": "green"} for a in REDCAR.areas}, uuid.UUID(me))
    request = Request(pool)
    body = DecideIn(outcome="approve")
    await _record_after_pep_took_it(request, pep_id, body, me)  # type: ignore[arg-type]
    # The commit may in fact have happened before the answer was lost: recording again changes nothing.
    await _record_after_pep_took_it(request, pep_id, body, me)  # type: ignore[arg-type]
    decided = await pool.fetch("SELECT outcome, awarded_grade, by_user FROM reviews WHERE pep_id = $1 "
                               "AND stage = 'decided'", pep_id)
    assert [(r["outcome"], r["awarded_grade"], str(r["by_user"])) for r in decided] == [("approve", "gold", me)]
    announced = await pool.fetch("SELECT routing_key FROM outbox WHERE envelope->'data'->>'pep_id' = $1",
                                 str(pep_id))
    assert [r["routing_key"] for r in announced] == ["qa.review.decided.v1"]
