"""A QA decision pep has taken is kept even when qa's own commit was cut off (make chaos: Postgres restarted as qa
committed, and the PEP was approved with no decided review in QA). Real Postgres, qa's own migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.qa.domain.frameworks import FRAMEWORKS
from services.qa.erasure import _anonymise
from services.qa.readmodels import _on_pep_status
from services.qa.reviews import _record_after_pep_took_it
from shared.api.qa import DecideIn
from shared.bus import MessageContext
from shared.contracts import ChildErased, Envelope, PepStatusChanged
from shared.service import POOL
from tests.conftest import module_database

database = module_database("epep_qa_kept")
REDCAR = FRAMEWORKS["redcar_cleveland"]


class Request(dict[Any, Any]):
    """What the handler's helpers read of a request: its app, holding the pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.app = {POOL: pool}


async def test_a_decision_pep_took_is_recorded_once_after_the_database_comes_back(pool: asyncpg.Pool) -> None:
    me = str(uuid.uuid4())
    # The decision as the request kept it before asking pep (services/qa/reviews.py, `_decide`).
    pep_id, _, _ = await _submitted_with_pending(pool, "approve", me)
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
    assert await pool.fetchval("SELECT count(*) FROM pending_decisions WHERE pep_id = $1", pep_id) == 0


async def _submitted_with_pending(pool: asyncpg.Pool, outcome: str, me: str, reason: str | None = None
                                  ) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A submitted PEP rated Green throughout, and a decision of it kept pending (what `_decide` commits before
    asking pep): the PEP, its child and LA."""
    pep_id, child_id, la_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    submitted = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    await pool.execute("INSERT INTO peps (id, child_id, la_id, status, kind, term, academic_year, meeting_date, "
                       "submitted_at, status_version) VALUES ($1, $2, $3, 'submitted', 'termly_review', 'autumn', "
                       "'2026/27', $4, $5, 2)", pep_id, child_id, la_id, date(2026, 11, 24), submitted)
    await pool.execute("INSERT INTO reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, "
                       "framework_key, areas, overall_grade, by_user) VALUES ($1, $2, $3, $4, $5, 'draft', "
                       "'redcar_cleveland', $6, 'green', $7)", pep_id, child_id, la_id, submitted,
                       date(2026, 11, 24), {a.key: {"grade": "green"} for a in REDCAR.areas}, uuid.UUID(me))
    await pool.execute("INSERT INTO pending_decisions (pep_id, submitted_at, review_id, outcome, reason, "
                       "overall_grade, level, by_user) SELECT $1, $2, id, $3, $4, 'green', 1, $5 FROM reviews "
                       "WHERE pep_id = $1", pep_id, submitted, outcome, reason, uuid.UUID(me))
    return pep_id, child_id, la_id


async def _pep_says(pool: asyncpg.Pool, pep_id: uuid.UUID, child_id: uuid.UUID, la_id: uuid.UUID, *, action: str,
                    status: str, by_user: str, version: int = 3, from_status: str = "submitted") -> None:
    """pep's status event reaching qa's consumer, as delivered: a new event each time (its own id)."""
    data = PepStatusChanged(pep_id=pep_id, child_id=child_id, la_id=la_id, kind="termly_review", term="autumn",
                            academic_year="2026/27", from_status=from_status, status=status, action=action,
                            by_user=uuid.UUID(by_user), version=version, meeting_date=date(2026, 11, 24))
    envelope = Envelope(event_type="pep.pep.status_changed", version=1, producer="pep", tenant=str(la_id),
                        data=data.model_dump(mode="json"))
    await _on_pep_status(MessageContext(consumer="qa.peps", envelope=envelope, attempt=1, pool=pool), data)


async def _decided(pool: asyncpg.Pool, pep_id: uuid.UUID) -> list[tuple[str, str | None, str | None, str]]:
    rows = await pool.fetch("SELECT outcome, awarded_grade, reason, by_user FROM reviews WHERE pep_id = $1 "
                            "AND stage = 'decided'", pep_id)
    return [(r["outcome"], r["awarded_grade"], r["reason"], str(r["by_user"])) for r in rows]


async def test_peps_event_writes_the_decision_a_dead_qa_process_left_pending_once(pool: asyncpg.Pool) -> None:
    me = str(uuid.uuid4())
    pep_id, child_id, la_id = await _submitted_with_pending(pool, "return", me, reason="Add the targets")
    await _pep_says(pool, pep_id, child_id, la_id, action="return", status="returned", by_user=me)
    assert await _decided(pool, pep_id) == [("return", "gold", "Add the targets", me)]
    # The same event again (redelivered under a new id, or after the request wrote it) changes nothing.
    await _pep_says(pool, pep_id, child_id, la_id, action="return", status="returned", by_user=me)
    assert await _decided(pool, pep_id) == [("return", "gold", "Add the targets", me)]
    announced = await pool.fetch("SELECT envelope->'data'->>'outcome' AS outcome FROM outbox "
                                 "WHERE envelope->'data'->>'pep_id' = $1", str(pep_id))
    assert [r["outcome"] for r in announced] == ["return"]
    assert await pool.fetchval("SELECT count(*) FROM pending_decisions WHERE pep_id = $1", pep_id) == 0
    assert await pool.fetchval("SELECT status FROM peps WHERE id = $1", pep_id) == "returned"


async def test_a_pending_decision_pep_did_not_take_is_never_written(pool: asyncpg.Pool) -> None:
    """A decision pep refused or never received stays undecided whatever else pep announces of the PEP."""
    me, other = str(uuid.uuid4()), str(uuid.uuid4())
    first, child_id, la_id = await _submitted_with_pending(pool, "approve", me)
    await _pep_says(pool, first, child_id, la_id, action="approve", status="approved", by_user=other)
    await _pep_says(pool, first, child_id, la_id, action="cancel", status="cancelled", by_user=me, version=4)
    second, child_id, la_id = await _submitted_with_pending(pool, "approve", me)
    await _pep_says(pool, second, child_id, la_id, action="return", status="returned", by_user=me)
    for pep_id in (first, second):
        assert await _decided(pool, pep_id) == []
        reviews = await pool.fetch("SELECT stage FROM reviews WHERE pep_id = $1", pep_id)
        assert [r["stage"] for r in reviews] == ["draft"]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE envelope->'data'->>'pep_id' = $1",
                                   str(pep_id)) == 0


async def test_a_pending_decision_goes_with_the_childs_record(pool: asyncpg.Pool) -> None:
    me = str(uuid.uuid4())
    pep_id, child_id, la_id = await _submitted_with_pending(pool, "return", me, reason="Add the targets")
    kept, _, _ = await _submitted_with_pending(pool, "return", me, reason="Another child's")
    async with pool.acquire() as conn, conn.transaction():
        await _anonymise(conn, ChildErased(child_id=child_id, la_id=la_id, pep_ids=[pep_id],
                                           retention_ended=date(2026, 12, 1)))
    left = await pool.fetch("SELECT pep_id, reason FROM pending_decisions WHERE pep_id = ANY($1::uuid[])",
                            [pep_id, kept])
    assert [(r["pep_id"], r["reason"]) for r in left] == [(kept, "Another child's")]
