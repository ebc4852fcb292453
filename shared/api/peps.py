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


class PepOverview(PepSummary):
    template: TemplateRef
    sections: list[SectionState]
    actions: list[str]


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
                   "since your version)", body=SectionSave, response=SectionOut, tags=("peps",))
COMPLETE_SECTION = _op("complete_section", "post", "/peps/{pep_id}/sections/{key}/complete", "Mark a section complete "
                       "(its mandatory answers given)", response=SectionOut, tags=("peps",))
PEP_MISSING = _op("pep_missing", "get", "/peps/{pep_id}/missing", "What stops sign-off", response=Missing, many=True,
                  tags=("peps",))
SECTION_HISTORY = _op("section_history", "get", "/peps/{pep_id}/sections/{key}/history", "Every save of a section",
                      response=SavedVersion, many=True, tags=("peps",))
COMPARE_SECTION = _op("compare_section", "get", "/peps/{pep_id}/sections/{key}/compare", "Two versions side by side, "
                      "or two terms", query=CompareQuery, response=Difference, many=True, tags=("peps",))
SUBMIT_PEP = _op("submit_pep", "post", "/peps/{pep_id}/actions/submit", "Submit (all mandatory answers given)",
                 body=PepAction, response=PepSummary, tags=("peps",))
# No approve or return here: a PEP is approved or returned only by deciding its QA review (shared/api/qa.py,
# DECIDE_REVIEW); qa then takes the action at pep's internal route (QaDecision), as itself.
FINALISE_PEP = _op("finalise_pep", "post", "/peps/{pep_id}/actions/finalise", "Finalise: sign the PEP off",
                   body=PepAction, response=PepSummary, tags=("peps",))
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
