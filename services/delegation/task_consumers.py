"""Tasks follow pep: its lifecycle events move them on, a moved meeting moves rule-set due dates, and the
children read model says who the child's setting and social worker are. pep's events drive every step, so a
task can never disagree with the PEP it is about."""

from __future__ import annotations

from datetime import date

from services.delegation import task_store as store
from services.delegation.domain.tasks import RULE_OF_KIND, amend_due
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import PepMeetingChanged, PepStatusChanged
from shared.readmodels import ChildrenReadModel

# The clock facts (domain/clocks.py ChildFacts) are kept with the rest: migration 0020.
CHILDREN = ChildrenReadModel("delegation", extra=("in_care", "date_of_birth", "date_entered_care",
                                                  "entered_care_emergency", "moved_on", "move_kind"))
# pep's action when the school's contribution is in but the PEP waits for the social worker's part (pep's
# domain/lifecycle.py CONTRIBUTED).
SCHOOL_CONTRIBUTION = "submit_contribution"


async def _on_meeting_moved(ctx: MessageContext, data: PepMeetingChanged) -> None:
    """The meeting moved: open tasks whose date came from the LA's rules follow it (a date someone chose stays)."""
    if data.change == "cancelled":
        return
    async with ctx.effect() as conn:
        for task in await store.rescheduled_by_meeting(conn, data.pep_id):
            due, rule = await store.due_by_rule(conn, task["la_id"], data.meeting_date, RULE_OF_KIND[task["kind"]])
            if due is None or (due, rule) == (task["due_date"], task["due_rule"]):
                continue
            await store.reschedule(conn, task, due, rule, ctx.envelope.correlation_id)


async def _on_pep_status(ctx: MessageContext, data: PepStatusChanged) -> None:
    """The PEP moved on: the tasks follow. The school's contribution (`submit_contribution`: the PEP waits for the
    social worker's part; or `submit`: it went to QA) ends the school's task; returning gives the setting an amend
    task with the feedback; approval gives the social worker a finalise task; finalising or cancelling closes
    what is left."""
    rid = ctx.envelope.correlation_id
    async with ctx.effect() as conn:
        open_tasks = await store.open_tasks(conn, data.pep_id)
        if data.action in ("submit", SCHOOL_CONTRIBUTION):
            for t in open_tasks:
                if t["kind"] in ("complete_sections", "amend"):
                    await store.move_task(conn, t, "submit", "submitted", None, data.by_user, rid)
        elif data.action == "return":
            last = await store.last_contribution(conn, data.pep_id)
            child = await store.child(conn, data.child_id)
            setting = data.setting_id or (child["setting_id"] if child else None)
            due, rule = amend_due(*await store.due_by_rule(conn, data.la_id, data.meeting_date, "dt_return"),
                                  date.today())
            if setting is not None:
                await store.create_task(conn, kind="amend", pep_id=data.pep_id, child_id=data.child_id,
                                        la_id=data.la_id, setting_id=setting,
                                        sections=list(last["sections"]) if last else [], assignee_user_id=None,
                                        originator_id=data.by_user, due_date=due, due_rule=rule, note=None,
                                        feedback=data.reason, by=data.by_user, correlation_id=rid)
        elif data.action == "approve":
            child = await store.child(conn, data.child_id)
            if child is not None and child["social_worker_id"] is not None:
                due, rule = await store.due_by_rule(conn, data.la_id, data.meeting_date, "finalise")
                await store.create_task(conn, kind="finalise", pep_id=data.pep_id, child_id=data.child_id,
                                        la_id=data.la_id, setting_id=None, sections=[],
                                        assignee_user_id=child["social_worker_id"], originator_id=data.by_user,
                                        due_date=due, due_rule=rule, note=None, feedback=None, by=data.by_user,
                                        correlation_id=rid)
        elif data.action == "finalise":
            for t in open_tasks:
                await store.move_task(conn, t, "finalise", "completed", None, data.by_user, rid)
            for t in await store.submitted_tasks(conn, data.pep_id):
                await store.move_task(conn, t, "finalise", "completed", None, data.by_user, rid)
        elif data.action == "cancel":
            for t in open_tasks:
                await store.move_task(conn, t, "cancel", "cancelled", data.reason, data.by_user, rid)


def subscriptions() -> list[Subscription]:
    return [CHILDREN.subscription(),
            subscribe("delegation.task_dates", PepMeetingChanged, _on_meeting_moved),
            subscribe("delegation.pep_status", PepStatusChanged, _on_pep_status)]
