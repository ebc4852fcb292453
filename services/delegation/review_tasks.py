"""The second reviewer's "Second QA review" task (two-level QA: Welfare Call's VS Head after the caseworker, Kent's
AH after the ESO). qa's event says a first reviewer approved a PEP and it waits for the second level
(qa.review.decided, outcome `reviewed`): the LA's approvers (any VS approver, or the VS admin) get one task, due by
the LA's approval rule from the PEP's meeting, with the first reviewer as its originator. The second level's
decision (approve, return) or any later review closes it; a PEP cancelled meanwhile cancels it with its other tasks.

Events may arrive in any order: qa numbers its review rows (review_id), and only the newest review event of a PEP
acts, so a late `reviewed` never reopens a task that the decision after it has closed."""

from __future__ import annotations

from datetime import date

from services.delegation import task_store as store
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import ReviewDecided

KIND = "second_review"
APPROVER = "vs_approver"  # and the VS admin (domain/tasks.py: who holds a role task)
PASSED = "The LA's date for approval had passed when the first review was done"


async def _on_review(ctx: MessageContext, data: ReviewDecided) -> None:
    if data.review_id is None:  # from before reviews were numbered: nothing to order it by
        return
    rid = ctx.envelope.correlation_id
    async with ctx.effect() as conn:
        newest = await conn.fetchval(
            "INSERT INTO qa_reviews (pep_id, review_id, outcome) VALUES ($1, $2, $3) ON CONFLICT (pep_id) DO UPDATE "
            "SET review_id = $2, outcome = $3 WHERE qa_reviews.review_id < $2 RETURNING true",
            data.pep_id, data.review_id, data.outcome)
        if not newest:
            return
        task = await conn.fetchrow("SELECT * FROM tasks WHERE pep_id = $1 AND kind = $2 AND status IN ('assigned', "
                                   "'in_progress', 'returned') FOR UPDATE", data.pep_id, KIND)
        if data.outcome != "reviewed":
            if task is not None:
                await store.move_task(conn, task, "qa_decided", "completed", None, data.by_user, rid)
            return
        if task is not None:
            return
        meeting = await conn.fetchval("SELECT meeting_date FROM peps WHERE id = $1", data.pep_id)
        due, rule = await store.due_by_rule(conn, data.la_id, meeting, "approver")
        if due is not None and due < date.today():
            due, rule = date.today(), PASSED
        await store.create_task(conn, kind=KIND, pep_id=data.pep_id, child_id=data.child_id, la_id=data.la_id,
                                setting_id=None, sections=[], assignee_user_id=None, assignee_role=APPROVER,
                                originator_id=data.by_user, due_date=due, due_rule=rule, note=None, feedback=None,
                                by=data.by_user, correlation_id=rid)


def subscriptions() -> list[Subscription]:
    return [subscribe("delegation.review_tasks", ReviewDecided, _on_review)]
