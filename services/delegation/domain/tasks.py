"""Tasks: the rules, without I/O. Who reaches a task and how, who may retract it, which tray it sits in, and
which of the LA's timescale rules sets each kind's due date.

A task is read as a mapping of its row (an asyncpg record or a dict): `assignee_user_id`, `setting_id`,
`child_id`, `originator_id`, `la_id`, `kind`, `status`, `updated_at`, and `assignee_role` where it has one.

Kinds: complete_sections (the school's part), amend (after QA returned the PEP), finalise (the social worker's),
approve_funding (the LA's approvers decide the PEP's Virtual School PP+ requests: services/delegation/funding_tasks).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from services.delegation.domain.timescales import TermDatesMissing, Timescales, deadlines
from shared.api.tasks import OPEN_STATUSES
from shared.authz import roles_at
from shared.internal_auth import Claims

Task = Mapping[str, Any]
VIRTUAL_SCHOOL = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})
DELEGATORS = ("virtual_school", "social_worker")  # how the caller reaches the child (pep's word)
PEP_OPEN = ("created", "in_progress", "returned")
TRAY_DAYS = 30  # how long retracted and submitted tasks stay in those trays, unless the LA says otherwise
MAX_TRAY_DAYS = 365
TRAYS = ("current", "retracted", "submitted", "sent")
RULE_OF_KIND = {"complete_sections": "dt_return", "amend": "dt_return", "finalise": "finalise",
                "approve_funding": "approver", "second_review": "approver"}
# Two-level QA's second review (services/delegation/review_tasks.py): any VS approver, or the VS admin.
SECOND_REVIEWERS = frozenset({"vs_approver", "vs_admin"})
CHOSEN = "Chosen when the PEP was delegated"  # a due date a person chose does not follow the meeting
RETURN_PASSED = "The Designated Teacher's return date had passed when QA returned it"


def _staff_may_see(claims: Claims, setting_id: str, child_id: str) -> bool:
    for m in claims.memberships:
        if m.organisation_id != setting_id:
            continue
        if m.role == "designated_teacher":
            return True
        if m.role == "setting_staff" and (m.children is None or child_id in m.children):
            return True
    return False


def reach(claims: Claims, task: Task) -> str | None:
    """How the caller reaches this task: delegate (it is theirs to do), originator, virtual_school; or None."""
    me = claims.sub
    if task["assignee_user_id"] is not None and str(task["assignee_user_id"]) == me:
        return "delegate"
    if task["kind"] == "second_review":  # never the first reviewer's to do: they see it as theirs sent
        if task["originator_id"] is not None and str(task["originator_id"]) == me:
            return "originator"
        if roles_at(claims, str(task["la_id"])) & SECOND_REVIEWERS:
            return "delegate"
    role = task.get("assignee_role")
    if role is not None and role in roles_at(claims, str(task["la_id"])):
        return "delegate"  # a task for a role at the LA: everyone holding it there has it to do
    if task["assignee_user_id"] is None and task["setting_id"] is not None \
            and _staff_may_see(claims, str(task["setting_id"]), str(task["child_id"])):
        return "delegate"
    if task["originator_id"] is not None and str(task["originator_id"]) == me:
        return "originator"
    if roles_at(claims, str(task["la_id"])) & VIRTUAL_SCHOOL:
        return "virtual_school"
    return None


def via(claims: Claims, task: Task) -> str | None:
    """How the caller reaches the task's child, in pep's words (AccessVia), as far as the task shows it: for
    shared.authz.sees_qa, which decides who reads QA's feedback on an amend task."""
    roles = roles_at(claims, str(task["la_id"]))
    if roles & VIRTUAL_SCHOOL:
        return "virtual_school"
    if task["setting_id"] is not None:
        held = {m.role for m in claims.memberships if m.organisation_id == str(task["setting_id"])}
        if "designated_teacher" in held:
            return "designated_teacher"
        if "setting_staff" in held and _staff_may_see(claims, str(task["setting_id"]), str(task["child_id"])):
            return "setting_staff"
    me = claims.sub
    mine = me in (str(task["assignee_user_id"]), str(task["originator_id"]))
    if mine and "social_worker" in roles:  # a finalise task's social worker, or who delegated the PEP
        return "social_worker"
    return None


def may_retract(claims: Claims, task: Task) -> bool:
    return task["kind"] == "complete_sections" and task["status"] in OPEN_STATUSES \
        and reach(claims, task) in ("originator", "virtual_school")


def is_overdue(task: Task, today: date) -> bool:
    return task["due_date"] is not None and task["due_date"] < today and task["status"] in OPEN_STATUSES


def tray_of(task: Task, how: str | None, me: str, now: datetime, days: Mapping[uuid.UUID, int]) -> str | None:
    """Which of the caller's trays the task sits in (None: none of them). `days`: each LA's tray days."""
    since = now - timedelta(days=days.get(task["la_id"], TRAY_DAYS))
    if how == "delegate":
        if task["status"] in OPEN_STATUSES:
            return "current"
        if task["updated_at"] >= since:
            return {"retracted": "retracted", "submitted": "submitted", "completed": "submitted"}.get(task["status"])
        return None
    if task["originator_id"] is not None and str(task["originator_id"]) == me and (
            task["status"] in OPEN_STATUSES or task["updated_at"] >= since):
        return "sent"
    return None


def sort_tray(tasks: list[Any], sort: str, today: date) -> list[Any]:
    """`updated`: latest change first; `due` / `-due`: by due date (undated last, or first when reversed)."""
    if sort == "updated":
        return sorted(tasks, key=lambda t: t["updated_at"], reverse=True)
    return sorted(tasks, key=lambda t: (t["due_date"] is None, t["due_date"] or today), reverse=sort == "-due")


def fill_trays(claims: Claims, tasks: Iterable[Any], tray: str, now: datetime,
               days: Mapping[uuid.UUID, int]) -> tuple[list[Any], dict[str, int]]:
    """The tasks in `tray` and the count of each of the caller's trays."""
    me = claims.sub
    counts = dict.fromkeys(TRAYS, 0)
    chosen = []
    for task in tasks:
        found = tray_of(task, reach(claims, task), me, now, days)
        if found is None:
            continue
        counts[found] += 1
        if found == tray:
            chosen.append(task)
    return chosen, counts


def due_from_rule(config: Timescales, meeting: date | None, rule: str) -> tuple[date | None, str | None]:
    """The due date the LA's rule gives from the meeting date, with the rule in words; (None, None) without a
    meeting date or when the LA's term dates do not reach far enough."""
    if meeting is None:
        return None, None
    try:
        deadline = deadlines(config, meeting=meeting)[rule]
    except TermDatesMissing:
        return None, None
    return deadline.due, deadline.explanation if deadline.due else None


def amend_due(due: date | None, rule: str | None, today: date) -> tuple[date | None, str | None]:
    """A returned PEP's amendment is due by the DT's return date, or today once that date has passed."""
    if due is not None and due < today:
        return today, RETURN_PASSED
    return due, rule
