"""Children's core data as the gateway exposes it: request and response models shared by the gateway and pep.

The models check shape (types, lengths, the lists of values); pep adds what needs its rules or its data
(UPN and ULN check characters, dates that must make sense together, people who must hold a role in the LA).
Additive changes only within /api/v1.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.api.identity import Email
from shared.api.operations import Operation, operation
from shared.api.retention import RetentionConfirm, RetentionRule, RetentionState

Gender = Literal["female", "male", "other", "not_known"]
# Interim care orders are made under s38 of the Children Act 1989, full care orders under s31; placement
# orders under s21 of the Adoption and Children Act 2002.
LegalStatus = Literal["s20", "interim_care_order", "full_care_order", "placement_order", "remand", "other"]
PlacementType = Literal["foster_care", "kinship_care", "residential", "secure", "semi_independent",
                        "placed_with_parents", "placed_for_adoption", "other"]
YearGroup = Literal["Nursery", "Reception", "Year 1", "Year 2", "Year 3", "Year 4", "Year 5", "Year 6", "Year 7",
                    "Year 8", "Year 9", "Year 10", "Year 11", "Year 12", "Year 13"]
SenStatus = Literal["none", "sen_support", "ehcp"]
KeyStage = Literal["EYFS", "KS1", "KS2", "KS3", "KS4", "KS5"]
Phase = Literal["early_years", "school_age", "post_16"]  # the PEP template a child's year group calls for
AccessVia = Literal["virtual_school", "social_worker", "designated_teacher", "setting_staff", "iro", "carer",
                    "invited_young_person", "invited_carer"]

GENDERS, LEGAL_STATUSES, PLACEMENT_TYPES = get_args(Gender), get_args(LegalStatus), get_args(PlacementType)
YEAR_GROUPS, SEN_STATUSES = get_args(YearGroup), get_args(SenStatus)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class Contact(BaseModel):
    """Someone to know about: a parent, a relative, a previous carer, a professional."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    relationship: ShortText | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    email: Email | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class CarerDetails(BaseModel):
    """The carer(s) in the current placement, as the LA records them (whether or not they have an account)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    email: Email | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class CoreData(BaseModel):
    """Every core data field, all optional: what a change may carry. null clears an optional field."""

    model_config = ConfigDict(extra="forbid")
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: date | None = None
    gender: Gender | None = None
    ethnicity: ShortText | None = None
    first_language: ShortText | None = None
    upn: str | None = Field(default=None, max_length=20, description="Unique Pupil Number: 13 characters with "
                            "the DfE check letter first")
    uln: str | None = Field(default=None, max_length=20, description="Unique Learner Number (post-16): 10 digits")
    social_care_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = \
        Field(default=None, description="The child's id in the LA's social care system; unique within the LA")
    date_entered_care: date | None = None
    entered_care_emergency: bool | None = Field(default=None, description="Whether the child entered care by an "
                                                "emergency placement (the initial PEP is then due sooner)")
    legal_status: LegalStatus | None = None
    placement_type: PlacementType | None = None
    carer: CarerDetails | None = None
    setting_id: uuid.UUID | None = Field(default=None, description="The education setting the child attends")
    year_group: YearGroup | None = None
    sen_status: SenStatus | None = None
    health_notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    contacts: list[Contact] | None = Field(default=None, max_length=30)
    social_worker_id: uuid.UUID | None = Field(default=None, description="The allocated social worker")
    iro_id: uuid.UUID | None = Field(default=None, description="The Independent Reviewing Officer")
    carer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10, description="Carers with an account")
    in_care: bool | None = None


# Fields a change may not blank out: the record would no longer say who the child is.
REQUIRED = ("given_name", "family_name", "date_of_birth")
NOT_NULL = (*REQUIRED, "contacts", "carer_ids", "in_care", "entered_care_emergency")
MoveKind = Literal["school", "placement"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ChildIn(CoreData):
    la_id: uuid.UUID = Field(description="The LA whose child this is: one where you work for the Virtual School")
    given_name: Name
    family_name: Name
    date_of_birth: date


class ChildPatch(CoreData):
    version: int = Field(ge=1, description="The version you started from: a change made since answers 409")


class SettingMove(BaseModel):
    """A change of school (education setting): the child goes to the new setting's Designated Teacher, and the
    review after a change of school is due from `starts_on`."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version you started from: a change made since answers 409")
    setting_id: uuid.UUID = Field(description="The new setting: one in the child's LA (GET .../record-choices)")
    starts_on: date = Field(description="The child's first day at the new setting")
    reason: Reason = Field(description="Why the child is changing school, as the record keeps it")


class PlacementMove(BaseModel):
    """A change of placement: the review after a change of placement is due from `starts_on`."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="The version you started from: a change made since answers 409")
    placement_type: PlacementType
    starts_on: date = Field(description="The day the new placement starts")
    reason: Reason = Field(description="Why the placement changed, as the record keeps it")
    carer: CarerDetails | None = Field(default=None, description="The carer(s) in the new placement (null: none "
                                       "recorded)")


class Choice(BaseModel):
    id: uuid.UUID
    name: str


class RecordChoices(BaseModel):
    """What a child's record may be changed to, by name: the settings of the child's LA and its people who hold
    each role (so nobody types an id)."""

    settings: list[Choice]
    social_workers: list[Choice]
    iros: list[Choice]
    carers: list[Choice]


class AttendanceIn(BaseModel):
    """Sessions (half days) in a period. Recording the same period again replaces it."""

    model_config = ConfigDict(extra="forbid")
    period_start: date
    period_end: date
    possible_sessions: int = Field(ge=0, le=1000)
    attended_sessions: int = Field(ge=0, le=1000)
    authorised_absences: int = Field(default=0, ge=0, le=1000)
    unauthorised_absences: int = Field(default=0, ge=0, le=1000)


class CsvImport(BaseModel):
    la_id: uuid.UUID
    csv: str = Field(min_length=1, max_length=900_000, description="UTF-8 CSV text with a header row")


class SiblingLink(BaseModel):
    sibling_id: uuid.UUID


class ChildQuery(BaseModel):
    """GET /children's query string."""

    setting_id: uuid.UUID | None = Field(default=None, description="Only children at this setting")
    q: str | None = Field(default=None, max_length=100, description="Part of a name")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


# ---- responses ------------------------------------------------------------------------------------


class ChildSummary(BaseModel):
    id: uuid.UUID
    la_id: uuid.UUID
    given_name: str
    family_name: str
    date_of_birth: date
    setting_id: uuid.UUID | None
    year_group: str | None
    key_stage: KeyStage | None
    sen_status: SenStatus | None
    in_care: bool
    version: int


class ChildList(BaseModel):
    items: list[ChildSummary]
    total: int
    limit: int
    offset: int


class PersonWithAccess(BaseModel):
    user_id: uuid.UUID
    given_name: str
    family_name: str
    email: str
    via: AccessVia = Field(description="How they reach the child")


class Change(BaseModel):
    what: str
    from_value: Any
    to_value: Any
    version: int
    changed_at: datetime
    changed_by: uuid.UUID | None
    changed_by_name: str | None
    starts_on: date | None = Field(default=None, description="A change of school or placement: the day it starts")
    reason: str | None = Field(default=None, description="A change of school or placement: the reason given")


class Indicators(BaseModel):
    last_pep_date: date | None
    next_pep_due: date | None
    year_group: str | None
    key_stage: KeyStage | None
    attendance_percent: float | None = Field(description="Attended of possible sessions this academic year")
    pp_plus_agreed: str | None = Field(default=None, description="Pupil Premium Plus agreed this financial year "
                                       "(1 April to 31 March), as qa counts it against the allocation: requests "
                                       "approved (at the amount approved) and automatic termly payments made; pounds "
                                       "and pence (null for those who do not see funding decisions)")
    pp_plus_requests: int | None = Field(default=None, description="How many approved requests that is")
    pp_plus_paid_termly: str | None = Field(default=None, description="Of which automatic termly payments")
    pp_plus_financial_year: str | None = Field(default=None, description="The financial year counted (2026-27)")


class Sibling(BaseModel):
    id: uuid.UUID
    given_name: str
    family_name: str
    date_of_birth: date
    setting_id: uuid.UUID | None
    year_group: str | None


class ChildProfile(BaseModel):
    id: uuid.UUID
    la_id: uuid.UUID
    version: int
    given_name: str
    family_name: str
    date_of_birth: date
    gender: str | None
    ethnicity: str | None
    first_language: str | None
    upn: str | None
    uln: str | None
    social_care_id: str | None
    date_entered_care: date | None
    entered_care_emergency: bool = False
    legal_status: str | None
    placement_type: str | None
    carer: CarerDetails | None
    setting_id: uuid.UUID | None
    year_group: str | None
    key_stage: KeyStage | None
    phase: Phase | None
    sen_status: str | None
    health_notes: str | None
    contacts: list[Contact]
    social_worker_id: uuid.UUID | None
    iro_id: uuid.UUID | None
    carer_ids: list[uuid.UUID]
    in_care: bool
    moved_on: date | None = Field(default=None, description="The start of the latest change of school or placement")
    move_kind: MoveKind | None = None
    move_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    updated_by: uuid.UUID | None
    indicators: Indicators
    people: list[PersonWithAccess] = Field(description="Everyone who can see this child's record, and how")
    siblings: list[Sibling] = Field(description="Linked siblings you can see")
    placement_history: list[Change]
    setting_history: list[Change]
    access: AccessVia = Field(description="How you reach this child")
    can_edit: bool = Field(description="Whether you may change the core data")
    can_move: bool = Field(default=False, description="Whether you may change the child's school, placement and "
                           "the people allocated (the LA's Virtual School)")

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class Attendance(BaseModel):
    id: uuid.UUID
    period_start: date
    period_end: date
    possible_sessions: int
    attended_sessions: int
    authorised_absences: int
    unauthorised_absences: int
    attendance_percent: float | None
    source: str
    recorded_at: datetime


class AttendanceList(BaseModel):
    items: list[Attendance]
    attendance_percent_this_year: float | None
    academic_year: str


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int


class AttendanceImportResult(BaseModel):
    recorded: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)] = Field(
        description="The note. Notes are kept as written: a correction is a new note")


class Note(BaseModel):
    id: uuid.UUID
    body: str
    written_at: datetime
    written_by: uuid.UUID
    written_by_name: str | None


class ActivityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    before: datetime | None = Field(default=None, description="Only what happened before this time (the next page)")
    limit: int = Field(default=30, ge=1, le=100)


class ActivityItem(BaseModel):
    at: datetime
    kind: Literal["pep", "section", "file", "note", "attendance", "placement", "setting"]
    action: str = Field(description="For a PEP the lifecycle action (start, submit, return...); otherwise saved, "
                        "uploaded, deleted, added, recorded or changed")
    by: uuid.UUID | None
    by_name: str | None
    pep_id: uuid.UUID | None
    section_key: str | None
    section_title: str | None
    times: int = Field(description="Saves of a section by one person on one day are one item; fields changed at once")
    detail: str | None = Field(description="A PEP's new status, a file's name, an attendance period, or the fields "
                               "changed; never answers or note text")
    starts_on: date | None = Field(default=None, description="A change of school or placement: the day it starts")
    reason: str | None = Field(default=None, description="A change of school or placement: the reason given")


class ActivityList(BaseModel):
    items: list[ActivityItem]


class AccessEntry(BaseModel):
    at: datetime
    user_id: uuid.UUID
    name: str | None
    via: AccessVia = Field(description="How they reach the child")
    what: str = Field(description="What they did, in words")
    method: str
    endpoint: str
    pep_id: uuid.UUID | None
    address: str | None = Field(description="The browser's address, as the gateway saw it")
    request_id: str | None


class AccessLog(BaseModel):
    since: date
    until: date
    entries: list[AccessEntry]


class SubjectAccess(BaseModel):
    """Everything held about a child, each part as stored: pep's (the record, PEPs, files, notes, access log) and,
    under held_by_others, delegation's, qa's and notify's; held_elsewhere names what is left out and why."""

    model_config = ConfigDict(extra="allow")
    exported_at: datetime
    held_by: str
    child: dict[str, Any]
    peps: list[dict[str, Any]]
    held_elsewhere: list[str]
    held_by_others: dict[str, dict[str, Any]] = {}


# ---- targets raised between PEPs (Kent's "Action Plan and Targets outside of PEP") ----------------------------

TargetText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ActionTargetIn(BaseModel):
    """A costed target with its request for the Virtual School's PP+, raised between PEPs."""

    model_config = ConfigDict(extra="forbid")
    what: TargetText = Field(description="What is the target?")
    by_when: date = Field(description="When will it be achieved?")
    how: TargetText = Field(description="How will it be achieved?")
    amount: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,6}(\.\d{1,2})?$")] = Field(
        description="PP+ asked for, pounds and pence (more than £0)")
    area_of_focus: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    intervention_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class TargetChoice(BaseModel):
    value: str
    label: str


class ActionTarget(BaseModel):
    id: uuid.UUID
    child_id: uuid.UUID
    what: str
    by_when: date
    how: str
    funding_type: str
    funding_type_label: str
    amount: str
    area_of_focus: str
    area_of_focus_label: str
    intervention_type: str
    intervention_type_label: str
    academic_year: str
    term: str
    raised_by: uuid.UUID
    raised_by_name: str | None = None
    raised_at: datetime
    decision: Literal["approved", "refused", "more_information"] | None = Field(
        default=None, description="The Virtual School's decision on its PP+ (null: waiting)")
    amount_approved: str | None = None
    decision_reason: str | None = None
    decided_at: datetime | None = None
    carried_into: uuid.UUID | None = Field(default=None, description="The PEP that lists it among previous targets")


class ActionTargetList(BaseModel):
    items: list[ActionTarget]
    can_raise: bool
    areas_of_focus: list[TargetChoice] = Field(description="The choices, from the child's PEP template")
    intervention_types: list[TargetChoice]


# ---- operations ------------------------------------------------------------------------------------

class AccessLogQuery(BaseModel):
    since: date | None = Field(default=None, description="From this day (default: the first of this month)")
    until: date | None = Field(default=None, description="To this day (default: today)")
    pep_id: uuid.UUID | None = Field(default=None, description="Only this PEP")
    reads_only: bool = Field(default=False, description="Only views and downloads")


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="pep", **options)


LIST_CHILDREN = _op("list_children", "get", "/children", "My children", query=ChildQuery, response=ChildList,
                    tags=("children",))
ADD_CHILD = _op("add_child", "post", "/children", "Add a child to an LA where I work for the Virtual School",
                body=ChildIn, response=ChildProfile, status=201, tags=("children",))
IMPORT_CHILDREN = _op("import_children", "post", "/children/import", "Create or update an LA's children from CSV, "
                      "matched by social_care_id; a file with any bad row imports nothing (422 with a report row by "
                      "row and the columns)", body=CsvImport, response=ImportResult, tags=("children",))
IMPORT_ATTENDANCE = _op("import_attendance", "post", "/children/attendance/import", "Record attendance for an LA's "
                        "children from CSV; all or nothing", body=CsvImport, response=AttendanceImportResult,
                        tags=("children",))
GET_CHILD = _op("get_child", "get", "/children/{child_id}", "A child's profile: core data, key indicators, who can "
                "see it, history", response=ChildProfile, tags=("children",))
CHANGE_CHILD = _op("change_child", "patch", "/children/{child_id}", "Change a child's core data (409 with the current "
                   "record if it changed since your version)", body=ChildPatch, response=ChildProfile,
                   tags=("children",))
RECORD_CHOICES = _op("record_choices", "get", "/children/{child_id}/record-choices", "What the child's school, "
                     "social worker, IRO and carers may be changed to, by name: the settings of the child's LA and its "
                     "people with each role (the LA's Virtual School)", response=RecordChoices, tags=("children",))
MOVE_SETTING = _op("move_setting", "post", "/children/{child_id}/setting", "Change the child's school (the LA's "
                   "Virtual School): from the start date the new setting's Designated Teacher has the child and the "
                   "old one no longer does; the review after a change of school is due from it (409 with the current "
                   "record if it changed since your version)", body=SettingMove, response=ChildProfile,
                   errors=(401, 403, 404, 409, 422), tags=("children",))
MOVE_PLACEMENT = _op("move_placement", "post", "/children/{child_id}/placement", "Change the child's placement "
                     "(the LA's Virtual School), with its start date and reason: the review after a change of "
                     "placement is due from it (409 with the current record if it changed since your version)",
                     body=PlacementMove, response=ChildProfile, errors=(401, 403, 404, 409, 422), tags=("children",))
LIST_ATTENDANCE = _op("list_attendance", "get", "/children/{child_id}/attendance", "A child's attendance, and this "
                      "academic year's percentage", response=AttendanceList, tags=("children",))
RECORD_ATTENDANCE = _op("record_attendance", "post", "/children/{child_id}/attendance", "Record a period's attendance "
                        "(the same period again replaces it)", body=AttendanceIn, response=Attendance, status=201,
                        tags=("children",))
LIST_SIBLINGS = _op("list_siblings", "get", "/children/{child_id}/siblings", "A child's siblings that I can see",
                    response=Sibling, many=True, tags=("children",))
LINK_SIBLING = _op("link_sibling", "post", "/children/{child_id}/siblings", "Link a sibling of the same LA (a link: "
                   "nothing is copied)", body=SiblingLink, response=Sibling, many=True, status=201, tags=("children",))
UNLINK_SIBLING = _op("unlink_sibling", "delete", "/children/{child_id}/siblings/{sibling_id}", "Remove a sibling link",
                     status=204, tags=("children",))
LIST_NOTES = _op("list_notes", "get", "/children/{child_id}/notes", "A child's case notes, newest first "
                 "(professionals only; carers 403)", response=Note, many=True, tags=("children",))
ADD_NOTE = _op("add_note", "post", "/children/{child_id}/notes", "Add a case note (kept as written: a correction is a "
               "new note)", body=NoteIn, response=Note, status=201, tags=("children",))
CHILD_ACTIVITY = _op("child_activity", "get", "/children/{child_id}/activity", "What happened on a child's record "
                     "that I may know of, newest first; says what and who, never the content", query=ActivityQuery,
                     response=ActivityList, tags=("children",))
CHILD_ACCESS_LOG = _op("child_access_log", "get", "/children/{child_id}/access-log", "Who reached this child's record "
                       "and PEPs, newest first (the Virtual School only; query: since, until as YYYY-MM-DD, default "
                       "this month; pep_id; reads_only=true)", query=AccessLogQuery, response=AccessLog,
                       tags=("children",))
LIST_ACTION_TARGETS = _op("list_action_targets", "get", "/children/{child_id}/action-targets", "Targets raised "
                          "for a child between PEPs, newest first, with their PP+ decisions (the child's Designated "
                          "Teacher, social worker and Virtual School; others 404)", response=ActionTargetList,
                          tags=("children",))
RAISE_ACTION_TARGET = _op("raise_action_target", "post", "/children/{child_id}/action-targets", "Raise a costed "
                          "target with a PP+ request between PEPs: it goes to the Virtual School's PP+ queue and the "
                          "next PEP lists it among its previous targets", body=ActionTargetIn,
                          response=ActionTarget, status=201, tags=("children",))
GET_RETENTION = _op("get_retention", "get", "/organisations/{la_id}/retention", "How long the LA keeps a child's "
                    "records: until which birthday (75 unless its VS admin chose another; the LA's Virtual School), "
                    "and any reduction waiting to take effect", response=RetentionState, tags=("children",))
SET_RETENTION = _op("set_retention", "put", "/organisations/{la_id}/retention", "Change it (the LA's VS admin; 25 to "
                    "100). When that birthday passes, the retention job erases the child's records in every service. "
                    "An increase applies at once; a reduction is pending: it takes effect 30 days later, and only "
                    "once another VS admin confirms it (confirm_retention). A new change replaces a pending one",
                    body=RetentionRule, response=RetentionState, errors=(401, 403, 404, 422), tags=("children",))
CONFIRM_RETENTION = _op("confirm_retention", "post", "/organisations/{la_id}/retention/confirm", "Confirm the pending "
                        "reduction (a VS admin of the LA other than the one who proposed it; the body names the age "
                        "shown). It still takes effect only on its date", body=RetentionConfirm,
                        response=RetentionState, errors=(401, 403, 404, 409, 422), tags=("children",))

SUBJECT_ACCESS = operation(
    "subject_access", "get", "/children/{child_id}/subject-access", "Everything held about a child, for a subject "
    "access request: pep's record, PEPs, files, notes and access log, with delegation's tasks, qa's reviews and PP+ "
    "funding, and notify's emails about the child (the child's LA's VS admin only; recorded in the access log)",
    service="gateway", response=SubjectAccess, errors=(401, 403, 404), tags=("children",))
SUBJECT_ACCESS_PDF = operation(
    "subject_access_pdf", "get", "/children/{child_id}/subject-access.pdf", "The same export as PDF",
    service="gateway", media="application/pdf", errors=(401, 403, 404), tags=("children",))
