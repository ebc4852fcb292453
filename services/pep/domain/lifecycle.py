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
    Transition("submit", frozenset(OPEN), "submitted",
               frozenset({"designated_teacher", "social_worker", "virtual_school"})),
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


TERMS = ("autumn", "spring", "summer")


def next_term(term: str, academic_year: str) -> tuple[str, str]:
    """The term after this one, and its academic year: summer 2026/27 is followed by autumn 2027/28."""
    i = TERMS.index(term)
    if i < len(TERMS) - 1:
        return TERMS[i + 1], academic_year
    start = int(academic_year[:4]) + 1
    return TERMS[0], f"{start}/{(start + 1) % 100:02d}"
