"""PEP templates as declarative, versioned data, and the rules for answers to them.

A template is sections owned by roles; a section is fields; a field has a type, may be mandatory (per LA),
shown only when an earlier answer has a given value, pre-filled from core data and carried forward to the
next PEP. Repeating groups (attainment rows, targets 1–5) hold their own fields. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["text", "long_text", "date", "time", "yes_no", "single_choice", "multiple_choice", "number",
                    "money", "score", "group"]
OwnerRole = Literal["social_worker", "designated_teacher", "young_person", "carer", "virtual_school"]
Phase = Literal["early_years", "school_age", "post_16"]
KEY = r"^[a-z][a-z0-9_]*$"
CHOICE_TYPES = {"single_choice", "multiple_choice"}


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(pattern=KEY)
    label: str
    # A picture shown beside the words (the portal's images/symbols/<name>.svg): for the child's views, where a
    # young child or one with severe and complex needs answers by pointing at a symbol.
    symbol: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$")


class ShowWhen(BaseModel):
    """Show a field only when an earlier field in the same section (or group) has one of these values."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(pattern=KEY)
    equals: list[str | bool] = Field(min_length=1)


class TemplateField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY)
    label: str = Field(min_length=1)
    type: FieldType
    hint: str | None = None
    mandatory: bool = False
    show_when: ShowWhen | None = None
    options: list[Option] | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = Field(default=None, gt=0)
    prefill: str | None = Field(default=None, description="core data to start from, e.g. child.date_of_birth")
    carry_forward: bool = False
    fields: list[TemplateField] | None = Field(default=None, description="the fields of each row of a group")
    min_rows: int = 0
    max_rows: int | None = None
    # Asked of the adult who records the views, not of the child: left out of the form a young person or carer
    # opens from a secure invitation (how the views were gathered, who helped, which questions suit).
    for_adult: bool = False
    # Sign-off needs this exact answer ("I confirm the meeting took place" must be yes, not just answered).
    must_be: str | bool | None = None

    @model_validator(mode="after")
    def _shape(self) -> TemplateField:
        if (self.type in CHOICE_TYPES) != bool(self.options):
            raise ValueError(f"{self.key}: choice fields, and only they, have options")
        if (self.type == "group") != bool(self.fields):
            raise ValueError(f"{self.key}: group fields, and only they, have fields")
        if self.options and len({o.value for o in self.options}) != len(self.options):
            raise ValueError(f"{self.key}: option values must be unique")
        if self.fields:
            _check_keys(self.fields, self.key)
        return self


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY)
    title: str
    owner: OwnerRole
    description: str | None = None
    fields: list[TemplateField] = Field(min_length=1)

    @model_validator(mode="after")
    def _fields(self) -> Section:
        _check_keys(self.fields, self.key)
        return self

    def field(self, key: str) -> TemplateField | None:
        return next((f for f in self.fields if f.key == key), None)


class Template(BaseModel):
    """One version of a template. A PEP keeps the version it started with."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    phase: Phase
    version: int = Field(ge=1)
    sections: list[Section] = Field(min_length=1)

    @field_validator("sections")
    @classmethod
    def _unique_sections(cls, sections: list[Section]) -> list[Section]:
        keys = [s.key for s in sections]
        if len(keys) != len(set(keys)):
            raise ValueError("section keys must be unique")
        return sections

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def _check_keys(fields: list[TemplateField], where: str) -> None:
    seen: dict[str, TemplateField] = {}
    for f in fields:
        if f.key in seen:
            raise ValueError(f"{where}: field key {f.key} is used twice")
        if f.show_when is not None:
            # Questions are answered top-down: a condition may only look at an earlier answer.
            earlier = seen.get(f.show_when.field)
            if earlier is None:
                raise ValueError(f"{where}.{f.key}: show_when refers to {f.show_when.field}, not an earlier field")
            if earlier.options is not None:
                allowed = {o.value for o in earlier.options}
                if not all(isinstance(v, str) and v in allowed for v in f.show_when.equals):
                    raise ValueError(f"{where}.{f.key}: show_when values are not options of {earlier.key}")
        seen[f.key] = f


# ---- answers --------------------------------------------------------------------------------------


class AnswerError(BaseModel):
    field: str  # dotted: "attainment.2.current" for row 2 of a group
    message: str


def visible(field: TemplateField, answers: dict[str, Any], siblings: Sequence[TemplateField] = ()) -> bool:
    """Whether a question is shown by the answers so far. Given the question's `siblings` (its section's or
    row's fields), a condition on a question that is itself hidden is false: hiding B hides what B reveals,
    however B was answered before it was hidden (the answer is kept, never deleted, but does not count)."""
    if field.show_when is None:
        return True
    value = answers.get(field.show_when.field)
    values = value if isinstance(value, list) else [value]
    if not any(v in field.show_when.equals for v in values):
        return False
    controller = next((f for f in siblings if f.key == field.show_when.field), None)
    return controller is None or visible(controller, answers, siblings)


def clean_answers(fields: list[TemplateField], answers: dict[str, Any], prefix: str = "") -> tuple[
        dict[str, Any], list[AnswerError]]:
    """Answers converted to their stored form, and what is wrong with each bad one (named, with the reason).

    Unknown keys are refused rather than silently dropped, so a client never believes it saved something."""
    by_key = {f.key: f for f in fields}
    clean: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for key, raw in answers.items():
        name = f"{prefix}{key}"
        spec = by_key.get(key)
        if spec is None:
            errors.append(AnswerError(field=name, message="This question is not in this section"))
            continue
        if raw is None or raw == "" or raw == []:
            clean[key] = None  # clearing an answer is always allowed while saving
            continue
        try:
            if spec.type == "group":
                rows, row_errors = _clean_group(spec, raw, name)
                clean[key] = rows
                errors.extend(row_errors)
            else:
                clean[key] = _clean_value(spec, raw)
        except ValueError as exc:
            errors.append(AnswerError(field=name, message=str(exc)))
    return clean, errors


def _clean_group(spec: TemplateField, raw: Any, name: str) -> tuple[list[dict[str, Any]], list[AnswerError]]:
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValueError("Send a list of rows")
    if spec.max_rows is not None and len(raw) > spec.max_rows:
        raise ValueError(f"Add no more than {spec.max_rows} rows")
    rows, errors = [], []
    for i, row in enumerate(raw, start=1):
        clean, row_errors = clean_answers(spec.fields or [], row, f"{name}.{i}.")
        rows.append(clean)
        errors.extend(row_errors)
    return rows, errors


def _clean_value(spec: TemplateField, raw: Any) -> Any:
    kind = spec.type
    if kind in ("text", "long_text"):
        if not isinstance(raw, str):
            raise ValueError("Enter text")
        text = raw.strip() if kind == "text" else raw.rstrip()
        limit = spec.max_length or (200 if kind == "text" else 10_000)
        if len(text) > limit:
            raise ValueError(f"Must be {limit} characters or fewer")
        return text
    if kind == "yes_no":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("yes", "no", "true", "false"):
            return raw.lower() in ("yes", "true")
        raise ValueError("Select yes or no")
    if kind == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError("Enter a real date, like 2026-11-23") from None
    if kind == "time":
        try:
            return time.fromisoformat(str(raw)).strftime("%H:%M")
        except ValueError:
            raise ValueError("Enter a time, like 15:30") from None
    if kind == "single_choice":
        allowed = {o.value for o in spec.options or []}
        if not isinstance(raw, str) or raw not in allowed:  # (a list or object sent here is not hashable)
            raise ValueError("Select one of the options")
        return raw
    if kind == "multiple_choice":
        allowed = {o.value for o in spec.options or []}
        if not isinstance(raw, list) or not all(isinstance(v, str) and v in allowed for v in raw):
            raise ValueError("Select from the options")
        return [o.value for o in spec.options or [] if o.value in raw]
    if kind in ("number", "score", "money"):
        return _number(spec, raw)
    raise ValueError("Unsupported field")  # unreachable: FieldType is closed


def _number(spec: TemplateField, raw: Any) -> Any:
    text = str(raw).strip().replace(",", "")
    if spec.type == "money":
        text = text.removeprefix("£")
        if not re.fullmatch(r"\d+(\.\d{1,2})?", text):
            raise ValueError("Enter an amount in pounds and pence, like 250.00")
        try:
            value: Any = Decimal(text)
        except InvalidOperation:
            raise ValueError("Enter an amount in pounds and pence, like 250.00") from None
    else:
        try:
            value = int(text) if spec.type == "score" else float(text)
        except ValueError:
            raise ValueError("Enter a whole number" if spec.type == "score" else "Enter a number") from None
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"Must be {spec.minimum:g} or more")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"Must be {spec.maximum:g} or less")
    return f"{value:.2f}" if spec.type == "money" else value


def missing(fields: list[TemplateField], answers: dict[str, Any], mandatory: set[str] | None = None,
            prefix: str = "") -> list[AnswerError]:
    """Mandatory questions without an answer, top-down, skipping those hidden by an earlier answer.

    `mandatory` adds the LA's own mandatory keys (dotted from the section) to the template's."""
    found = []
    for f in fields:
        name = f"{prefix}{f.key}"
        if not visible(f, answers, fields):
            continue
        value = answers.get(f.key)
        required = f.mandatory or (mandatory is not None and name in mandatory)
        if required and value in (None, "", []):
            found.append(AnswerError(field=name, message=f"Answer ‘{f.label}’"))
        elif f.must_be is not None and value is not None and value != f.must_be:
            answer = {True: "yes", False: "no"}.get(f.must_be, f.must_be) if isinstance(f.must_be, bool) else f.must_be
            found.append(AnswerError(field=name, message=f"‘{f.label}’ must be {answer} before sign-off"))
        elif required and f.type == "group" and len(value or []) < max(f.min_rows, 1):
            found.append(AnswerError(field=name, message=f"Add at least {max(f.min_rows, 1)} to ‘{f.label}’"))
        if f.type == "group" and isinstance(value, list):
            for i, row in enumerate(value, start=1):
                found.extend(missing(f.fields or [], row, mandatory, f"{name}.{i}."))
    return found


def progress(section: Section, answers: dict[str, Any]) -> tuple[int, int]:
    """(answered, shown) top-level questions: what the task list shows."""
    shown = [f for f in section.fields if visible(f, answers, section.fields)]
    answered = [f for f in shown if answers.get(f.key) not in (None, "", [])]
    return len(answered), len(shown)
