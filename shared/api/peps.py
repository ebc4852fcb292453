"""pep's PEP-document API as the gateway exposes it (children's core data is in shared/api/children.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api.templates import Section

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
