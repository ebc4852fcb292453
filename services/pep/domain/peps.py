"""PEP documents: the rules, without I/O. Who may edit a section now, what stops sign-off, how two versions
compare, and what a submitted PEP tells others (its attainment rows, its meeting's invitees)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.pep.domain import lifecycle
from services.pep.domain.access import Access
from services.pep.domain.templates import missing
from shared.api.peps import Difference, Missing, WithSchool
from shared.api.templates import Section, Template, TemplateField
from shared.contracts import MeetingInvitee, SubjectAttainment

DELEGATES = frozenset({"designated_teacher", "setting_staff"})  # how a delegate reaches the child
MEETING, MEETING_KEYS = "meeting", {"meeting_date", "meeting_time", "location", "attendees"}


def held_by_delegate(key: str, via: str, delegated: frozenset[str]) -> bool:
    """True when this section is delegated and the caller is not the delegate: they may not write it now."""
    return key in delegated and via not in DELEGATES


def may_edit(status: str, access: Access, section: Section, delegated: frozenset[str],
             parts_in: frozenset[str] = frozenset()) -> bool:
    """The section's writers may edit it while the PEP is open; a delegated section, only the delegate (whatever
    role usually writes it: delegating is how the Virtual School hands a section to the school). Once the school's
    contribution is in (`parts_in`), nothing is the school's to edit until QA returns the PEP."""
    if not access.can_edit or lifecycle.submitted_part(access.via, parts_in) is not None:
        return False
    if section.key in delegated:
        return status in lifecycle.EDITABLE and not held_by_delegate(section.key, access.via, delegated)
    return lifecycle.may_edit_section(section.owner, status, access.via)


def shown_state(pep_status: str, status: str, to_check: list[str]) -> tuple[str, list[str]]:
    """A section's state as people read it. A finalised PEP is finished: it was signed off as it stands, so every
    section is complete with nothing left to check, whatever was last saved in it (or never opened, as the
    Virtual School's sign-off is when QA's review stands in for it)."""
    if pep_status == "finalised":
        return "complete", []
    return status, to_check


def missing_for_sign_off(template: Template, answers: Mapping[str, dict[str, Any]], access: Access | None,
                         part: str | None = None, delegated: frozenset[str] = frozenset()) -> list[Missing]:
    """Every mandatory answer shown that is not there, section by section (those the caller may see, when
    `access` is given). The Virtual School's own section is not counted: its sign-off comes after submission.
    `part` (lifecycle.SCHOOL or SOCIAL_WORKER): only that part's sections (`delegated`: those with the school now),
    which is what its writer can fix and all their submission needs; None: the whole PEP. A section with the school
    (delegated, the task open) is not the caller's to fix when they are not the school (with_school)."""
    found = []
    for section in template.sections:
        if section.owner == "virtual_school" or (access is not None and not access.may_see_section(section.key)):
            continue
        if access is not None and held_by_delegate(section.key, access.via, delegated):
            continue
        if part is not None and lifecycle.section_part(section.owner, section.key, delegated) != part:
            continue
        for gap in missing(section.fields, answers[section.key]):
            found.append(Missing(section=section.key, section_title=section.title, field=gap.field,
                                 message=gap.message))
    return found


def with_school(template: Template, answers: Mapping[str, dict[str, Any]], access: Access,
                delegated: frozenset[str]) -> list[WithSchool]:
    """The sections the caller sees that are with the school (delegated, its task open; not the school asking),
    each with how many mandatory answers it still needs."""
    return [WithSchool(section=s.key, section_title=s.title, missing=len(missing(s.fields, answers[s.key])))
            for s in template.sections
            if access.may_see_section(s.key) and held_by_delegate(s.key, access.via, delegated)]


def compare(fields: list[TemplateField], before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    """Question by question: what it was, what it is, whether it changed."""
    return [Difference(field=f.key, label=f.label, before=before.get(f.key), after=after.get(f.key),
                       changed=before.get(f.key) != after.get(f.key)) for f in fields]


def subject_attainment(answers: Mapping[str, dict[str, Any]]) -> list[SubjectAttainment]:
    """Each subject row of the attainment section (its `subjects` group), where the template has one."""
    for section_answers in answers.values():
        rows = section_answers.get("subjects")
        if isinstance(rows, list):
            return [SubjectAttainment(subject=_text(r.get("subject")),
                                      compared_with_are=_text(r.get("compared_with_are")),
                                      progress=_text(r.get("progress"))) for r in rows if isinstance(r, dict)]
    return []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def meeting_invitees(answers: Mapping[str, Any]) -> list[MeetingInvitee]:
    """Everyone the meeting section lists as invited; notify sends the calendar invitation to those with an
    email address."""
    return [MeetingInvitee(name=str(a["name"]), email=a.get("email") or None, role=a.get("role"))
            for a in answers.get("attendees") or [] if isinstance(a, dict) and a.get("name")]
