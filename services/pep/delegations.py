"""Which sections of a PEP are delegated, from delegation's task events: while a task to complete sections is
open, only the delegate (the setting's DT and permitted staff) writes those sections; whoever delegated them
reads them. Retracting, submitting or cancelling the task gives them back."""

from __future__ import annotations

import uuid

import asyncpg

from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import TaskChanged

OPEN = ("assigned", "in_progress", "returned")


async def delegated_sections(conn: asyncpg.Connection, pep_id: uuid.UUID) -> frozenset[str]:
    rows = await conn.fetch("SELECT sections FROM delegated_sections WHERE pep_id = $1 AND open", pep_id)
    return frozenset(key for r in rows for key in r["sections"])


async def _on_task_changed(ctx: MessageContext, data: TaskChanged) -> None:
    if data.kind not in ("complete_sections", "amend"):
        return  # a finalise task holds no sections; recorded as seen by the consumer
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO delegated_sections (task_id, pep_id, setting_id, sections, open, version) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (task_id) DO UPDATE SET sections = $4, open = $5, "
            "version = $6 WHERE delegated_sections.version < $6",
            data.task_id, data.pep_id, data.setting_id, data.sections, data.status in OPEN, data.version)


def subscription() -> Subscription:
    return subscribe("pep.delegations", TaskChanged, _on_task_changed)
