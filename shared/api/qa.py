"""Quality assurance and PP+ funding as the gateway exposes them: request and response models shared by the
gateway, qa and the portal. Additive changes only within /api/v1."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.api.operations import Operation, operation

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Feedback = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Money = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,8}(\.\d{1,2})?$")]
FundingStatus = Literal["pending", "approved", "refused", "more_information"]
# The funding types the Virtual School's approver decides (Kent's "VSK Approval"): a target of one of these goes to
# the PP+ queue and the approver's tray. Every other type (school funding, high needs, the automatic termly
# payment) says who pays from their own budget: it is recorded in the PEP, not queued.
VIRTUAL_SCHOOL_FUNDING = frozenset({"vs_pp_plus"})


# ---- frameworks ------------------------------------------------------------------------------------------------


class GradeOut(BaseModel):
    key: str
    label: str
    description: str | None = None
    awarded_only: bool = False


class AreaOut(BaseModel):
    key: str
    title: str
    descriptors: dict[str, str]


class OverallOut(BaseModel):
    kind: str
    description: str = ""
    descriptors: dict[str, str] = {}


class FrameworkOut(BaseModel):
    key: str
    name: str
    source: str = ""
    scale: list[GradeOut]
    area_scale: list[GradeOut] | None = None
    not_applicable: bool = False
    overall: OverallOut
    areas: list[AreaOut]
    gold_within_working_days: int | None = Field(default=None, description="Gold: Green and submitted within this "
                                                 "many working days of the meeting (None: the framework has no Gold)")
    approvable: list[str] | None = Field(default=None, description="The overall grades a PEP may be approved with; "
                                         "any other goes back to the school (None: any grade)")


class FrameworkChoice(BaseModel):
    key: str
    name: str


class LaQaFramework(BaseModel):
    la_id: uuid.UUID
    framework: FrameworkOut
    available: list[FrameworkChoice]
    changed_at: datetime | None = None
    two_level: bool = Field(default=False, description="Two-level QA: a first reviewer's approval waits for a VS "
                            "approver's or administrator's decision before the PEP is approved")


class FrameworkChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    framework: Key | None = Field(default=None, description="The key of one of the available frameworks (left "
                                  "out: unchanged)")
    two_level: bool | None = Field(default=None, description="Turn two-level QA on or off (left out: unchanged)")


# ---- reviews ---------------------------------------------------------------------------------------------------


class AreaRatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: Key | None = None
    feedback: Feedback | None = None


class ReviewDraftIn(BaseModel):
    """A caseworker's ratings so far: a grade and feedback per area (by key), then overall."""

    model_config = ConfigDict(extra="forbid")
    areas: dict[Key, AreaRatingIn] = Field(default_factory=dict, max_length=60)
    overall_grade: Key | None = None
    overall_feedback: Feedback | None = None


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["approve", "return"]
    reason: Feedback | None = Field(default=None, description="Why it goes back to the school (needed to return)")
    overall_grade: Key | None = Field(default=None, description="The second level only: the overall grade it "
                                      "approves with, when it changes the first reviewer's")
    note: Feedback | None = Field(default=None, description="The second level only: a note kept with the decision")


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overall_grade: Key = Field(description="The overall grade confirmed, or changed to")
    note: Feedback | None = None


class AreaRatingOut(BaseModel):
    key: str
    title: str
    grade: str | None = None
    grade_label: str | None = None
    feedback: str | None = None


class ReviewOut(BaseModel):
    id: int
    stage: Literal["draft", "reviewed", "decided", "confirmed"] = Field(
        description="reviewed: the first reviewer approved it and it waits for the second level (two-level QA)")
    framework_key: str
    areas: list[AreaRatingOut]
    overall_grade: str | None = None
    overall_label: str | None = None
    awarded_grade: str | None = Field(default=None, description="What the PEP shows: Gold for a Green PEP "
                                      "submitted within the framework's working days of its meeting")
    awarded_label: str | None = None
    overall_feedback: str | None = None
    outcome: Literal["approve", "return"] | None = None
    reason: str | None = None
    note: str | None = None
    meeting_date: date | None = None
    submitted_at: datetime | None = None
    by_user: uuid.UUID | None = None
    by_name: str | None = None
    at: datetime


class PepReview(BaseModel):
    pep_id: uuid.UUID
    child_id: uuid.UUID
    child_name: str | None = None
    status: str
    meeting_date: date | None = None
    submitted_at: datetime | None = None
    framework: FrameworkOut
    current: ReviewOut | None = Field(default=None, description="The review of the latest submission")
    earlier: list[ReviewOut] = Field(default_factory=list, description="Every earlier review, newest first")
    can_review: bool = False
    can_decide: bool = False
    can_confirm: bool = False
    two_level: bool = Field(default=False, description="The LA's QA has a second level")
    waiting_for: Literal["first_review", "second_review"] | None = Field(
        default=None, description="Which level of QA the PEP is waiting for (None: it is not waiting for QA)")
    first_review: ReviewOut | None = Field(default=None, description="Two-level QA: the first reviewer's approval "
                                           "of the latest submission")
    can_second_review: bool = Field(default=False, description="The caller may make the second-level decision")


class QueueItem(BaseModel):
    pep_id: uuid.UUID
    child_id: uuid.UUID
    child_name: str | None = None
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    kind: str
    term: str
    academic_year: str
    meeting_date: date | None = None
    submitted_at: datetime
    draft_grade: str | None = None
    draft_label: str | None = None
    waiting_for: Literal["first_review", "second_review"] = "first_review"


class Queue(BaseModel):
    items: list[QueueItem]


class PepRating(BaseModel):
    """A PEP's QA rating as pep keeps it from qa's decisions, in the LA framework's words."""

    pep_id: uuid.UUID
    child_id: uuid.UUID
    child_name: str | None = None
    kind: str
    term: str
    academic_year: str
    status: str = Field(description="The PEP's status")
    grade: str | None = Field(default=None, description="The grade the PEP shows (Gold where awarded)")
    grade_label: str | None = None
    outcome: Literal["approve", "return", "confirm"] = Field(description="The decision that gave it: approved, "
                                                             "returned to the school, or a rating confirmed")
    decided_at: datetime


class PepRatings(BaseModel):
    items: list[PepRating]


# ---- PP+ funding -----------------------------------------------------------------------------------------------


class FundingDecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "refuse", "more_information"]
    amount: Money | None = Field(default=None, description="Pounds and pence approved, at most what was asked "
                                 "(approve; left out: what was asked)")
    reason: Feedback | None = Field(default=None, description="Why (needed to refuse or ask for more)")


class FundingRequestOut(BaseModel):
    id: uuid.UUID
    pep_id: uuid.UUID | None = Field(default=None, description="None for a target raised between PEPs")
    action_target_id: uuid.UUID | None = Field(default=None, description="The target raised between PEPs it is for")
    target: int
    child_id: uuid.UUID
    child_name: str | None = None
    la_id: uuid.UUID
    setting_id: uuid.UUID | None = None
    description: str
    funding_type: str | None = None
    area_of_focus: str | None = None
    intervention_type: str | None = None
    funding_type_label: str | None = Field(default=None, description="The funding type in the PEP template's words")
    area_of_focus_label: str | None = Field(default=None, description="The area of focus in the template's words")
    intervention_type_label: str | None = Field(default=None, description="The intervention in the template's words")
    amount_requested: str | None = None
    status: FundingStatus
    amount_approved: str | None = None
    reason: str | None = None
    academic_year: str
    term: str
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by_name: str | None = None
    financial_year: str | None = Field(default=None, description="Of the decision: 1 April to 31 March")
    can_decide: bool = False


class FundingList(BaseModel):
    items: list[FundingRequestOut]
    counts: dict[str, int]


class FundingYear(BaseModel):
    financial_year: str
    allocation: str
    approved: str = Field(description="Requests approved and termly payments made in the year")
    paid_termly: str = Field(default="0.00", description="Of which automatic termly payments")
    remaining: str


class TermlyPaymentOut(BaseModel):
    id: uuid.UUID
    child_id: uuid.UUID
    pep_id: uuid.UUID = Field(description="The approved or finalised PEP of that term it was paid for")
    setting_id: uuid.UUID | None = None
    academic_year: str
    term: str
    amount: str = Field(description="What was paid: the termly payment, or what was left of the allocation")
    amount_due: str | None = Field(default=None, description="The LA's termly payment it stood for")
    capped: bool = Field(default=False, description="Less than the termly payment was paid (possibly nothing): "
                         "the child's allocation for the financial year was used up")
    financial_year: str
    paid_at: datetime


class ChildFunding(BaseModel):
    child_id: uuid.UUID
    la_id: uuid.UUID
    financial_year: str
    allocation: str
    approved: str
    paid_termly: str = "0.00"
    remaining: str
    years: list[FundingYear]
    requests: list[FundingRequestOut]
    termly_payments: list[TermlyPaymentOut] = Field(default_factory=list)


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money = Field(description="PP+ per child per financial year, pounds and pence")
    termly_payment: Money | None = Field(default=None, description="Paid automatically each term for every child "
                                         "with an approved or finalised PEP that term (null: none; left out: "
                                         "unchanged)")


class Allocation(BaseModel):
    la_id: uuid.UUID
    amount: str
    termly_payment: str | None = None


# ---- the Virtual School's dashboard ----------------------------------------------------------------------------


class DashboardCount(BaseModel):
    key: str
    label: str
    count: int


class DashboardRating(BaseModel):
    framework_key: str
    grade: str
    label: str
    count: int


class DashboardTermRating(BaseModel):
    academic_year: str
    term: str
    framework_key: str
    grade: str
    label: str
    count: int


class DashboardAmount(BaseModel):
    key: str | None = Field(default=None, description="None: not given on the request")
    label: str
    requests: int
    amount: str = Field(description="Pounds and pence approved")


class DashboardSettingAmount(BaseModel):
    financial_year: str | None = None
    setting_id: uuid.UUID | None = Field(default=None, description="None: the request named no setting")
    requests: int
    amount: str = Field(description="Pounds and pence approved")


class DashboardTermly(BaseModel):
    financial_year: str
    payments: int
    amount: str = Field(description="Pounds and pence paid")


class DashboardPerson(BaseModel):
    id: uuid.UUID
    name: str | None = Field(default=None, description="None: qa has not heard of the account")


class DashboardOptions(BaseModel):
    setting_ids: list[uuid.UUID] = Field(default_factory=list, description="Settings the LA's PEPs are at")
    social_workers: list[DashboardPerson] = Field(default_factory=list)
    caseworkers: list[DashboardPerson] = Field(default_factory=list, description="Who has reviewed the LA's PEPs")


class Dashboard(BaseModel):
    """An LA's figures, about the PEPs that match the filters (None: any)."""

    la_id: uuid.UUID
    academic_year: str | None = None
    term: str | None = None
    setting_id: uuid.UUID | None = None
    status: str | None = None
    key_stage: str | None = Field(default=None, description="EYFS, KS1 to KS5: of the child's year group")
    social_worker_id: uuid.UUID | None = None
    caseworker_id: uuid.UUID | None = Field(default=None, description="PEPs this QA caseworker has reviewed")
    rating: str | None = Field(default=None, description="The PEP's latest awarded grade (gold, green, ...)")
    total: int = Field(description="PEPs")
    by_status: list[DashboardCount] = Field(description="PEPs by status: created (started), in_progress, "
                                            "submitted, returned, approved, finalised, cancelled")
    progress: list[DashboardCount] = Field(
        default_factory=list, description="PEPs due (by the earliest due date of their open tasks, not yet past), "
        "overdue, open with no due date, submitted awaiting QA, and completed (approved or finalised)")
    progress_date: date | None = Field(default=None, description="The day overdue is counted on (UK)")
    attendance_peps: int = Field(default=0, description="PEPs whose latest submission recorded attendance sessions "
                                 "this academic year")
    attended_sessions: int = 0
    possible_sessions: int = 0
    attendance_percent: float | None = Field(default=None, description="Attended of possible sessions, over them")
    attendance_bands: list[DashboardCount] = Field(
        default_factory=list, description="Those PEPs by the child's attendance: below_90 (persistently absent), "
        "90_to_95, 95_plus")
    attainment: list[DashboardCount] = Field(
        default_factory=list, description="Subject rows of those PEPs' attainment sections against age-related "
        "expectations (count: subjects)")
    attainment_progress: list[DashboardCount] = Field(
        default_factory=list, description="The same rows by progress since the last PEP (count: subjects)")
    timescale_working_days: int = Field(description="The amount of the LA's 'dt_return' rule (units: "
                                        "timescale_rule says)")
    timescale_rule: str | None = Field(default=None, description="The LA's rule within_timescale counts by, in "
                                       "words: '10 working days after the meeting (default rule 'dt_return')'")
    submitted: int = Field(description="PEPs submitted, with a meeting date")
    within_timescale: int = Field(description="Of those, submitted (latest submission, UK date) within the LA's "
                                  "'dt_return' rule of the meeting (timescale_rule)")
    within_timescale_percent: float | None = None
    qa_timescale: str | None = Field(default=None, description="The LA's rule for the Virtual School's quality "
                                     "check, in words: '10 working days after submission (LA rule 'qa_review', "
                                     "version 3)'")
    qa_checked: int = Field(default=0, description="Submissions QA decided (approved or returned), as `decisions`")
    qa_within_timescale: int = Field(default=0, description="Of those, decided (UK date) within the LA's "
                                     "'qa_review' rule of the submission (UK date)")
    qa_within_timescale_percent: float | None = None
    ratings: list[DashboardRating] = Field(description="Each PEP's latest decided or confirmed review, by its "
                                           "overall grade")
    awarded: list[DashboardRating] = Field(description="The same reviews by the grade the PEP shows (Gold)")
    ratings_by_term: list[DashboardTermRating] = Field(
        default_factory=list, description="The awarded grades of `awarded` per academic year and term of the PEP, "
        "oldest first")
    decisions: int = Field(description="Submissions decided (approved or returned)")
    turnaround_median_days: float | None = Field(default=None, description="Median days from submission to "
                                                 "decision")
    pp_plus_approved: str
    pp_plus_by_area: list[DashboardAmount]
    pp_plus_by_intervention: list[DashboardAmount]
    pp_plus_by_setting: list[DashboardSettingAmount] = Field(
        default_factory=list, description="PP+ approved per setting in each financial year, newest year first")
    pp_plus_paid_termly: str = "0.00"
    pp_plus_total: str | None = Field(default=None, description="Approved and paid termly")
    figures_at: datetime | None = Field(default=None, description="When these figures were counted. They are "
                                        "counted again as soon as anything they count has changed, so they are "
                                        "never out of date; the same figures may be served again until then")
    pp_plus_termly: list[DashboardTermly] = Field(
        default_factory=list, description="Automatic termly payments per financial year, newest first")
    options: DashboardOptions = Field(default_factory=DashboardOptions,
                                      description="The choices for the setting, social worker and caseworker filters")


# ---- operations ------------------------------------------------------------------------------------

class QueueQuery(BaseModel):
    la_id: uuid.UUID | None = Field(default=None, description="Only this LA's PEPs (default: all of mine)")


class FundingQuery(BaseModel):
    la_id: uuid.UUID
    status: Literal["pending", "more_information", "approved", "refused", "all"] = "pending"
    pep_id: uuid.UUID | None = Field(default=None, description="Only this PEP's requests (the approver's task)")


class FundingCsvQuery(BaseModel):
    la_id: uuid.UUID


class DashboardQuery(BaseModel):
    la_id: uuid.UUID
    academic_year: str | None = Field(default=None, max_length=20, description="Like 2025/26")
    term: str | None = Field(default=None, max_length=20, description="autumn, spring or summer")
    # The ids are checked by qa with the other filters, so one answer names every filter that is wrong.
    setting_id: str | None = Field(default=None, max_length=40, description="A setting's id (UUID)")
    status: str | None = Field(default=None, max_length=40, description="A PEP status")
    key_stage: str | None = Field(default=None, max_length=10)
    social_worker_id: str | None = Field(default=None, max_length=40, description="A social worker's id (UUID)")
    caseworker_id: str | None = Field(default=None, max_length=40, description="A caseworker's id (UUID)")
    rating: str | None = Field(default=None, max_length=40, description="An overall grade")


class DashboardCsvQuery(DashboardQuery):
    table: str = Field(max_length=40, description="by_status, timescale, awarded, ratings, ratings_by_term, "
                       "turnaround, pp_plus_by_area, pp_plus_by_intervention, pp_plus_by_setting, progress, "
                       "pp_plus_termly, attendance, attainment or attainment_progress")


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="qa", **options)


GET_QA_FRAMEWORK = _op("get_qa_framework", "get", "/organisations/{la_id}/qa-framework", "The LA's QA framework (its "
                       "grades, areas with a descriptor per grade, overall rule) and the frameworks it may choose "
                       "(the Virtual School)", response=LaQaFramework, tags=("quality assurance",))
CHOOSE_QA_FRAMEWORK = _op("choose_qa_framework", "put", "/organisations/{la_id}/qa-framework", "Choose the LA's QA "
                          "framework, and whether its QA has a second level (VS admin); reviews already written keep "
                          "their framework", body=FrameworkChoiceIn,
                          response=LaQaFramework, tags=("quality assurance",))
QA_QUEUE = _op("qa_queue", "get", "/qa/queue", "PEPs awaiting review in my LAs, oldest submission first (the Virtual "
               "School; query: la_id)", query=QueueQuery, response=Queue, tags=("quality assurance",))
GET_REVIEW = _op("get_review", "get", "/peps/{pep_id}/review", "A PEP's review of its latest submission and every "
                 "earlier one (the Virtual School, the social worker, the DT, the IRO; never carers)",
                 response=PepReview, tags=("quality assurance",))
SAVE_REVIEW = _op("save_review", "put", "/peps/{pep_id}/review", "Save a caseworker's ratings so far: per area a "
                  "grade and feedback, overall a grade and feedback (each save is kept)", body=ReviewDraftIn,
                  response=PepReview, tags=("quality assurance",))
DECIDE_REVIEW = _op("decide_review", "post", "/peps/{pep_id}/review/decide", "Approve the PEP, or return it to the "
                    "school with a reason (taken through the PEP's own lifecycle; the school gets an amend task with "
                    "the feedback). With two-level QA a first reviewer's approval waits for a VS approver or admin, "
                    "who decides here too, perhaps with another overall grade", body=DecideIn, response=PepReview,
                    tags=("quality assurance",))
CONFIRM_REVIEW = _op("confirm_review", "post", "/peps/{pep_id}/review/confirm", "Confirm or change a decided review's "
                     "overall grade (a VS approver or admin); a review waiting for the second level is approved by "
                     "confirming it", body=ConfirmIn, response=PepReview, tags=("quality assurance",))
LIST_FUNDING = _op("list_funding", "get", "/funding", "An LA's PP+ requests, oldest first, with the count of each "
                   "status (the Virtual School)", query=FundingQuery, response=FundingList, tags=("pp+ funding",))
DECIDE_FUNDING = _op("decide_funding", "post", "/funding/{request_id}/decide", "Approve a PP+ request (at most the "
                     "amount asked), refuse it or ask for more information, with a reason (a VS approver or admin)",
                     body=FundingDecideIn, response=FundingRequestOut, tags=("pp+ funding",))
CHILD_FUNDING = _op("child_funding", "get", "/children/{child_id}/funding", "A child's PP+ requests and totals per "
                    "financial year against the LA's allocation (those who see QA)", response=ChildFunding,
                    tags=("pp+ funding",))
GET_ALLOCATION = _op("get_allocation", "get", "/organisations/{la_id}/pp-plus-allocation", "The LA's PP+ allocation "
                     "per child per financial year", response=Allocation, tags=("pp+ funding",))
SET_ALLOCATION = _op("set_allocation", "put", "/organisations/{la_id}/pp-plus-allocation", "Set the LA's PP+ "
                     "allocation per child (VS admin)", body=AllocationIn, response=Allocation, tags=("pp+ funding",))
GET_DASHBOARD = _op("get_dashboard", "get", "/dashboard", "The Virtual School's dashboard for its LA: PEPs by status, "
                    "submitted within the timescale, latest ratings, QA turnaround, PP+ approved by area of focus and "
                    "intervention type, with PEPs due, overdue and completed, PP+ paid termly, attendance and "
                    "attainment", query=DashboardQuery, response=Dashboard, tags=("quality assurance",))

# Served by pep, which keeps each PEP's QA outcome from qa's decisions (qa.review.decided) beside the PEP it prints.
CHILD_PEP_RATINGS = operation("child_pep_ratings", "get", "/children/{child_id}/pep-ratings", "The QA rating of each "
                              "of a child's PEPs that QA has decided, newest first (those who see QA)",
                              service="pep", response=PepRatings, tags=("quality assurance",))
MY_PEP_RATINGS = operation("my_pep_ratings", "get", "/pep-ratings", "The latest QA rating of each child I work "
                           "with as their social worker, Designated Teacher or IRO, newest first (up to 50)",
                           service="pep", response=PepRatings, tags=("quality assurance",))

FUNDING_CSV = _op("funding_csv", "get", "/funding.csv", "Every PP+ request of an LA with its decision, as CSV for "
                  "finance (the Virtual School)", query=FundingCsvQuery, media="text/csv", tags=("pp+ funding",))
DASHBOARD_CSV = _op("dashboard_csv", "get", "/dashboard.csv", "One table of the Virtual School's dashboard as CSV",
                    query=DashboardCsvQuery, media="text/csv", tags=("quality assurance",))
