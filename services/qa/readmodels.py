"""qa's read models of pep's events: children (names, LA) and PEPs (status, meeting date and the real time of
the latest submission, which Gold is counted from); and of delegation's tasks (kind, status, due date), whose open
ones give each PEP's due dates for the dashboard; and what each submitted PEP records of attendance and attainment.
Rebuildable by replaying the events: each carries a version,
so an older event never overwrites a newer one, whatever order they arrive in. pep's event of a PEP approved or
returned by QA's action also writes the QA decision that asked for it, if the qa process that asked died before
writing it (services/qa/reviews.py, `finalise_pending`)."""

from __future__ import annotations

from services.qa.reviews import finalise_pending
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import PepOutcomesSubmitted, PepStatusChanged, TaskChanged
from shared.readmodels import ChildrenReadModel

CHILDREN = ChildrenReadModel("qa", extra=("year_group",))


async def _on_pep_status(ctx: MessageContext, data: PepStatusChanged) -> None:
    submitted_at = ctx.envelope.occurred_at if data.action == "submit" else None
    async with ctx.effect() as conn:
        if data.from_status == "submitted" and data.action in ("approve", "return") and data.by_user is not None:
            # pep took QA's decision: the decided review with this event, if the request that asked did not get
            # to write it (a second delivery, or one after the request wrote it, finds nothing pending). First,
            # before the PEP's row below: the request takes the review's lock, then reads that row.
            await finalise_pending(conn, data.pep_id, outcome=data.action, by_user=data.by_user)
        # The submission time survives later events (a return, an approval); a newer submission replaces it.
        await conn.execute(
            "INSERT INTO peps (id, child_id, la_id, setting_id, status, kind, term, academic_year, meeting_date, "
            "submitted_at, status_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
            "ON CONFLICT (id) DO UPDATE SET setting_id = $4, status = $5, kind = $6, term = $7, academic_year = $8, "
            "meeting_date = $9, status_version = $11 WHERE peps.status_version < $11",
            data.pep_id, data.child_id, data.la_id, data.setting_id, data.status, data.kind, data.term,
            data.academic_year, data.meeting_date, submitted_at, data.version)
        if submitted_at is not None:
            await conn.execute("UPDATE peps SET submitted_at = $2 WHERE id = $1 AND (submitted_at IS NULL OR "
                               "submitted_at < $2)", data.pep_id, submitted_at)


async def _on_task_changed(ctx: MessageContext, data: TaskChanged) -> None:
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO pep_tasks (id, pep_id, la_id, kind, status, due_date, version) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7) ON CONFLICT (id) DO UPDATE SET status = $5, due_date = $6, version = $7 "
            "WHERE pep_tasks.version < $7",
            data.task_id, data.pep_id, data.la_id, data.kind, data.status, data.due_date, data.version)


async def _on_outcomes(ctx: MessageContext, data: PepOutcomesSubmitted) -> None:
    at = ctx.envelope.occurred_at
    async with ctx.effect() as conn:
        # The latest submission's figures win; an older event arriving late changes nothing.
        kept = await conn.fetchval(
            "INSERT INTO pep_outcomes (pep_id, child_id, la_id, attended_sessions, possible_sessions, submitted_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pep_id) DO UPDATE SET attended_sessions = $4, "
            "possible_sessions = $5, submitted_at = $6 WHERE pep_outcomes.submitted_at < $6 RETURNING pep_id",
            data.pep_id, data.child_id, data.la_id, data.attended_sessions, data.possible_sessions, at)
        if kept is None:
            return
        await conn.execute("DELETE FROM pep_attainment WHERE pep_id = $1", data.pep_id)
        await conn.executemany(
            "INSERT INTO pep_attainment (pep_id, row_number, subject, compared_with_are, progress) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(data.pep_id, i, a.subject, a.compared_with_are, a.progress) for i, a in enumerate(data.attainment, 1)])


def subscriptions() -> list[Subscription]:
    return [CHILDREN.subscription(),
            subscribe("qa.peps", PepStatusChanged, _on_pep_status),
            subscribe("qa.tasks", TaskChanged, _on_task_changed),
            subscribe("qa.outcomes", PepOutcomesSubmitted, _on_outcomes)]
