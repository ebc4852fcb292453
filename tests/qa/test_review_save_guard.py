"""A review's draft save is its read then one statement (issue 19): save_review_draft (migration 0016) keeps the
draft only if the submission is still as the caller read it and still open to drafts, under the lock deciding
takes. The race it is for: a decision that commits while the save waits for the lock is seen, and no draft follows
it (a draft after a decision would make the decided review look undecided). Real Postgres, qa's own migrations."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.qa.reviews import SAVE_DRAFT_SQL
from tests.conftest import module_database

database = module_database("epep_qa_save_guard")
SUBMITTED = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
MEETING = date(2026, 11, 24)
FRAMEWORK = "redcar_cleveland"


async def submitted_pep(pool: asyncpg.Pool) -> dict[str, Any]:
    ids = {"pep_id": uuid.uuid4(), "child_id": uuid.uuid4(), "la_id": uuid.uuid4(), "me": uuid.uuid4()}
    await pool.execute("INSERT INTO peps (id, child_id, la_id, status, kind, term, academic_year, meeting_date, "
                       "submitted_at, status_version) VALUES ($1, $2, $3, 'submitted', 'termly_review', 'autumn', "
                       "'2026/27', $4, $5, 2)", ids["pep_id"], ids["child_id"], ids["la_id"], MEETING, SUBMITTED)
    await pool.execute("INSERT INTO users (id, email, given_name, family_name, changed_at) VALUES ($1, 'cw@x.test', "
                       "'Cal', 'Caseworker', now())", ids["me"])
    return ids


async def save(conn: asyncpg.Connection | asyncpg.Pool, ids: dict[str, Any], *, submitted: datetime = SUBMITTED,
               framework: str = FRAMEWORK, feedback: str = "so far") -> asyncpg.Record:
    return await conn.fetchrow(SAVE_DRAFT_SQL, ids["pep_id"], submitted, MEETING, framework,
                               {"education": {"grade": "green"}}, "green", "green", feedback, ids["me"])


async def decided(conn: asyncpg.Connection | asyncpg.Pool, ids: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, "
                       "framework_key, overall_grade, outcome, by_user) VALUES ($1, $2, $3, $4, $5, 'decided', $6, "
                       "'green', 'approve', $7)", ids["pep_id"], ids["child_id"], ids["la_id"], SUBMITTED, MEETING,
                       FRAMEWORK, ids["me"])


async def stages(pool: asyncpg.Pool, ids: dict[str, Any]) -> list[str]:
    return [r["stage"] for r in await pool.fetch("SELECT stage FROM reviews WHERE pep_id = $1 ORDER BY id",
                                                 ids["pep_id"])]


async def test_a_draft_is_kept_with_its_authors_name_while_the_submission_is_as_read(pool: asyncpg.Pool) -> None:
    ids = await submitted_pep(pool)
    row = await save(pool, ids)
    again = await save(pool, ids, feedback="more")
    assert (row["stage"], row["by_name"], row["child_id"], row["la_id"], row["awarded_grade"]) == (
        "draft", "Cal Caseworker", ids["child_id"], ids["la_id"], "green")
    assert again["overall_feedback"] == "more" and await stages(pool, ids) == ["draft", "draft"]


async def test_a_submission_not_as_read_or_past_its_drafts_keeps_no_draft(pool: asyncpg.Pool) -> None:
    ids = await submitted_pep(pool)
    await save(pool, ids)
    for stale in ({"submitted": datetime(2026, 11, 1, tzinfo=UTC)}, {"framework": "another_framework"}):
        with pytest.raises(asyncpg.exceptions.RaiseError, match="changed"):
            await save(pool, ids, **stale)
    unknown = {**ids, "pep_id": uuid.uuid4()}
    with pytest.raises(asyncpg.exceptions.RaiseError, match="not_yet_known"):
        await save(pool, unknown)
    await decided(pool, ids)
    with pytest.raises(asyncpg.exceptions.RaiseError, match="decided"):
        await save(pool, ids)
    assert await stages(pool, ids) == ["draft", "decided"]


async def test_a_decision_that_commits_while_the_save_waits_is_seen(pool: asyncpg.Pool) -> None:
    ids = await submitted_pep(pool)
    async with pool.acquire() as deciding, deciding.transaction():
        await deciding.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"qa-review-{ids['pep_id']}")
        waiting = asyncio.create_task(save(pool, ids))
        await asyncio.sleep(0.5)  # the save has its snapshot's moment behind it, and waits for the lock
        assert not waiting.done()
        await decided(deciding, ids)
    with pytest.raises(asyncpg.exceptions.RaiseError, match="decided"):
        await waiting
    assert await stages(pool, ids) == ["decided"]
