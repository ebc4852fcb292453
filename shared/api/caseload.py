"""Caseload trackers as the gateway exposes them (delegation answers): Overdue, No PEP date, Upcoming."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["overdue", "no_pep_date", "upcoming"]


class CaseloadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category | None = Field(default=None, description="Only the children in this tracker")
    la_id: uuid.UUID | None = None
    setting_id: uuid.UUID | None = None
    social_worker_id: uuid.UUID | None = None


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


class Counts(BaseModel):
    overdue: int
    no_pep_date: int
    upcoming: int
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
