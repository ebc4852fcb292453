"""The approver's "Approve funding" task (Kent's VSK Approval): a submitted PEP whose targets ask for the Virtual
School's PP+ (pep.funding.requested; pep sends only those) puts one task in the tray of the LA's approvers, naming
the child and each target with its amount, due by the LA's approval rule from the PEP's meeting and reminded like
any task. qa's decisions (qa.funding.decided) are recorded against each target; once none of the PEP's requests is
waiting, the task is complete. A resubmission that asks again opens a new task.

A target raised between PEPs (Kent's "Action Plan and Targets outside of PEP") goes the same route: its request
(pep_id None, action_target_id naming it) gives the approvers a task about the child and that target, with no PEP
and no meeting to be due from, completed when qa decides it.

Events may arrive in any order: a request waits again only when it was asked after its last decision, so a
decision delivered before its request still counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg

from services.delegation import task_store as store
from shared.api.tasks import OPEN_STATUSES, TaskFunding
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import FundingDecided, FundingRequested

KIND = "approve_funding"
APPROVER = "vs_approver"
PASSED = "The LA's date for approval had passed when the request arrived"


def _amount(raw: str | None) -> Decimal | None:
    try:
        return Decimal(raw) if raw else None
    except InvalidOperation:
        return None


async def _open_task(conn: asyncpg.Connection, pep_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tasks WHERE pep_id = $1 AND kind = $2 AND status = ANY($3::text[]) "
                               "FOR UPDATE", pep_id, KIND, list(OPEN_STATUSES))


async def _open_target_task(conn: asyncpg.Connection, target_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tasks WHERE action_target_id = $1 AND kind = $2 "
                               "AND status = ANY($3::text[]) FOR UPDATE", target_id, KIND, list(OPEN_STATUSES))


async def _on_target_requested(ctx: MessageContext, data: FundingRequested, target_id: uuid.UUID) -> None:
    """A target raised between PEPs asks once; a decision heard first leaves nothing waiting."""
    at = ctx.envelope.occurred_at
    async with ctx.effect() as conn:
        waiting = await conn.fetchval(
            "INSERT INTO funding_requests (pep_id, action_target_id, target, child_id, la_id, what, amount, "
            "funding_type, requested_at) VALUES (NULL, $1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT "
            "(action_target_id) WHERE action_target_id IS NOT NULL DO UPDATE SET what = $5, amount = $6, "
            "funding_type = $7, requested_at = $8 WHERE funding_requests.requested_at < $8 RETURNING decision IS NULL",
            target_id, data.target, data.child_id, data.la_id, data.description, _amount(data.amount),
            data.funding_type_label or data.funding_type, at)
        if not waiting or await _open_target_task(conn, target_id) is not None:
            return
        await store.create_task(conn, kind=KIND, pep_id=None, action_target_id=target_id, child_id=data.child_id,
                                la_id=data.la_id, setting_id=None, sections=[], assignee_user_id=None,
                                assignee_role=APPROVER, originator_id=None, due_date=None, due_rule=None, note=None,
                                feedback=None, by=None, correlation_id=ctx.envelope.correlation_id)


async def _on_target_decided(ctx: MessageContext, data: FundingDecided, target_id: uuid.UUID) -> None:
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO funding_requests (pep_id, action_target_id, target, child_id, la_id, what, requested_at, "
            "decision, decided_at) VALUES (NULL, $1, $2, $3, $4, '', '-infinity', $5, $6) ON CONFLICT "
            "(action_target_id) WHERE action_target_id IS NOT NULL DO UPDATE SET decision = $5, decided_at = $6 "
            "WHERE funding_requests.decided_at IS NULL OR funding_requests.decided_at < $6",
            target_id, data.target, data.child_id, data.la_id, data.decision, ctx.envelope.occurred_at)
        task = await _open_target_task(conn, target_id)
        if task is not None:
            await store.move_task(conn, task, "decide", "completed", None, data.decided_by,
                                  ctx.envelope.correlation_id)


async def _on_requested(ctx: MessageContext, data: FundingRequested) -> None:
    if data.pep_id is None:  # a target raised between PEPs: a task about the child and that target
        if data.action_target_id is not None:
            await _on_target_requested(ctx, data, data.action_target_id)
        return
    at = ctx.envelope.occurred_at
    rid = ctx.envelope.correlation_id
    async with ctx.effect() as conn:
        waiting = await conn.fetchval(
            "INSERT INTO funding_requests (pep_id, target, child_id, la_id, what, amount, funding_type, requested_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (pep_id, target) DO UPDATE SET what = $5, "
            "amount = $6, funding_type = $7, requested_at = $8, decision = CASE WHEN funding_requests.decision = "
            "'more_information' AND funding_requests.decided_at < $8 THEN NULL ELSE funding_requests.decision END "
            "WHERE funding_requests.requested_at < $8 RETURNING decision IS NULL",
            data.pep_id, data.target, data.child_id, data.la_id, data.description, _amount(data.amount),
            data.funding_type_label or data.funding_type, at)
        if not waiting or await _open_task(conn, data.pep_id) is not None:
            return
        due, rule = await store.due_by_rule(conn, data.la_id, data.meeting_date, "approver")
        today = date.today()
        if due is not None and due < today:
            due, rule = today, PASSED
        await store.create_task(conn, kind=KIND, pep_id=data.pep_id, child_id=data.child_id, la_id=data.la_id,
                                setting_id=None, sections=[], assignee_user_id=None, assignee_role=APPROVER,
                                originator_id=None, due_date=due, due_rule=rule, note=None, feedback=None, by=None,
                                correlation_id=rid)


async def _on_decided(ctx: MessageContext, data: FundingDecided) -> None:
    if data.pep_id is None:
        if data.action_target_id is not None:
            await _on_target_decided(ctx, data, data.action_target_id)
        return
    at = ctx.envelope.occurred_at
    async with ctx.effect() as conn:
        # A decision delivered before its request is kept (the request, arriving later, then finds it decided).
        await conn.execute(
            "INSERT INTO funding_requests (pep_id, target, child_id, la_id, what, requested_at, decision, "
            "decided_at) VALUES ($1, $2, $3, $4, '', '-infinity', $5, $6) ON CONFLICT (pep_id, target) DO UPDATE "
            "SET decision = $5, decided_at = $6 WHERE funding_requests.decided_at IS NULL "
            "OR funding_requests.decided_at < $6",
            data.pep_id, data.target, data.child_id, data.la_id, data.decision, at)
        task = await _open_task(conn, data.pep_id)
        if task is None:
            return
        if await conn.fetchval("SELECT 1 FROM funding_requests WHERE pep_id = $1 AND decision IS NULL",
                               data.pep_id):
            return
        # The decider of the last request waiting completes it: the task's history names them.
        await store.move_task(conn, task, "decide", "completed", None, data.decided_by, ctx.envelope.correlation_id)


def task_funding(r: Mapping[str, Any]) -> TaskFunding:
    """One PP+ request as a task shows it: a row of funding_requests, or an item of task_store.TASK_FUNDING_SQL's
    array (its amount as text)."""
    amount = None if r["amount"] is None else f"{Decimal(r['amount']):.2f}"
    return TaskFunding(target=r["target"], what=r["what"], amount=amount, funding_type=r["funding_type"],
                       decision=r["decision"])


async def funding_of(conn: asyncpg.Connection, about: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[TaskFunding]]:
    """The PP+ requests of these PEPs or targets raised between PEPs (by the id a task is about: its PEP's, else
    its target's), target by target, for their approve_funding tasks."""
    found: dict[uuid.UUID, list[TaskFunding]] = {}
    for r in await conn.fetch("SELECT *, coalesce(pep_id, action_target_id) AS about FROM funding_requests "
                              "WHERE pep_id = ANY($1::uuid[]) OR action_target_id = ANY($1::uuid[]) "
                              "ORDER BY about, target",
                              list(set(about))):
        found.setdefault(r["about"], []).append(task_funding(r))
    return found


def subscriptions() -> list[Subscription]:
    return [subscribe("delegation.funding_requests", FundingRequested, _on_requested),
            subscribe("delegation.funding_decisions", FundingDecided, _on_decided)]
