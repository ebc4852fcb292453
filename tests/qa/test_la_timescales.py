"""qa's read model of each LA's timescale rules (delegation.timescales.changed), on real Postgres with qa's own
migrations: the newest version wins whatever order the events arrive in, an LA that never saved keeps the
defaults, each rule says where it came from, school days count in the LA's term dates, and a change raises the
LA's dashboard version so no figure counted by the old rule is served again."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg

from services.qa.timescales import _on_changed, rule_of
from shared.contracts import TimescalesChanged
from tests.conftest import module_database

database = module_database("epep_qa_la_timescales")


class Context:
    """What the consumer uses of a delivery: a transaction for its effect."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def effect(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn


def changed(la_id: uuid.UUID, version: int, qa_review: dict[str, Any], **more: Any) -> TimescalesChanged:
    return TimescalesChanged.model_validate({
        "la_id": la_id, "version": version, "rules": {"qa_review": qa_review, **more.pop("rules", {})}, **more})


async def test_the_newest_version_wins_and_says_which_rule_it_is(pool: asyncpg.Pool) -> None:
    la_id = uuid.uuid4()
    default = await rule_of(pool, la_id, "qa_review")  # type: ignore[arg-type]
    assert (default.words(), default.source()) == ("10 working days", "default rule 'qa_review'")
    # Mon 2 Nov 2026 + 10 working days: 3-6 (4), 9-13 (9), Mon 16 Nov (10).
    assert default.due(date(2026, 11, 2)) == date(2026, 11, 16)

    mark = "SELECT version FROM dashboard_marks WHERE la_id = $1"
    await _on_changed(Context(pool), changed(la_id, 3, {"amount": 2, "unit": "working_days", "version": 3}))  # type: ignore[arg-type]
    first_mark = await pool.fetchval(mark, la_id)
    assert first_mark is not None
    rule = await rule_of(pool, la_id, "qa_review")  # type: ignore[arg-type]
    assert (rule.words(), rule.source()) == ("2 working days", "LA rule 'qa_review', version 3")
    assert rule.due(date(2026, 11, 2)) == date(2026, 11, 4)

    # An older version arriving late changes nothing; a newer one raises the LA's dashboard version.
    await _on_changed(Context(pool), changed(la_id, 2, {"amount": 1, "unit": "weeks", "version": 2}))  # type: ignore[arg-type]
    assert (await rule_of(pool, la_id, "qa_review")).words() == "2 working days"  # type: ignore[arg-type]
    await _on_changed(Context(pool), changed(la_id, 4, {"amount": 3, "unit": "school_days", "version": 4}, rules={
        "dt_return": {"amount": 1, "unit": "weeks", "version": 4}},
        term_periods=[{"term": "Autumn 2026", "start": "2026-09-02", "end": "2026-12-18"}],
        inset_days=["2026-11-03"]))  # type: ignore[arg-type]
    assert await pool.fetchval(mark, la_id) > first_mark
    rule = await rule_of(pool, la_id, "qa_review")  # type: ignore[arg-type]
    # 3 school days after Mon 2 Nov 2026, the INSET day on Tue 3 Nov left out: Wed 4 (1), Thu 5, Fri 6 (3).
    assert (rule.words(), rule.due(date(2026, 11, 2))) == ("3 school days", date(2026, 11, 6))
    # Past the LA's term dates school days cannot be counted.
    assert rule.due(date(2026, 12, 17)) is None
    # 1 week after Fri 18 Dec 2026 is Fri 25 Dec, Christmas Day: the next working day is Tue 29 Dec.
    returned = await rule_of(pool, la_id, "dt_return")  # type: ignore[arg-type]
    assert (returned.source(), returned.due(date(2026, 12, 18))) == ("LA rule 'dt_return', version 4",
                                                                      date(2026, 12, 29))
