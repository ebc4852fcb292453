"""Delegation tasks as the gateway exposes them: request and response models shared by the gateway and
delegation. A task asks a person, or an education setting's Designated Teacher and permitted staff, to do
something on a PEP by a date. Additive changes only within /api/v1."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.api.caseload import Caseload, CaseloadQuery
from shared.api.operations import Operation, operation

TaskKind = Literal["complete_sections", "amend", "finalise", "approve_funding", "second_review"]
TaskStatus = Literal["assigned", "in_progress", "submitted", "retracted", "returned", "completed", "cancelled"]
Tray = Literal["current", "retracted", "submitted", "sent"]
OPEN_STATUSES = ("assigned", "in_progress", "returned")

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class DelegationIn(BaseModel):
    """Delegate sections of a PEP to the Designated Teacher of the child's current setting."""

    model_config = ConfigDict(extra="forbid")
    sections: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]] = Field(
        min_length=1, max_length=30, description="Keys of the PEP's sections the delegate is to complete")
    due_date: date | None = Field(default=None, description="When the delegate is to submit their contribution; "
                                  "left out, the LA's timescale for the DT's return from the meeting date sets it")
    note: Note | None = Field(default=None, description="A note to the delegate, shown with the task")


class RetractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class TaskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tray: Tray = "current"
    sort: Literal["due", "-due", "updated"] = "due"
    pep_id: uuid.UUID | None = None


class TaskEvent(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    reason: str | None
    by_user: uuid.UUID | None
    by_name: str | None
    at: datetime


class TaskFunding(BaseModel):
    """One PP+ request an approve_funding task asks the approver to decide: the PEP's target and its amount."""

    target: int = Field(description="The target's row among the PEP's current targets (1-based)")
    what: str = Field(description="The target, as the school wrote it")
    amount: str | None = Field(description="Pounds and pence asked for")
    funding_type: str | None = Field(default=None, description="The funding type in the template's words")
    decision: Literal["approved", "refused", "more_information"] | None = None


class Task(BaseModel):
    id: uuid.UUID
    kind: TaskKind
    status: TaskStatus
    pep_id: uuid.UUID | None = Field(description="The PEP; null only for an approve_funding task about a target "
                                     "raised between PEPs (action_target_id)")
    action_target_id: uuid.UUID | None = Field(default=None, description="approve_funding: the target raised "
                                               "between PEPs it is about, when it is not a PEP's")
    child_id: uuid.UUID
    child_name: str | None = Field(description="First name and family name, for those the task is for")
    la_id: uuid.UUID
    setting_id: uuid.UUID | None
    sections: list[str]
    assignee_user_id: uuid.UUID | None = Field(description="A person (finalise); null when it is for the setting")
    assignee_role: str | None = Field(default=None, description="Whoever holds this role at the LA (approve_funding: "
                                      "vs_approver)")
    originator_id: uuid.UUID | None
    originator_name: str | None
    due_date: date | None
    due_rule: str | None = Field(default=None, description="What set the due date, in words")
    overdue: bool
    note: str | None
    feedback: str | None = Field(description="What QA asked to be changed (an amend task)")
    created_at: datetime
    updated_at: datetime
    version: int
    can_retract: bool
    funding: list[TaskFunding] = Field(default_factory=list, description="approve_funding: the PEP's PP+ requests "
                                       "to decide")
    history: list[TaskEvent] | None = None


class TaskList(BaseModel):
    items: list[Task]
    counts: dict[str, int] = Field(description="How many tasks each tray holds")


class Deadline(BaseModel):
    key: str
    label: str
    due: date | None = Field(description="null when it cannot be worked out; the explanation says why")
    rule: str
    rule_version: int
    explanation: str


class PepDeadlines(BaseModel):
    meeting_date: date | None
    based_on: Literal["meeting", "last_meeting"] | None = Field(
        description="meeting: every step from the PEP's meeting; last_meeting: when the next meeting is due, from "
                    "the child's last finalised PEP; null: nothing to count from")
    deadlines: list[Deadline]


class TraySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tray_days: int = Field(ge=1, le=365, description="Days retracted and submitted tasks stay in the trays")


# ---- operations ------------------------------------------------------------------------------------


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="delegation", **options)


DELEGATE = _op("delegate", "post", "/peps/{pep_id}/delegations", "Delegate sections of a PEP to the DT of the child's "
               "setting, due by a date (the Virtual School or the child's social worker)", body=DelegationIn,
               response=Task, status=201, tags=("tasks",))
LIST_PEP_TASKS = _op("list_pep_tasks", "get", "/peps/{pep_id}/tasks", "A PEP's tasks, newest first", response=Task,
                     many=True, tags=("tasks",))
PEP_DEADLINES = _op("pep_deadlines", "get", "/peps/{pep_id}/deadlines", "A PEP's deadlines by the LA's timescales, "
                    "each with the rule that set it", response=PepDeadlines, tags=("tasks",))
LIST_TASKS = _op("list_tasks", "get", "/tasks", "My tray with the counts of every tray", query=TaskQuery,
                 response=TaskList, tags=("tasks",))
GET_TASK = _op("get_task", "get", "/tasks/{task_id}", "A task with its history", response=Task, tags=("tasks",))
RETRACT_TASK = _op("retract_task", "post", "/tasks/{task_id}/retract", "Take a delegated task back, saying why",
                   body=RetractIn, response=Task, tags=("tasks",))
GET_CASELOAD = _op("get_caseload", "get", "/caseload", "My caseload trackers and alerts: Overdue, Due soon, No PEP "
                   "date, Upcoming, Initial PEP late, Review after a change due, Awaiting QA too long, with counts, "
                   "the children in one (each alert with its reason and the date due) and, for the Virtual School, "
                   "counts by setting and by social worker",
                   query=CaseloadQuery, response=Caseload, tags=("tasks",))
GET_TRAY_SETTINGS = _op("get_tray_settings", "get", "/organisations/{la_id}/tray-settings", "How long retracted and "
                        "submitted tasks stay in the trays (the LA's Virtual School)", response=TraySettings,
                        tags=("tasks",))
SET_TRAY_SETTINGS = _op("set_tray_settings", "put", "/organisations/{la_id}/tray-settings", "Change it (the LA's VS "
                        "admin; 1 to 365 days)", body=TraySettings, response=TraySettings, tags=("tasks",))
