"""Caseload trackers and alerts as the gateway exposes them (delegation answers): Overdue, Due soon, No PEP date,
Upcoming, Initial PEP late, Review after a change due, Awaiting QA too long."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["overdue", "due_soon", "no_pep_date", "upcoming", "initial_pep_late", "review_after_change",
                   "awaiting_qa"]
CATEGORIES: tuple[Category, ...] = ("overdue", "due_soon", "no_pep_date", "upcoming", "initial_pep_late",
                                    "review_after_change", "awaiting_qa")


class CaseloadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category | None = Field(default=None, description="Only the children in this tracker")
    la_id: uuid.UUID | None = None
    setting_id: uuid.UUID | None = None
    social_worker_id: uuid.UUID | None = None


class Alert(BaseModel):
    kind: Category
    clock: str | None = Field(default=None, description="The PEP clock behind it (initial_pep, review_after_change, "
                              "termly_review, post16_review, qa_review); null for a task, the DT's return or no date")
    reason: str = Field(description="Why, in words, with the rule that set the date")
    due: date | None = Field(default=None, description="The date it was (or is) due; null when nothing is dated")


class CaseloadItem(BaseModel):
    child_id: uuid.UUID
    child_name: str
    la_id: uuid.UUID
    setting_id: uuid.UUID | None
    social_worker_id: uuid.UUID | None
    social_worker_name: str | None
    pep_id: uuid.UUID | None = Field(description="The PEP under way, if any")
    pep_status: str | None
    meeting_date: date | None
    categories: list[Category]
    reasons: list[str] = Field(description="Why the child is overdue, in words, with the rule that set the date")
    alerts: list[Alert] = Field(default_factory=list, description="Every alert on the child, each with its reason "
                                "and the date it was due")


class Counts(BaseModel):
    """Children in each tracker (a child may be in several)."""

    overdue: int
    due_soon: int = 0
    no_pep_date: int
    upcoming: int
    initial_pep_late: int = 0
    review_after_change: int = 0
    awaiting_qa: int = 0
    children: int


class Breakdown(BaseModel):
    id: uuid.UUID | None = Field(description="The setting or social worker; null for none")
    name: str | None = None
    counts: Counts


class Caseload(BaseModel):
    today: date
    counts: Counts
    items: list[CaseloadItem]
    by_setting: list[Breakdown] | None = Field(description="For the Virtual School")
    by_social_worker: list[Breakdown] | None = Field(description="For the Virtual School")
