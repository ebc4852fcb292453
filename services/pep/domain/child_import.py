"""CSV imports of children's core data and of attendance: parsing and checking every row, no I/O.

Row numbers are as a spreadsheet shows them: the header is row 1, the first child row 2. A file is taken
whole or not at all, so the parser reports every problem in every row rather than stopping at the first.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from services.pep.domain import core_data
from shared.api.children import (
    GENDERS,
    LEGAL_STATUSES,
    PLACEMENT_TYPES,
    SEN_STATUSES,
    YEAR_GROUPS,
    AttendanceIn,
    CoreData,
)
from shared.errors import validation_problem

MAX_ROWS = 5000
DATE_HELP = "a date as YYYY-MM-DD or DD/MM/YYYY"


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "required": self.required, "description": self.description}


CHILD_COLUMNS = (
    Column("social_care_id", True, "The child's id in your social care system: a child with this id in the LA is "
           "updated, otherwise one is created"),
    Column("given_name", True, "Given name"),
    Column("family_name", True, "Family name"),
    Column("date_of_birth", True, f"Date of birth, {DATE_HELP}"),
    Column("gender", False, "One of: " + ", ".join(GENDERS)),
    Column("ethnicity", False, "Ethnicity, as your LA records it"),
    Column("first_language", False, "First language"),
    Column("upn", False, "Unique Pupil Number: 13 characters with the check letter first"),
    Column("uln", False, "Unique Learner Number (post-16): 10 digits"),
    Column("date_entered_care", False, f"Date entered care, {DATE_HELP}"),
    Column("legal_status", False, "One of: " + ", ".join(LEGAL_STATUSES)),
    Column("placement_type", False, "One of: " + ", ".join(PLACEMENT_TYPES)),
    Column("setting_id", False, "The education setting's id in this service"),
    Column("year_group", False, "One of: " + ", ".join(YEAR_GROUPS)),
    Column("sen_status", False, "One of: " + ", ".join(SEN_STATUSES)),
    Column("health_notes", False, "Health notes"),
    Column("in_care", False, "yes or no (yes if left out)"),
    Column("social_worker_email", False, "The allocated social worker's email: they need an account in the LA"),
    Column("iro_email", False, "The Independent Reviewing Officer's email: they need an account in the LA"),
)
ATTENDANCE_COLUMNS = (
    Column("social_care_id", False, "The child's id in your social care system (or give upn)"),
    Column("upn", False, "The child's Unique Pupil Number (or give social_care_id)"),
    Column("period_start", True, f"First day of the period, {DATE_HELP}"),
    Column("period_end", True, f"Last day of the period, {DATE_HELP}"),
    Column("possible_sessions", True, "Possible sessions (half days)"),
    Column("attended_sessions", True, "Sessions attended"),
    Column("authorised_absences", False, "Authorised absences (sessions); 0 if left out"),
    Column("unauthorised_absences", False, "Unauthorised absences (sessions); 0 if left out"),
)
_DATE_FIELDS = {"date_of_birth", "date_entered_care", "period_start", "period_end"}
_EMAIL_FIELDS = {"social_worker_email", "iro_email"}


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ChildRow:
    row: int
    social_care_id: str
    values: dict[str, Any]  # core data fields named in the header, typed and normalised (None: clear)
    # {social_worker_email, iro_email} named in the header: only the store can turn them into people
    emails: dict[str, str | None]


@dataclass
class AttendanceRow:
    row: int
    social_care_id: str | None
    upn: str | None
    record: AttendanceIn


@dataclass
class Parsed:
    rows: list[Any]
    errors: list[RowError]


def parse_children(text: str, today: date) -> Parsed:
    """Children to create or update. Columns left out of the header are left as they are on an update;
    an empty cell clears that field."""
    header, records, errors = _read(text, CHILD_COLUMNS)
    rows: list[ChildRow] = []
    seen: dict[str, int] = {}
    for number, cells in records:
        raw = {name: cells.get(name, "") for name in header}
        row_errors: list[RowError] = []
        values: dict[str, Any] = {}
        for name in header:
            if name in ("social_care_id", *_EMAIL_FIELDS):
                continue
            value, problem = _convert(name, raw[name])
            if problem:
                row_errors.append(RowError(number, name, problem))
            else:
                values[name] = value
        typed, model_errors = _typed(CoreData, values, number)
        row_errors.extend(model_errors)
        values = typed
        values = core_data.normalise(values)
        for name in ("given_name", "family_name", "date_of_birth"):
            if name in header and values.get(name) is None and not any(e.field == name for e in row_errors):
                row_errors.append(RowError(number, name, "This cannot be empty"))
        row_errors.extend(RowError(number, e.field, e.message) for e in core_data.problems(values, today))
        social_care_id = raw.get("social_care_id", "").strip()
        if not social_care_id:
            row_errors.append(RowError(number, "social_care_id", "This cannot be empty"))
        elif len(social_care_id) > 50:
            row_errors.append(RowError(number, "social_care_id", "Must be at most 50 characters"))
        elif social_care_id in seen:
            row_errors.append(RowError(number, "social_care_id", f"The same child is on row {seen[social_care_id]}"))
        else:
            seen[social_care_id] = number
        if "in_care" in values and values["in_care"] is None:
            values["in_care"] = True
        emails = {name: raw[name].strip().lower() or None for name in _EMAIL_FIELDS if name in header}
        errors.extend(row_errors)
        if not row_errors:
            rows.append(ChildRow(number, social_care_id, values, emails))
    return Parsed(rows, errors)


def parse_attendance(text: str) -> Parsed:
    header, records, errors = _read(text, ATTENDANCE_COLUMNS)
    if header and not {"social_care_id", "upn"} & set(header):
        errors.append(RowError(1, "social_care_id", "Add a column named social_care_id or upn"))
    rows: list[AttendanceRow] = []
    for number, cells in records:
        row_errors: list[RowError] = []
        values: dict[str, Any] = {}
        for name in header:
            if name in ("social_care_id", "upn"):
                continue
            value, problem = _convert(name, cells.get(name, ""))
            if problem:
                row_errors.append(RowError(number, name, problem))
            elif value is not None:
                values[name] = value
        social_care_id = cells.get("social_care_id", "").strip() or None
        upn = core_data.normalise({"upn": cells.get("upn", "")})["upn"]
        if header and {"social_care_id", "upn"} & set(header) and not social_care_id and not upn:
            row_errors.append(RowError(number, "social_care_id", "Give the child's social_care_id or upn"))
        record: AttendanceIn | None = None
        if not row_errors:
            try:
                record = AttendanceIn.model_validate(values)
            except ValidationError as exc:
                row_errors.extend(_errors_of(exc, number))
        if record is not None:
            row_errors.extend(RowError(number, e.field, e.message) for e in core_data.attendance_problems(record))
        errors.extend(row_errors)
        if not row_errors and record is not None:
            rows.append(AttendanceRow(number, social_care_id, upn, record))
    return Parsed(rows, errors)


def _read(text: str, columns: tuple[Column, ...]) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[RowError]]:
    """The header (known names, normalised) and each non-empty row by its spreadsheet row number."""
    known = {c.name for c in columns}
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))  # a byte order mark from spreadsheet exports
    errors: list[RowError] = []
    try:
        header_cells = next(reader, [])
        header = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in header_cells]
        for name in header:
            if name and name not in known:
                errors.append(RowError(1, name, "Unknown column"))
        for name in {h for h in header if header.count(h) > 1}:
            errors.append(RowError(1, name, "This column appears more than once"))
        for c in columns:
            if c.required and c.name not in header:
                errors.append(RowError(1, c.name, f"Add a column named {c.name}"))
        records: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(records) >= MAX_ROWS:
                errors.append(RowError(number, "csv", f"A file can have at most {MAX_ROWS} rows: split it"))
                break
            if len(cells) > len(header):
                errors.append(RowError(number, "csv", "This row has more cells than the header has columns"))
                continue
            records.append((number, {h: cells[i] for i, h in enumerate(header) if i < len(cells) and h in known}))
    except csv.Error as exc:
        errors.append(RowError(reader.line_num or 1, "csv", f"The file is not valid CSV: {exc}"))
        return [], [], errors
    if not records and not errors:
        errors.append(RowError(2, "csv", "The file has no rows after the header"))
    return [h for h in header if h in known], records, errors


def _convert(name: str, cell: str) -> tuple[Any, str | None]:
    """A cell as the value the model expects; empty cells are None."""
    text = cell.strip()
    if not text:
        return None, None
    if name in _DATE_FIELDS:
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, fmt).date(), None
            except ValueError:
                continue
        return None, f"Enter {DATE_HELP}"
    if name == "in_care":
        answer = text.lower()
        if answer in ("yes", "y", "true", "1"):
            return True, None
        if answer in ("no", "n", "false", "0"):
            return False, None
        return None, "Enter yes or no"
    if name in ("possible_sessions", "attended_sessions", "authorised_absences", "unauthorised_absences"):
        if not text.isdigit():
            return None, "Enter a whole number of sessions"
        return int(text), None
    return text, None


def _typed(model: type[BaseModel], values: dict[str, Any], row: int) -> tuple[dict[str, Any], list[RowError]]:
    """The cells the model accepts, as the model types them, and what it says about the others."""
    try:
        return model.model_validate(values).model_dump(exclude_unset=True), []
    except ValidationError as exc:
        errors = _errors_of(exc, row)
    good = {k: v for k, v in values.items() if k not in {e.field for e in errors}}
    return model.model_validate(good).model_dump(exclude_unset=True), errors


def _errors_of(exc: ValidationError, row: int) -> list[RowError]:
    return [RowError(row, e.field.split(".")[0], e.message) for e in validation_problem(exc).errors]
