"""pep's PEP-document API as the gateway exposes it (children's core data is in shared/api/children.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.api.operations import Operation, operation
from shared.api.templates import Section
from shared.api.views import ViewsGiven

Kind = Literal["initial", "termly_review", "change_of_placement", "change_of_setting", "emergency"]
Term = Literal["autumn", "spring", "summer"]


class PepStart(BaseModel):
    kind: Kind
    term: Term
    academic_year: str = Field(pattern=r"^\d{4}/\d{2}$", description="e.g. 2026/27")
    meeting_date: date | None = None


class SectionSave(BaseModel):
    answers: dict[str, Any] = Field(description="Only the answers that changed; null clears one")
    version: int = Field(ge=0, description="The section version these changes start from")


class PepAction(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class QaDecision(PepAction):
    """Not public: what qa sends pep's internal `POST /peps/{pep_id}/actions/approve|return` (signed as service:qa)
    once a Virtual School reviewer has decided the PEP's review: who decided, so pep records them."""

    by_user: uuid.UUID


class PepSummary(BaseModel):
    id: uuid.UUID
    child_id: uuid.UUID
    kind: Kind
    term: Term
    academic_year: str
    status: str
    meeting_date: date | None
    created_at: datetime
    updated_at: datetime


class SectionState(BaseModel):
    key: str
    title: str
    owner: str
    status: str
    answered: int
    questions: int
    to_check: int
    can_edit: bool
    delegated: bool = Field(default=False, description="With the school's DT by an open task: only they write it")


class TemplateRef(BaseModel):
    key: str
    name: str
    version: int


class TargetFunding(BaseModel):
    """A current target that needs funding: who pays and, where the Virtual School decides (its PP+), the decision
    (Kent's "VSK Approval"). Other funding (school funding, high needs) is recorded in the plan, not queued."""

    target: int = Field(description="The target's row among the PEP's current targets (1-based)")
    what: str
    funding_type: str | None = Field(description="The template's key")
    funding_type_label: str | None = Field(description="The funding type in the template's words")
    amount: str | None = Field(description="Pounds and pence asked for")
    route: Literal["virtual_school", "recorded"] = Field(
        description="virtual_school: the VS approver decides it; recorded: paid from another budget, in the plan only")
    decision: Literal["approved", "refused", "more_information"] | None = None
    amount_approved: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = Field(default=None, description="The Virtual School's reason, as it gave it: why "
                                        "it refused, or what more it needs")


class PepOverview(PepSummary):
    template: TemplateRef
    sections: list[SectionState]
    actions: list[str]
    funding: list[TargetFunding] = Field(default_factory=list, description="The current targets that need funding, "
                                         "with the Virtual School's decision where it decides (for those who see "
                                         "the targets)")


class Gap(BaseModel):
    field: str
    message: str


class SectionOut(BaseModel):
    pep_id: uuid.UUID
    key: str
    definition: Section = Field(description="The template section: its questions, types and conditions")
    answers: dict[str, Any]
    version: int
    status: str
    to_check: list[str]
    updated_at: datetime
    updated_by_name: str | None
    missing: list[Gap]
    can_edit: bool
    delegated: bool = False
    given: list[ViewsGiven] = Field(default_factory=list, description="Views sections: who gave their views "
                                    "by invitation, with which questions, and when")


class Missing(BaseModel):
    section: str
    section_title: str
    field: str
    message: str


GoesToQa = Literal["school_submits", "social_worker_completes"]
Part = Literal["school", "social_worker"]


class SubmissionSettings(BaseModel):
    goes_to_qa: GoesToQa = Field(description="When a PEP goes to quality assurance: when the school submits its "
                                 "contribution (school_submits: Kent, the default), or once the social worker has "
                                 "completed their part too (social_worker_completes: ePEP Online)")


class PartState(BaseModel):
    part: Part = Field(description="school: the sections delegated to the school and those it writes; "
                       "social_worker: the social worker's own section")
    needed: bool = Field(description="Whether the PEP waits for this part before it goes to QA")
    submitted_at: datetime | None = Field(default=None, description="When it was submitted; null: not yet")
    submitted_by_name: str | None = None
    setting_id: uuid.UUID | None = Field(default=None, description="The school's part: the setting that submitted it")


class WithSchool(BaseModel):
    """A section delegated to the school while its task is open: the school's to complete, not the signer's."""

    section: str
    section_title: str
    missing: int = Field(description="Mandatory answers not yet given in it")


class SignOff(BaseModel):
    """Where the PEP's sign-off stands for the caller: what they submit, what stops it (only what they can fix),
    and which parts are in."""

    status: str
    goes_to_qa: GoesToQa
    my_part: Part | None = Field(description="What the caller submits: their part of the PEP, or null: the whole "
                                 "PEP (the Virtual School), or nothing when they cannot submit")
    parts: list[PartState]
    missing: list[Missing] = Field(description="What stops the caller's submission, in sections they can fix")
    can_submit: bool
    with_school: list[WithSchool] = Field(default_factory=list, description="Sections delegated to the school "
                                          "while its task is open, which the caller cannot write until it submits")


class SavedVersion(BaseModel):
    version: int
    changed: list[str]
    saved_at: datetime
    saved_by_name: str | None
    saved_by_me: bool = Field(default=False, description="Saved by the person asking (their own autosave, say): "
                              "what the portal need not merge as someone else's")


class Difference(BaseModel):
    field: str
    label: str
    before: Any
    after: Any
    changed: bool


class TemplateSummary(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    phase: str
    version: int
    la_id: uuid.UUID | None = Field(description="null: the national default")
    changed_at: datetime | None = Field(default=None, description="when this version was saved")


class TemplateCopy(BaseModel):
    from_template_id: uuid.UUID


class TemplateEdit(BaseModel):
    body: dict[str, Any] = Field(description="The whole template (services/pep/domain/templates.py); saved as a "
                                             "new version, so PEPs already started keep theirs")


class TemplateOut(TemplateSummary):
    body: dict[str, Any]


# ---- operations ------------------------------------------------------------------------------------

class CompareQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: int | None = Field(default=None, alias="from", ge=0, description="The earlier version")
    to: int | None = Field(default=None, ge=0, description="The later version")
    with_pep: uuid.UUID | None = Field(default=None, description="Another PEP of the same child: two terms")


class ExportQuery(BaseModel):
    variant: Literal["termly", "full"] = Field(default="termly", description="The Termly PEP, or the Full PEP with "
                                               "quality assurance (for those who may see it)")


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="pep", **options)


LIST_CHILD_PEPS = _op("list_child_peps", "get", "/children/{child_id}/peps", "A child's PEPs", response=PepSummary,
                      many=True, tags=("peps",))
START_PEP = _op("start_pep", "post", "/children/{child_id}/peps", "Start a PEP, carried forward from the child's last "
                "one", body=PepStart, response=PepSummary, status=201, tags=("peps",))
GET_PEP = _op("get_pep", "get", "/peps/{pep_id}", "A PEP's task list: sections, owners, status, progress",
              response=PepOverview, tags=("peps",))
GET_SECTION = _op("get_section", "get", "/peps/{pep_id}/sections/{key}", "A section: its questions and the answers so "
                  "far", response=SectionOut, tags=("peps",))
SAVE_SECTION = _op("save_section", "put", "/peps/{pep_id}/sections/{key}", "Save some answers (409 if someone saved "
                   "since your version)", body=SectionSave, response=SectionOut, errors=(401, 403, 404, 409, 422),
                   tags=("peps",))
COMPLETE_SECTION = _op("complete_section", "post", "/peps/{pep_id}/sections/{key}/complete", "Mark a section complete "
                       "(its mandatory answers given)", response=SectionOut, errors=(401, 403, 404, 409, 422),
                       tags=("peps",))
PEP_MISSING = _op("pep_missing", "get", "/peps/{pep_id}/missing", "What stops my sign-off: the mandatory answers "
                  "missing from my part of the PEP (the whole PEP for the Virtual School)", response=Missing,
                  many=True, tags=("peps",))
SECTION_HISTORY = _op("section_history", "get", "/peps/{pep_id}/sections/{key}/history", "Every save of a section",
                      response=SavedVersion, many=True, tags=("peps",))
COMPARE_SECTION = _op("compare_section", "get", "/peps/{pep_id}/sections/{key}/compare", "Two versions side by side, "
                      "or two terms", query=CompareQuery, response=Difference, many=True, tags=("peps",))
SUBMIT_PEP = _op("submit_pep", "post", "/peps/{pep_id}/actions/submit", "Submit my part: the school's contribution "
                 "(a Designated Teacher or setting staff: the sections delegated to the school and those it writes), "
                 "the social worker's section, or (the Virtual School) the whole PEP; 422 with `missing` lists only "
                 "that part's gaps. The PEP goes to QA (submitted) once every part the LA's rule waits for is in; "
                 "until then it stays as it is, with the part recorded (get_sign_off)",
                 body=PepAction, response=PepSummary, errors=(401, 403, 404, 409, 422), tags=("peps",))
GET_SIGN_OFF = _op("get_sign_off", "get", "/peps/{pep_id}/sign-off", "Where sign-off stands for me: what I submit, "
                   "what stops it (only what I can fix) and which parts are in", response=SignOff, tags=("peps",))
GET_SUBMISSION_SETTINGS = _op("get_submission_settings", "get", "/organisations/{la_id}/submission-settings",
                              "When the LA's PEPs go to quality assurance (the LA's Virtual School)",
                              response=SubmissionSettings, tags=("peps",))
SET_SUBMISSION_SETTINGS = _op("set_submission_settings", "put", "/organisations/{la_id}/submission-settings",
                              "Change it (the LA's VS admin); PEPs already waiting follow the new rule when their "
                              "next part is submitted", body=SubmissionSettings, response=SubmissionSettings,
                              errors=(401, 403, 404, 422), tags=("peps",))
# No approve or return here: a PEP is approved or returned only by deciding its QA review (shared/api/qa.py,
# DECIDE_REVIEW); qa then takes the action at pep's internal route (QaDecision), as itself.
FINALISE_PEP = _op("finalise_pep", "post", "/peps/{pep_id}/actions/finalise", "Finalise: sign the PEP off",
                   body=PepAction, response=PepSummary, errors=(401, 403, 404, 409, 422), tags=("peps",))
CANCEL_PEP = _op("cancel_pep", "post", "/peps/{pep_id}/actions/cancel", "Cancel", body=PepAction, response=PepSummary,
                 tags=("peps",))
LIST_TEMPLATES = _op("list_templates", "get", "/templates", "PEP templates: the national defaults and my LAs' own",
                     response=TemplateSummary, many=True, tags=("templates",))
GET_TEMPLATE = _op("get_template", "get", "/templates/{template_id}", "A template version in full",
                   response=TemplateOut, tags=("templates",))
COPY_TEMPLATE = _op("copy_template", "post", "/organisations/{la_id}/templates", "Copy a template to an LA (VS admin)",
                    body=TemplateCopy, response=TemplateOut, status=201, tags=("templates",))
EDIT_TEMPLATE = _op("edit_template", "put", "/templates/{template_id}", "Edit an LA's template: saved as its next "
                    "version", body=TemplateEdit, response=TemplateOut, tags=("templates",))

EXPORT_PDF = _op("export_pdf", "get", "/peps/{pep_id}/export.pdf", "The PEP as PDF", query=ExportQuery,
                 media="application/pdf", tags=("peps",))
EXPORT_JSON = _op("export_json", "get", "/peps/{pep_id}/export.json", "The PEP as JSON: its template version and "
                  "the answers you may see", media="application/json", tags=("peps",))
BLANK_FORM = _op("blank_form", "get", "/templates/{key}/blank.pdf", "A national default template as a blank "
                 "printable form (early-years, school-age, post-16)", media="application/pdf", tags=("templates",))
