"""A child's PEP clocks as the gateway exposes them (delegation answers from its read models and the LA's
timescales): each statutory deadline running for the child, when it is due, whether it is met, and the rule that
set it. The clocks themselves: services/delegation/domain/clocks.py."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api.operations import Operation, operation

ClockKey = Literal["initial_pep", "review_after_change", "termly_review", "post16_review", "qa_review"]
ClockState = Literal["met", "open", "due_soon", "overdue"]


class ChildClock(BaseModel):
    key: ClockKey
    label: str = Field(description="As a person reads it: 'Initial PEP', 'Review after a change of school'")
    due: date | None = Field(description="null when it cannot be dated (the explanation says why, e.g. the LA has "
                             "no termly deadline date for the term)")
    state: ClockState = Field(description="met; open; due_soon (within the LA's due-soon rule of the date); "
                              "overdue (past the date and not met)")
    explanation: str = Field(description="Which rule set the date and how, in words")
    met_on: date | None = Field(default=None, description="The day of the meeting (or QA check) that met it")
    pep_id: uuid.UUID | None = Field(default=None, description="The PEP that met it, or the one under way")
    booked_late: bool = Field(default=False, description="Termly review: the PEP's meeting is (or was) after the "
                              "term's deadline")
    term: str | None = Field(default=None, description="Termly review: the term whose deadline it is")
    due_soon_from: date | None = Field(default=None, description="The first day it shows as due soon")
    escalates_on: date | None = Field(default=None, description="The day the Virtual School is told if it is still "
                                      "not met")


class ChildClocks(BaseModel):
    child_id: uuid.UUID
    today: date = Field(description="The day the states are for (the service's clock, UK date)")
    in_care: bool
    in_date: bool = Field(description="In care and none of the child's PEP clocks (all but the QA check) overdue")
    timescales_version: int = Field(description="The LA's timescales version used (0: the defaults)")
    clocks: list[ChildClock]


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="delegation", **options)


GET_CHILD_CLOCKS = _op("get_child_clocks", "get", "/children/{child_id}/clocks", "The child's PEP clocks: initial "
                       "PEP, review after a change, termly or Post-16 review, QA; each with its due date, state and "
                       "the rule that set it (anyone who works with the child; others 404)", response=ChildClocks,
                       tags=("children",))
