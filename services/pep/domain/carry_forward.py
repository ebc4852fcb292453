"""Starting a PEP: what it takes from the child's last PEP and from their core data.

About 70% of a PEP stays the same term to term; it is copied so nobody retypes it, and listed as "to check"
so somebody reads it again. Last term's current targets become this term's previous targets, waiting for
their review. The caller passes only this child's previous answers: nothing can come from another child.
Answers from the child's record (core data) are filled in too, but they are not carried answers: a first PEP,
with nothing to carry, has nothing to check. The next meeting the last PEP agreed is this PEP's meeting.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.pep.domain.peps import MEETING
from shared.api.templates import Template, TemplateField

CURRENT_TARGETS, PREVIOUS_TARGETS = "current_targets", "previous_targets"
TEXT = ("text", "long_text")
# The meeting section's agreed next meeting, and the question of the next PEP's meeting section each becomes.
NEXT_MEETING = {"next_meeting_date": "meeting_date", "next_meeting_time": "meeting_time",
                "next_meeting_venue": "location"}


def next_meeting(meeting: dict[str, Any], held: date | None, today: date) -> dict[str, Any] | None:
    """The next PEP's meeting as the finalised PEP's meeting section agreed it (`meeting_date`, `meeting_time`,
    `location`), or None: no date agreed, or one that is not still to come (before today, or not after the
    meeting `held`), which is no meeting to schedule."""
    try:
        when = date.fromisoformat(str(meeting.get("next_meeting_date") or ""))
    except ValueError:
        return None
    if when < today or (held is not None and when <= held):
        return None
    agreed = {ours: meeting[theirs] for theirs, ours in NEXT_MEETING.items() if meeting.get(theirs) not in (None, "")}
    return agreed | {"meeting_date": when.isoformat()}


def start_answers(template: Template, previous: dict[str, dict[str, Any]] | None, core: dict[str, Any],
                  meeting: dict[str, Any] | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(answers per section, keys per section to check) for a new PEP; `meeting`: its meeting section's answers
    already agreed (next_meeting), which are its own, not carried answers to check."""
    answers: dict[str, dict[str, Any]] = {}
    to_check: dict[str, list[str]] = {}
    previous = previous or {}
    for section in template.sections:
        before = previous.get(section.key, {})
        mine: dict[str, Any] = {}
        check: list[str] = []
        moves_targets = section.field(PREVIOUS_TARGETS) is not None
        for field in section.fields:
            if field.key == CURRENT_TARGETS and moves_targets:
                continue  # moved into previous targets below, not copied: this term's are written afresh
            if field.carry_forward and before.get(field.key) not in (None, "", []):
                mine[field.key] = before[field.key]
                check.append(field.key)
            elif field.prefill and core.get(field.prefill) not in (None, ""):
                mine[field.key] = core[field.prefill]  # from the record as it is now: nothing carried to check
        previous_group = section.field(PREVIOUS_TARGETS)
        if previous_group is not None and previous_group.type == "group":
            carried = _targets_to_review(previous_group, _find_current_targets(previous))
            if carried:
                mine[PREVIOUS_TARGETS] = carried
                check += [f"{PREVIOUS_TARGETS}.{i}" for i in range(1, len(carried) + 1)]
        if section.key == MEETING and meeting:
            agreed = {k: v for k, v in meeting.items() if section.field(k) is not None}
            mine.update(agreed)
            check = [k for k in check if k not in agreed]
        if mine:
            answers[section.key] = mine
            to_check[section.key] = check
    return answers, to_check


def _find_current_targets(previous: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    for section_answers in previous.values():
        rows = section_answers.get(CURRENT_TARGETS)
        if isinstance(rows, list):
            return [r for r in rows if isinstance(r, dict)]
    return []


def _targets_to_review(group: TemplateField, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each of last term's targets, as a row to review: its words in the review's first text column."""
    columns = group.fields or []
    text_column = next((f.key for f in columns if f.type in TEXT), None)
    if text_column is None:
        return []
    reviewed = []
    for row in rows[: group.max_rows or len(rows)]:
        words = row.get("target") or row.get("what") or next(
            (v for v in row.values() if isinstance(v, str) and v.strip()), None)
        if words:
            reviewed.append({text_column: words})
    return reviewed


def add_targets_between_peps(template: Template, answers: dict[str, dict[str, Any]],
                             to_check: dict[str, list[str]], words: list[str]) -> int:
    """Targets raised between PEPs (Kent's "Action Plan and Targets outside of PEP") join the new PEP's previous
    targets to review, after those carried from the last PEP, as far as the group has rows. Returns how many of
    `words` (oldest first) were added; the rest wait for the PEP after."""
    for section in template.sections:
        group = section.field(PREVIOUS_TARGETS)
        if group is None or group.type != "group":
            continue
        text_column = next((f.key for f in group.fields or [] if f.type in TEXT), None)
        if text_column is None:
            return 0
        mine = answers.setdefault(section.key, {})
        rows = list(mine.get(PREVIOUS_TARGETS) or [])
        room = max((group.max_rows or len(rows) + len(words)) - len(rows), 0)
        added = words[:room]
        if added:
            mine[PREVIOUS_TARGETS] = rows + [{text_column: w} for w in added]
            checks = to_check.setdefault(section.key, [])
            checks += [f"{PREVIOUS_TARGETS}.{i}" for i in range(len(rows) + 1, len(rows) + len(added) + 1)]
        return len(added)
    return 0


def funding_requests(answers: dict[str, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The current targets that need funding, with their row numbers: what a submitted PEP asks qa to decide."""
    for section_answers in answers.values():
        rows = section_answers.get(CURRENT_TARGETS)
        if isinstance(rows, list):
            return [(i, row) for i, row in enumerate(rows, start=1) if isinstance(row, dict)
                    and row.get("needs_funding") is True]
    return []


def core_values(child: dict[str, Any], setting_name: str | None = None) -> dict[str, Any]:
    """Core data under the names templates use in `prefill` (child.<field>)."""
    values = {f"child.{k}": (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in child.items()
              if isinstance(v, str | int | float | bool) or hasattr(v, "isoformat")}
    if setting_name:
        values["child.setting_name"] = setting_name
    return values
