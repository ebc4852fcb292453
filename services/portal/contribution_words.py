"""A PEP's sign-off in words: what the person signing submits (the school's contribution, the social worker's
part, or the whole PEP), which parts are in, and when the LA sends the PEP to quality assurance. Pure functions;
pep decides everything (shared/api/peps.py SignOff)."""

from __future__ import annotations

from typing import Any

from services.portal.accounts import date_only
from shared.api.peps import PartState, SignOff

# (page heading, button) by the caller's part; None: the Virtual School submits the whole PEP.
SUBMIT_WORDS: dict[str | None, tuple[str, str]] = {
    "school": ("Submit your contribution", "Submit contribution"),
    "social_worker": ("Submit your part of the PEP", "Submit your part"),
    None: ("Submit the PEP", "Submit the PEP"),
}
PART_NAMES = {"school": "School’s contribution", "social_worker": "Social worker’s part"}
RULES = {
    "school_submits": "When the school submits its contribution",
    "social_worker_completes": "When the school has submitted its contribution and the social worker has "
                               "completed their part",
}
RULE_HINTS = {
    "school_submits": "As in Kent: the Designated Teacher’s submission sends the PEP to the Virtual School. The "
                      "social worker does not hold it up.",
    "social_worker_completes": "As in ePEP Online: the PEP waits for both. Whoever submits last sends it.",
}
DONE = {"contributed": "Contribution submitted", "part": "Your part of the PEP is submitted"}


def _who(part: PartState, setting_names: dict[str, str]) -> str:
    if part.part == "school":
        school = setting_names.get(str(part.setting_id)) if part.setting_id else None
        return school or part.submitted_by_name or "the school"
    return part.submitted_by_name or "the social worker"


def submitted_line(part: PartState, setting_names: dict[str, str]) -> str:
    """"Contribution submitted by Oakfield Primary on 3 March 2027"; "Social worker’s part submitted by …"."""
    if part.submitted_at is None:
        return "Not submitted yet"
    what = "Contribution" if part.part == "school" else "Social worker’s part"
    return f"{what} submitted by {_who(part, setting_names)} on {date_only(part.submitted_at)}"


def waiting_for(state: SignOff) -> list[str]:
    """The parts the PEP still waits for before it goes to QA (their names)."""
    return [PART_NAMES[p.part] for p in state.parts if p.needed and p.submitted_at is None]


def part_rows(state: SignOff, setting_names: dict[str, str]) -> list[dict[str, Any]]:
    """A summary list's rows: each part, and whether it is in."""
    rows = []
    for p in state.parts:
        text = f"Submitted by {_who(p, setting_names)} on {date_only(p.submitted_at)}" if p.submitted_at \
            else "Not submitted yet"
        rows.append({"key": {"text": PART_NAMES[p.part]},
                     "value": {"text": text if p.needed else f"{text} (the PEP does not wait for it)"}})
    return rows


def banner_lines(state: SignOff, setting_names: dict[str, str]) -> list[str]:
    """What a PEP still being written says of the parts already in, and what it waits for; [] when none is in."""
    if state.status not in ("created", "in_progress", "returned"):
        return []
    lines = [submitted_line(p, setting_names) for p in state.parts if p.submitted_at is not None]
    if lines and (waiting := waiting_for(state)):
        lines.append(f"The PEP goes to quality assurance once this is in: {', '.join(waiting)}.")
    return lines
