"""A PEP's lifecycle: who may do what in each state, as one table.

created -> in progress -> submitted -> returned for amendment <-> resubmitted -> approved -> finalised;
cancelled from any state before finalised. `via` is how the caller reaches the child (domain/access.py), or
QUALITY_ASSURANCE: approving and returning are qa's alone, taken when a Virtual School reviewer decides a review
(services/qa/reviews.py), so no PEP is approved without a decided review of it.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN = ("created", "in_progress", "returned")
EDITABLE = frozenset(OPEN)
FINAL = frozenset({"finalised", "cancelled"})
# Not a way to reach a child: qa, deciding a review for a Virtual School reviewer (peps.py's qa_decision).
QUALITY_ASSURANCE = "quality_assurance"


@dataclass(frozen=True)
class Transition:
    action: str
    from_states: frozenset[str]
    to_state: str
    who: frozenset[str]
    needs_reason: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    # A delegate's or the social worker's submit is their part (PARTS below); the PEP moves when every part is in.
    Transition("submit", frozenset(OPEN), "submitted",
               frozenset({"designated_teacher", "setting_staff", "social_worker", "virtual_school"})),
    Transition("return", frozenset({"submitted"}), "returned", frozenset({QUALITY_ASSURANCE}), needs_reason=True),
    Transition("approve", frozenset({"submitted"}), "approved", frozenset({QUALITY_ASSURANCE})),
    Transition("finalise", frozenset({"approved"}), "finalised", frozenset({"social_worker", "virtual_school"})),
    Transition("cancel", frozenset({*OPEN, "submitted", "approved"}), "cancelled", frozenset({"virtual_school"}),
               needs_reason=True),
)


def transition(action: str, state: str, via: str) -> Transition | None:
    """The transition if this caller may take this action now; None if not."""
    for t in TRANSITIONS:
        if t.action == action and state in t.from_states and via in t.who:
            return t
    return None


def allowed_actions(state: str, via: str) -> list[str]:
    return [t.action for t in TRANSITIONS if state in t.from_states and via in t.who]


# Who may write each section, by its owner. While a PEP is delegated (its own issue) only the delegate writes.
SECTION_WRITERS: dict[str, frozenset[str]] = {
    "social_worker": frozenset({"social_worker", "virtual_school"}),
    "designated_teacher": frozenset({"designated_teacher", "setting_staff", "virtual_school"}),
    # The DT or social worker records the child's and carer's views with them (or sends them a secure link).
    "young_person": frozenset({"designated_teacher", "setting_staff", "social_worker", "virtual_school"}),
    "carer": frozenset({"designated_teacher", "setting_staff", "social_worker", "virtual_school"}),
    "virtual_school": frozenset({"virtual_school"}),
}


def may_edit_section(owner: str, state: str, via: str) -> bool:
    if state in EDITABLE:
        return via in SECTION_WRITERS[owner]
    # Once submitted, only the Virtual School's own sign-off section is still written, until finalised.
    return state in ("submitted", "approved") and owner == "virtual_school" and via == "virtual_school"


# ---- the parts of a PEP, and when it goes to quality assurance (Kent's "Submit Contribution") -------------------
# The school (its DT and staff) submits its contribution: the sections delegated to it and those it writes; the
# social worker completes theirs. Submitting ends that part's work; the PEP goes to QA once every part the LA's
# rule waits for is in. The Virtual School, who may write every section, submits the PEP as a whole (no part).
SCHOOL, SOCIAL_WORKER = "school", "social_worker"
PART_OF_VIA = {"designated_teacher": SCHOOL, "setting_staff": SCHOOL, "social_worker": SOCIAL_WORKER}
SCHOOL_OWNERS = frozenset({"designated_teacher", "young_person", "carer"})  # ePEP Online: B and the child's C
# The LA's rule (its VS admin chooses): Kent sends the PEP to QA when the school submits; ePEP Online when the
# social worker has completed their section too.
SCHOOL_SUBMITS, SOCIAL_WORKER_COMPLETES = "school_submits", "social_worker_completes"
GOES_TO_QA = (SCHOOL_SUBMITS, SOCIAL_WORKER_COMPLETES)
DEFAULT_GOES_TO_QA = SCHOOL_SUBMITS
# The transition's action when a part is in but the PEP waits for another (pep.pep.status_changed, status unchanged).
CONTRIBUTED = {SCHOOL: "submit_contribution", SOCIAL_WORKER: "social_worker_complete"}


def part_of(via: str) -> str | None:
    """The part of the PEP this caller submits: the school's, the social worker's, or None (the whole PEP)."""
    return PART_OF_VIA.get(via)


def submitted_part(via: str, parts_in: frozenset[str]) -> str | None:
    """The caller's part when it is in and so read-only for them: the school's, once it submitted its contribution,
    until QA returns the PEP (which takes the school's part back). The social worker's section stays theirs while
    the PEP waits for the school; the Virtual School writes every section until the PEP goes to QA."""
    part = part_of(via)
    return part if part == SCHOOL and part in parts_in else None


def section_part(owner: str, key: str, delegated: frozenset[str]) -> str | None:
    """Whose part a section is: the school's when delegated to it or written by it; the social worker's own
    section otherwise theirs; the Virtual School's sign-off is nobody's (it comes after submission)."""
    if key in delegated or owner in SCHOOL_OWNERS:
        return SCHOOL
    if owner == "social_worker":
        return SOCIAL_WORKER
    return None


def parts_needed(goes_to_qa: str, status: str, has_school: bool) -> frozenset[str]:
    """The parts that must be in before the PEP goes to QA. A PEP QA returned goes back when the school (who
    QA returned it to) resubmits; a child without a school waits for the social worker alone."""
    if not has_school:
        return frozenset({SOCIAL_WORKER})
    if status == "returned" or goes_to_qa == SCHOOL_SUBMITS:
        return frozenset({SCHOOL})
    return frozenset({SCHOOL, SOCIAL_WORKER})


TERMS = ("autumn", "spring", "summer")


def next_term(term: str, academic_year: str) -> tuple[str, str]:
    """The term after this one, and its academic year: summer 2026/27 is followed by autumn 2027/28."""
    i = TERMS.index(term)
    if i < len(TERMS) - 1:
        return TERMS[i + 1], academic_year
    start = int(academic_year[:4]) + 1
    return TERMS[0], f"{start}/{(start + 1) % 100:02d}"
