"""The PEP template format, and the rule for which questions show: one definition for pep, the gateway's API
(`SectionOut.definition`), the portal's forms and the page's script (which is given each question's conditions
as data, from `conditions`, and only checks them).

A template is sections owned by roles; a section is fields; a field has a type, may be mandatory (per LA),
shown only when an earlier answer has a given value, pre-filled from core data and carried forward to the
next PEP. Repeating groups (attainment rows, targets 1–5) hold their own fields. What answers to a template
may be, and which are missing, is pep's (services/pep/domain/templates.py). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["text", "long_text", "date", "time", "yes_no", "single_choice", "multiple_choice", "number",
                    "money", "score", "group"]
OwnerRole = Literal["social_worker", "designated_teacher", "young_person", "carer", "virtual_school"]
Phase = Literal["early_years", "school_age", "post_16"]
KEY = r"^[a-z][a-z0-9_]*$"
CHOICE_TYPES = {"single_choice", "multiple_choice"}
# The longest text answer when a template sets no max_length: a line of text, and a long answer.
TEXT_LIMITS = {"text": 200, "long_text": 10_000}


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
    """One question (`Field` in the format's own words; named so it cannot be mistaken for pydantic's)."""

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

    def option_label(self, value: Any) -> str:
        """The words for one of this question's option values (the value itself when it is not one)."""
        return next((o.label for o in self.options or [] if o.value == value), str(value))

    def text_limit(self) -> int | None:
        """How many characters a text answer may have: the template's `max_length`, else a default (pep refuses
        more; the portal counts down to it). None for a question that is not text."""
        if self.type not in TEXT_LIMITS:
            return None
        return self.max_length or TEXT_LIMITS[self.type]


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


# ---- which questions show ---------------------------------------------------------------------------------------


def conditions(field: TemplateField, siblings: Sequence[TemplateField] = ()) -> list[ShowWhen]:
    """Every condition that must hold for a question to show: its own, then that of the question whose answer
    it depends on (given its `siblings`, its section's or row's fields), and so on up. Hiding B hides what B
    reveals, however B was answered before it was hidden: the answer is kept, never deleted, but does not count.

    The page's script is given this list for each question, so it never works the chain out for itself."""
    chain: list[ShowWhen] = []
    seen: set[str] = set()
    current: TemplateField | None = field
    while current is not None and current.show_when is not None and current.key not in seen:
        seen.add(current.key)
        chain.append(current.show_when)
        controller = current.show_when.field
        current = next((f for f in siblings if f.key == controller), None)
    return chain


def met(condition: ShowWhen, answers: Mapping[str, Any]) -> bool:
    """Whether an answer (or one of the choices of a multiple-choice answer) is one of the condition's values."""
    value = answers.get(condition.field)
    values = value if isinstance(value, list) else [value]
    return any(v in condition.equals for v in values)


def visible(field: TemplateField, answers: Mapping[str, Any], siblings: Sequence[TemplateField] = ()) -> bool:
    """Whether a question is shown by the answers so far: every one of its `conditions` is met."""
    return all(met(c, answers) for c in conditions(field, siblings))
