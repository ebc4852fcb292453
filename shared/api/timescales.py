"""An LA's timescales as the gateway exposes them: the rules, term dates and termly deadline dates, their history,
and a preview of the deadlines they give. Shared by the gateway and delegation; additive changes only in /api/v1.

The rules themselves (what each one counts from, and the defaults) are delegation's domain:
services/delegation/domain/timescales.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.api.operations import Operation, operation

Unit = Literal["working_days", "school_days", "weeks", "months"]
Placement = Literal["planned", "emergency"]
TermName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
# Far enough either way for any real term or meeting, near enough that a typo in the year is caught.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("Enter a date between 2000 and 2100")
    return value


Day = Annotated[date, AfterValidator(_in_range), Field(description="YYYY-MM-DD")]


class TimescaleRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1, le=100, description="How many units")
    unit: Unit = Field(description="working_days (Monday to Friday, not bank holidays), school_days (working days "
                       "in the LA's term periods, not INSET days), weeks or months (calendar weeks or months, "
                       "moved to the next working day)")


class TimescaleRules(BaseModel):
    """Each rule counts from an event: entering care for the initial PEP, the PEP meeting for the PEP's own steps,
    and for the PEP clocks a change of school or placement, the last PEP meeting (Post-16), the submission (QA) or
    a clock's due date (due soon, escalation). The clock rules came later: one left out keeps its current value."""

    model_config = ConfigDict(extra="forbid")
    initial_pep: TimescaleRule = Field(
        description="Initial PEP in place after entering care (default 20 working days)")
    initial_pep_emergency: TimescaleRule = Field(
        description="The same for an emergency placement (default 10 working days)")
    delegate: TimescaleRule = Field(
        description="Delegate to the Designated Teacher before the meeting (default 10 working days)")
    dt_return: TimescaleRule = Field(
        description="The Designated Teacher returns it after the meeting (default 10 working days; 5 and 7 are common)")
    vs_review: TimescaleRule = Field(description="Virtual School review after the meeting (default 4 weeks)")
    approver: TimescaleRule = Field(description="Approval after the meeting (default 6 weeks)")
    finalise: TimescaleRule = Field(description="The social worker finalises after the meeting (default 8 weeks)")
    review_after_change: TimescaleRule | None = Field(
        default=None, description="A PEP review after a change of school or placement (default 10 working days)")
    post16_review: TimescaleRule | None = Field(
        default=None, description="From the 16th birthday, a PEP review after the last one instead of termly ones "
        "(default 6 months)")
    qa_review: TimescaleRule | None = Field(
        default=None, description="The Virtual School's quality check after the PEP is submitted (default 10 working "
        "days)")
    due_soon: TimescaleRule | None = Field(
        default=None, description="A PEP deadline shows as due soon, and the people responsible are told, this long "
        "before it (default 5 working days)")
    escalate_after: TimescaleRule | None = Field(
        default=None, description="A PEP deadline still not met this long after it is escalated to the Virtual "
        "School (default 10 working days)")


class TermPeriod(BaseModel):
    """A stretch of school days; the gaps between periods are holidays and half-terms. A term's half-terms are
    consecutive periods with the same term name."""

    model_config = ConfigDict(extra="forbid")
    term: TermName = Field(description="e.g. 'Autumn 2026'")
    start: Day
    end: Day

    @model_validator(mode="after")
    def _ends_after_start(self) -> TermPeriod:
        if self.end < self.start:
            raise ValueError("The end must be on or after the start")
        if (self.end - self.start).days > 200:
            raise ValueError("A term period is at most 200 days: give each term, or half-term, its own period")
        return self


class TermlyDeadline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: TermName = Field(description="A term named in term_periods")
    due: Day


class TimescalesIn(BaseModel):
    """The LA's whole timescale configuration; saved as its next version."""

    model_config = ConfigDict(extra="forbid")
    based_on_version: int = Field(ge=0, description="The version these changes start from (0: the defaults); "
                                  "409 if someone has saved since")
    rules: TimescaleRules
    term_periods: list[TermPeriod] = Field(default=[], max_length=60, description="In order, not overlapping")
    inset_days: list[Day] = Field(default=[], max_length=100, description="Days in term with no school")
    termly_deadlines: list[TermlyDeadline] = Field(default=[], max_length=30)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = Field(
        default=None, description="Why it changed, for the history")

    @field_validator("term_periods")
    @classmethod
    def _in_order(cls, periods: list[TermPeriod]) -> list[TermPeriod]:
        seen: set[str] = set()
        for number, (before, after) in enumerate(zip(periods, periods[1:], strict=False), start=2):
            if after.start <= before.end:
                raise ValueError(f"Period {number} ({after.term}) must start after period {number - 1} ends: "
                                 "term periods go in date order and must not overlap")
        for number, period in enumerate(periods, start=1):
            if period.term in seen and periods[number - 2].term != period.term:
                raise ValueError(f"Period {number}: the periods of {period.term} must be next to each other")
            seen.add(period.term)
        return periods

    @field_validator("inset_days")
    @classmethod
    def _inset_days(cls, days: list[date]) -> list[date]:
        return sorted(set(days))

    @field_validator("termly_deadlines")
    @classmethod
    def _known_terms(cls, deadlines: list[TermlyDeadline], info: ValidationInfo) -> list[TermlyDeadline]:
        names = [d.term for d in deadlines]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"{name} has more than one deadline date")
        periods = info.data.get("term_periods")
        if periods is not None:  # None: the periods are wrong already, and that is the error to fix first
            terms = {p.term for p in periods}
            for name in names:
                if name not in terms:
                    raise ValueError(f"{name} is not a term in term_periods")
        return deadlines


class TimescaleRuleOut(TimescaleRule):
    label: str
    counts: str = Field(description="What it counts from: 'before the meeting', 'after entering care', 'after a "
                        "change of school or placement', 'before a PEP deadline'")
    version: int = Field(description="The configuration version that set this rule (0: the default)")


class TimescaleRulesOut(BaseModel):
    initial_pep: TimescaleRuleOut
    initial_pep_emergency: TimescaleRuleOut
    delegate: TimescaleRuleOut
    dt_return: TimescaleRuleOut
    vs_review: TimescaleRuleOut
    approver: TimescaleRuleOut
    finalise: TimescaleRuleOut
    review_after_change: TimescaleRuleOut
    post16_review: TimescaleRuleOut
    qa_review: TimescaleRuleOut
    due_soon: TimescaleRuleOut
    escalate_after: TimescaleRuleOut


class TimescalesOut(BaseModel):
    la_id: uuid.UUID
    version: int = Field(description="0: the LA has not changed the defaults")
    changed_at: datetime | None
    changed_by: str | None = Field(description="Who saved this version")
    rules: TimescaleRulesOut
    term_periods: list[TermPeriod]
    inset_days: list[date]
    termly_deadlines: list[TermlyDeadline]
    term_dates_version: int = Field(description="The version that last changed the term periods or INSET days")
    termly_deadlines_version: int


class TimescaleChange(BaseModel):
    field: str
    before: str
    after: str


class TimescalesVersion(BaseModel):
    version: int
    changed_at: datetime
    changed_by_id: uuid.UUID
    changed_by: str | None = Field(description="Their name, when known")
    note: str | None
    changes: list[TimescaleChange]


class DeadlinePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meeting_date: Day | None = None
    date_entered_care: Day | None = None
    placement: Placement = "planned"
    moved_on: Day | None = Field(default=None, description="The start date of a change of school or placement: "
                                 "the review after a change")
    submitted_on: Day | None = Field(default=None, description="The day a PEP was submitted: the Virtual School's "
                                     "quality check")


class DeadlineOut(BaseModel):
    key: str
    label: str
    due: date | None = Field(description="null when it cannot be worked out; the explanation says why")
    rule: str
    rule_version: int
    explanation: str


class DeadlinePreview(BaseModel):
    version: int = Field(description="The configuration version used")
    deadlines: list[DeadlineOut]


# ---- operations ------------------------------------------------------------------------------------


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="delegation", **options)


GET_TIMESCALES = _op("get_timescales", "get", "/organisations/{la_id}/timescales", "The LA's timescale rules, term "
                     "dates and termly deadline dates (its Virtual School)", response=TimescalesOut,
                     tags=("timescales",))
SET_TIMESCALES = _op("set_timescales", "put", "/organisations/{la_id}/timescales", "Change the LA's timescales (VS "
                     "admin): saved as the next version; 409 if someone saved since based_on_version",
                     body=TimescalesIn, response=TimescalesOut, tags=("timescales",))
TIMESCALES_HISTORY = _op("timescales_history", "get", "/organisations/{la_id}/timescales/history", "Every version of "
                         "the LA's timescales, newest first: who, when, what changed, why", response=TimescalesVersion,
                         many=True, tags=("timescales",))
PREVIEW_DEADLINES = _op("preview_deadlines", "post", "/organisations/{la_id}/timescales/preview", "The deadlines the "
                        "LA's timescales give for a meeting date, a date entered care, a change of school or "
                        "placement and/or a submission, each with the rule that set it", body=DeadlinePreviewIn,
                        response=DeadlinePreview, tags=("timescales",))
