"""Children and PEPs in words, and the "Start a PEP" form's checks. Pure functions, no I/O.

The gateway's values are keys (`full_care_order`, `in_progress`); people read these words instead. An
unknown key (added by pep later) still reads sensibly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.portal.forms import DateField
from services.portal.pep_forms import parse_date
from shared.api.children import AccessEntry

KINDS = {"initial": "Initial PEP", "termly_review": "Termly review", "change_of_placement": "Change of placement",
         "change_of_setting": "Change of school or setting", "emergency": "Emergency placement"}
KIND_HINTS = {"initial": "The first PEP after the child came into care",
              "termly_review": "The PEP reviewed every term",
              "change_of_placement": "The child has moved to a new care placement",
              "change_of_setting": "The child has moved to a new school or setting",
              "emergency": "After an emergency placement: within 10 working days"}
TERMS = {"autumn": "Autumn", "spring": "Spring", "summer": "Summer"}
# (words, tag colour) for a PEP's status.
PEP_STATUSES = {
    "created": ("Not started", "govuk-tag--grey"),
    "in_progress": ("In progress", "govuk-tag--light-blue"),
    "submitted": ("Submitted", "govuk-tag--blue"),
    "returned": ("Returned for changes", "govuk-tag--orange"),
    "approved": ("Approved", "govuk-tag--turquoise"),
    "finalised": ("Finalised", "govuk-tag--green"),
    "cancelled": ("Cancelled", "govuk-tag--red"),
}
OPEN_STATUSES = ("created", "in_progress", "submitted", "returned", "approved")
# What the PEP page offers. Approving and returning are not here: they are the QA review's decision (qa_pages).
ACTIONS = {
    "submit": "Submit the PEP",
    "finalise": "Finalise",
    "cancel": "Cancel this PEP",
}
DECIDED_IN_REVIEW = ("approve", "return")
ACTION_DONE = {"submit": "PEP submitted", "return": "PEP returned for changes", "approve": "PEP approved",
               "finalise": "PEP finalised", "cancel": "PEP cancelled",
               # A part of the PEP submitted while it waits for another (pep's lifecycle.CONTRIBUTED).
               "submit_contribution": "Submitted the school’s contribution",
               "social_worker_complete": "Submitted the social worker’s part"}
ACTIONS_WITH_REASON = ("cancel",)
GENDERS = {"female": "Female", "male": "Male", "other": "Other", "not_known": "Not known"}
LEGAL_STATUSES = {"s20": "Section 20 (voluntary accommodation)", "interim_care_order": "Interim care order",
                  "full_care_order": "Full care order", "placement_order": "Placement order", "remand": "Remand",
                  "other": "Other"}
PLACEMENT_TYPES = {"foster_care": "Foster care", "kinship_care": "Kinship care", "residential": "Residential",
                   "secure": "Secure", "semi_independent": "Semi-independent", "placed_with_parents":
                   "Placed with parents", "placed_for_adoption": "Placed for adoption", "other": "Other"}
SEN_STATUSES = {"none": "None", "sen_support": "SEN support", "ehcp": "Education, health and care plan (EHCP)"}
ACCESS_VIA = {"virtual_school": "Virtual School", "social_worker": "Social worker",
              "designated_teacher": "Designated Teacher", "setting_staff": "Setting staff",
              "iro": "Independent Reviewing Officer", "carer": "Carer",
              "invited_young_person": "Young person, by invitation", "invited_carer": "Carer, by invitation"}
ATTACHMENT_KINDS = {"ehcp": "EHCP", "support_plan": "Support plan", "sdq": "SDQ form", "photo": "Photo",
                    "award": "Award", "other": "Other"}
# Who may start a PEP (pep decides; the button is offered only to them, and any refusal is shown).
STARTERS = ("virtual_school", "social_worker")


def words(choices: dict[str, str], key: str | None) -> str:
    if not key:
        return ""
    return choices.get(key, key.replace("_", " ").capitalize())


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def pep_status(status: str) -> dict[str, str]:
    """A govukTag's params for a PEP's status."""
    text, colour = PEP_STATUSES.get(status, (words({}, status), "govuk-tag--grey"))
    return {"text": text, "classes": colour}


def section_status(status: str, to_check: int) -> dict[str, Any]:
    """A task list item's status: completed is plain text (as the pattern says); the others are tags."""
    if to_check > 0 and status != "complete":
        return {"tag": {"text": "Check carried answers", "classes": "govuk-tag--yellow"}}
    if status == "complete":
        return {"text": "Completed"}
    if status == "in_progress":
        return {"tag": {"text": "In progress", "classes": "govuk-tag--light-blue"}}
    return {"tag": {"text": "Not started", "classes": "govuk-tag--blue"}}


INVITED = {"young_person": "young person", "carer": "carer"}
QUESTION_SETS = {"primary": "Primary", "secondary": "Secondary", "symbols": "Symbols and pictures"}


def given_by(name: str, audience: str, question_set: str | None, day: str) -> str:
    """Whose views a section holds: "Given by Kai (young person, by invitation) on 7 December 2026, with the
    Secondary questions"."""
    words = f"Given by {name} ({INVITED.get(audience, audience)}, by invitation) on {day}"
    return words + (f", with the {QUESTION_SETS.get(question_set, question_set)} questions" if question_set else "")


def visits(entries: list[AccessEntry]) -> list[list[AccessEntry]]:
    """The access log's rows, newest first, grouped by visit: the rows one page made (one request through the
    portal: the same request id, person and role) are one line, not seven."""
    grouped: list[list[AccessEntry]] = []
    for e in entries:
        last = grouped[-1][0] if grouped else None
        if last is not None and e.request_id and (e.request_id, e.user_id, e.via) == (
                last.request_id, last.user_id, last.via):
            grouped[-1].append(e)
        else:
            grouped.append([e])
    return grouped


def visit_words(visit: list[AccessEntry]) -> str:
    """What one visit did, in the order it was done: "Viewed the child's record, read the notes, viewed
    attendance"."""
    done: list[str] = []
    for e in reversed(visit):  # the log is newest first
        if e.what not in done:
            done.append(e.what)
    return ", ".join([done[0], *(w[:1].lower() + w[1:] for w in done[1:])])


def pep_title(kind: str, term: str, academic_year: str) -> str:
    """"Termly review, Spring 2026/27"."""
    return f"{words(KINDS, kind)}, {words(TERMS, term)} {academic_year}"


def academic_year(today: date) -> str:
    """The academic year a date is in (September to August): "2026/27"."""
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def term_of(today: date) -> str:
    return "autumn" if today.month >= 9 else "spring" if today.month <= 3 else "summer"


def percent(value: float | None) -> str:
    if value is None:
        return "Not recorded"
    return f"{value:.1f}%".replace(".0%", "%")


# ---- starting a PEP ------------------------------------------------------------------------------------------

ACADEMIC_YEAR_SHAPE = re.compile(r"^(\d{4})/(\d{2})$")
START_FIELDS = ("kind", "term", "academic_year", "meeting_date")
MEETING_DATE = DateField("meeting_date")  # the start form's meeting date: its boxes' names


@dataclass
class StartForm:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # by the id of the input to go to
    body: dict[str, Any] = field(default_factory=dict)  # the gateway's body, when there are no errors


def check_start(data: Any) -> StartForm:
    values = {name: str(data.get(name, "")).strip() for name in ("kind", "term", "academic_year")}
    values.update(MEETING_DATE.read(data))
    form = StartForm(values=values)
    if values["kind"] not in KINDS:
        form.errors["kind"] = "Select what kind of PEP this is"
    if values["term"] not in TERMS:
        form.errors["term"] = "Select the term"
    year = values["academic_year"].replace(" ", "").replace("-", "/")
    values["academic_year"] = year
    match = ACADEMIC_YEAR_SHAPE.match(year)
    if not year:
        form.errors["academic_year"] = "Enter the academic year"
    elif not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        form.errors["academic_year"] = "Enter the academic year like 2026/27"
    meeting, error = parse_date(*MEETING_DATE.typed(values), "The date of the PEP meeting")
    if error:
        form.errors["meeting_date"] = error
    if not form.errors:
        form.body = {"kind": values["kind"], "term": values["term"], "academic_year": year,
                     **({"meeting_date": meeting} if meeting else {})}
    return form
