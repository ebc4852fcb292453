"""Rules of a child's core data that the API models cannot check alone: identifiers with check characters,
dates that must make sense together, what a year group means, and what counts as a change. No I/O."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.pep.domain.identifiers import (
    ULN_MESSAGE,
    UPN_MESSAGE,
    is_valid_uln,
    is_valid_upn,
    normalise_uln,
    normalise_upn,
)
from shared.api.children import KeyStage, Phase
from shared.errors import FieldError

# Changes to these are kept in the placement history and the setting history.
PLACEMENT_FIELDS = ("legal_status", "placement_type", "carer", "carer_ids", "in_care", "date_entered_care",
                    "entered_care_emergency", "social_worker_id", "iro_id")
SETTING_FIELDS = ("setting_id", "year_group")
OLDEST_AGE = 26  # care leavers are supported to 25


def key_stage(year_group: str | None) -> KeyStage | None:
    if year_group in ("Nursery", "Reception"):
        return "EYFS"
    number = _year_number(year_group)
    if number is None:
        return None
    return "KS1" if number <= 2 else "KS2" if number <= 6 else "KS3" if number <= 9 else "KS4" if number <= 11 \
        else "KS5"


def phase(year_group: str | None) -> Phase | None:
    """Which PEP template the year group calls for: Early Years (before school), Statutory School Age
    (Reception to Year 11), Post-16."""
    if year_group == "Nursery":
        return "early_years"
    if year_group == "Reception":
        return "school_age"
    number = _year_number(year_group)
    if number is None:
        return None
    return "post_16" if number >= 12 else "school_age"


def _year_number(year_group: str | None) -> int | None:
    if not year_group or not year_group.startswith("Year "):
        return None
    try:
        return int(year_group.removeprefix("Year "))
    except ValueError:
        return None


def academic_year_of(day: date) -> tuple[date, date]:
    """The English academic year (1 September to 31 August) a day falls in."""
    start = date(day.year if day.month >= 9 else day.year - 1, 9, 1)
    return start, date(start.year + 1, 8, 31)


def academic_year_label(day: date) -> str:
    start, _ = academic_year_of(day)
    return f"{start.year}/{(start.year + 1) % 100:02d}"


def attendance_percent(attended: int, possible: int) -> float | None:
    return round(100 * attended / possible, 1) if possible > 0 else None


def normalise(values: dict[str, Any]) -> dict[str, Any]:
    """Identifiers as they are stored: spaces and case people type are forgiven."""
    out = dict(values)
    if isinstance(out.get("upn"), str):
        out["upn"] = normalise_upn(out["upn"]) or None
    if isinstance(out.get("uln"), str):
        out["uln"] = normalise_uln(out["uln"]) or None
    return out


def problems(record: dict[str, Any], today: date, changed: set[str] | None = None) -> list[FieldError]:
    """What is wrong with a child's record (already normalised). Only fields in `changed` are blamed, so an
    edit is not refused for an old value nobody is touching now; None checks every field."""

    def blamed(*fields: str) -> bool:
        return changed is None or bool(changed & set(fields))

    errors: list[FieldError] = []
    upn, uln = record.get("upn"), record.get("uln")
    if upn is not None and blamed("upn") and not is_valid_upn(upn):
        errors.append(FieldError(field="upn", message=UPN_MESSAGE))
    if uln is not None and blamed("uln") and not is_valid_uln(uln):
        errors.append(FieldError(field="uln", message=ULN_MESSAGE))
    born, entered = record.get("date_of_birth"), record.get("date_entered_care")
    if isinstance(born, date) and blamed("date_of_birth"):
        if born > today:
            errors.append(FieldError(field="date_of_birth", message="The date of birth must be in the past"))
        elif born < date(today.year - OLDEST_AGE, today.month, 1):
            errors.append(FieldError(field="date_of_birth",
                                     message=f"The date of birth must be for someone younger than {OLDEST_AGE}"))
    if isinstance(entered, date) and blamed("date_entered_care", "date_of_birth"):
        if entered > today:
            errors.append(FieldError(field="date_entered_care", message="The date entered care must be today or "
                                     "in the past"))
        elif isinstance(born, date) and entered < born:
            errors.append(FieldError(field="date_entered_care", message="The date entered care must be on or after "
                                     "the date of birth"))
    return errors


def changes(current: dict[str, Any], proposed: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields whose value would really change: {field: (from, to)}. Saving what is there is no change."""
    return {k: (current.get(k), v) for k, v in proposed.items() if _comparable(current.get(k)) != _comparable(v)}


def _comparable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if v is not None}
    return str(value) if value is not None and not isinstance(value, bool | int) else value


def attendance_problems(record: Any) -> list[FieldError]:
    """A period's sessions must add up: nobody attends or misses more sessions than were possible."""
    errors: list[FieldError] = []
    if record.period_end < record.period_start:
        errors.append(FieldError(field="period_end", message="The end of the period must be on or after its start"))
    if record.attended_sessions > record.possible_sessions:
        errors.append(FieldError(field="attended_sessions",
                                 message="Attended sessions cannot be more than possible sessions"))
    elif record.attended_sessions + record.authorised_absences + record.unauthorised_absences \
            > record.possible_sessions:
        errors.append(FieldError(field="possible_sessions", message="Attended sessions and absences add up to more "
                                 "than the possible sessions"))
    return errors
