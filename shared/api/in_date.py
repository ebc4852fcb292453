"""In date: the share of an LA's children in care whose PEP is in date (none of their PEP clocks overdue), for the
LA, each setting, social worker and QA caseworker, with its trend by term, and the children behind each figure with
why each is not in date. delegation answers (it keeps the clocks: services/delegation/domain/clocks.py); the LA's
Virtual School only, anyone else gets 404. Additive changes only in /api/v1."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.operations import operation

Group = Literal["la", "setting", "social_worker", "caseworker"]


class InDateFigure(BaseModel):
    children: int = Field(description="Children in care counted")
    in_date: int = Field(description="Of those, with a PEP in date")
    percent: float | None = Field(description="in_date of children, to one decimal place; null with no children")


class InDateGroup(InDateFigure):
    id: uuid.UUID | None = Field(description="The setting, social worker or caseworker; null: the children with none")
    name: str | None = Field(default=None, description="The person's name where delegation knows it (settings: "
                             "identity names them)")


class InDateTerm(InDateFigure):
    term: str = Field(description="The LA's term, as its term dates name it; 'Today' outside term time")
    as_of: date = Field(description="The day the figure is counted on: the term's last day, or today for the "
                        "current term")
    current: bool = Field(description="The term today falls in (counted as of today)")


class InDate(InDateFigure):
    la_id: uuid.UUID
    today: date = Field(description="The UK date the figure is counted on")
    by_setting: list[InDateGroup]
    by_social_worker: list[InDateGroup]
    by_caseworker: list[InDateGroup] = Field(description="By the QA caseworker who reviewed the child's latest "
                                             "reviewed PEP (the first level of QA)")
    trend: list[InDateTerm] = Field(description="As of the end of each of the LA's terms this academic year so "
                                    "far, and today for the current term; empty while the LA has no term dates. "
                                    "Counts the children in care now who were in care on that day")
    trend_note: str | None = Field(default=None, description="Why the trend is empty or short, in words")


class InDateChildrenQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: Group = Field(default="la", description="Whose children: the LA's (all), or one setting's, social "
                         "worker's or caseworker's")
    id: uuid.UUID | None = Field(default=None, description="The setting, social worker or caseworker; left out with "
                                 "a group other than 'la': the children with none")
    not_in_date: bool = Field(default=False, description="Only the children whose PEP is not in date")


class InDateReason(BaseModel):
    clock: str = Field(description="initial_pep | review_after_change | termly_review | post16_review")
    label: str
    due: date | None
    explanation: str = Field(description="Which rule set the due date, and how")


class InDateChild(BaseModel):
    child_id: uuid.UUID
    child_name: str
    setting_id: uuid.UUID | None
    social_worker_id: uuid.UUID | None
    social_worker_name: str | None
    caseworker_id: uuid.UUID | None
    caseworker_name: str | None
    in_date: bool
    reasons: list[InDateReason] = Field(description="Each overdue clock: why the PEP is not in date (empty when "
                                        "it is)")


class InDateChildren(InDateFigure):
    la_id: uuid.UUID
    today: date
    group: Group
    id: uuid.UUID | None
    name: str | None = Field(default=None, description="The person's name where delegation knows it")
    items: list[InDateChild] = Field(description="Those not in date first, then by name")


GET_IN_DATE = operation(
    "get_in_date", "get", "/organisations/{la_id}/in-date", "The percentage of the LA's children in care with a PEP "
    "in date, for the LA, by setting, social worker and QA caseworker, and its trend by term (the LA's Virtual "
    "School)", service="delegation", response=InDate, tags=("tasks",))
LIST_IN_DATE_CHILDREN = operation(
    "list_in_date_children", "get", "/organisations/{la_id}/in-date/children", "The children behind one in-date "
    "figure, with why each is not in date (the LA's Virtual School)", service="delegation",
    query=InDateChildrenQuery, response=InDateChildren, tags=("tasks",))
