"""A QA decision pep has taken is kept even when the qa process that asked pep dies before writing it (make chaos:
a qa replica SIGKILLed between pep's yes and qa's commit left the PEP approved with no decided review in QA). The
decision was kept pending before pep was asked; pep's status event writes it once qa is back, once, and the same
event delivered again changes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
import pytest

from shared import demo
from tests.conftest import RunningSystem
from tests.system.qa_steps import rate_fully
from tests.system.test_qa import last_working_day_before, queued, submitted_pep


@pytest.fixture(scope="module")
def cookies(system: RunningSystem) -> dict[str, str]:
    return {key: system.sign_in(f"{key}@demo.test") for key in ("caseworker", "sw", "dt")}


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.1)
    return result


async def test_qa_killed_after_pep_approved_records_the_decision_from_peps_event(
        system: RunningSystem, cookies: dict[str, str]) -> None:
    cw = cookies["caseworker"]
    _, pep_id = await asyncio.to_thread(submitted_pep, system, cookies, last_working_day_before(date.today()))
    rated = await asyncio.to_thread(rate_fully, system, cw, pep_id)
    db = await asyncpg.connect(system.admin_dsn)
    try:
        # Hold back qa's writes of reviews: the decision is kept pending (its own table), pep is asked and takes
        # it, and then qa's write of the decided review waits here. That is the moment qa is killed.
        blocker = await asyncpg.connect(system.admin_dsn)
        hold = blocker.transaction()
        await hold.start()
        await blocker.execute("LOCK TABLE qa.reviews IN SHARE MODE")
        try:
            deciding = asyncio.create_task(asyncio.to_thread(
                system.api, "POST", f"/api/v1/peps/{pep_id}/review/decide", {"outcome": "approve"}, cw))

            async def approved_at_pep() -> bool:
                return await db.fetchval("SELECT status FROM pep.peps WHERE id = $1", pep_id) == "approved"

            async def qa_writing() -> bool:
                return bool(await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                    "wait_event_type = 'Lock' AND query LIKE 'INSERT INTO reviews%'"))

            await until(approved_at_pep, "pep approves the PEP")
            await until(qa_writing, "qa writes the decided review")
            assert await db.fetchval("SELECT count(*) FROM qa.pending_decisions WHERE pep_id = $1", pep_id) == 1
            system.local.kill("qa")
        finally:
            await hold.rollback()
            await blocker.close()
        status, _, _ = await deciding
        assert status >= 500  # the caseworker was not told it worked
        system.local.restart("qa")
        await asyncio.to_thread(system.local.wait_ready, ["qa"])

        async def decided() -> dict[str, Any] | None:
            status, review, _ = await asyncio.to_thread(system.api, "GET", f"/api/v1/peps/{pep_id}/review",
                                                        cookie=cw)
            assert status == 200, review
            current = review["current"]
            return review if current and current["stage"] == "decided" else None

        review = await until(decided, "qa records the decision from pep's event")
        current, draft = review["current"], rated["current"]
        assert review["status"] == "approved" and not review["can_decide"]
        assert current["outcome"] == "approve" and current["by_user"] == str(demo.account_id("caseworker"))
        assert current["overall_grade"] == draft["overall_grade"] and current["awarded_grade"] is not None
        assert [a["grade"] for a in current["areas"]] == [a["grade"] for a in draft["areas"]]
        assert await asyncio.to_thread(queued, system, cw, pep_id) is None

        async def kept() -> list[Any]:
            return [(await db.fetchval("SELECT count(*) FROM qa.reviews WHERE pep_id = $1 AND stage = 'decided'",
                                       pep_id)),
                    (await db.fetchval("SELECT count(*) FROM qa.outbox WHERE routing_key = "
                                       "'qa.review.decided.v1' AND envelope->'data'->>'pep_id' = $1", str(pep_id))),
                    (await db.fetchval("SELECT count(*) FROM qa.pending_decisions WHERE pep_id = $1", pep_id))]

        assert await kept() == [1, 1, 0]

        # pep's event delivered to qa again: qa handles it afresh and writes nothing more.
        event_id = await db.fetchval(
            "SELECT event_id FROM pep.outbox WHERE envelope->'data'->>'pep_id' = $1 AND "
            "envelope->'data'->>'action' = 'approve'", str(pep_id))
        assert await db.execute("DELETE FROM qa.inbox WHERE consumer = 'qa.peps' AND event_id = $1",
                                event_id) == "DELETE 1"
        await db.execute("UPDATE pep.outbox SET published_at = NULL WHERE event_id = $1", event_id)

        async def handled_again() -> bool:
            return bool(await db.fetchval("SELECT count(*) FROM qa.inbox WHERE consumer = 'qa.peps' AND "
                                          "event_id = $1", event_id))

        await until(handled_again, "qa handles pep's event again")
        assert await kept() == [1, 1, 0]
    finally:
        await db.close()
