"""Answers as a person reads them on paper: option labels rather than codes, dates in words, pounds and pence.

Used by the PDF exports; nothing here draws or does I/O.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.api.templates import TemplateField, visible

# A group prints as one table when its rows are short enough to read across a portrait page;
# otherwise each row prints as its own question-and-answer list (a target has a dozen parts).
TABLE_COLUMNS = 4
SHORT_TYPES = frozenset({"text", "date", "time", "yes_no", "single_choice", "number", "score", "money"})


def answered(value: Any) -> bool:
    return value not in (None, "", [])


def answer_text(field: TemplateField, value: Any) -> str:
    """The answer in words; "" when there is none."""
    if not answered(value):
        return ""
    kind = field.type
    if kind == "yes_no":
        return "Yes" if value is True else "No" if value is False else str(value)
    if kind == "date":
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{day.day} {day:%B %Y}"
    if kind == "single_choice":
        return _label(field, value)
    if kind == "multiple_choice":
        values = value if isinstance(value, list) else [value]
        return "; ".join(_label(field, v) for v in values)
    if kind == "money":
        try:
            return f"£{Decimal(str(value)):,.2f}"
        except InvalidOperation:
            return str(value)
    if kind in ("number", "score") and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if kind == "group":
        rows = value if isinstance(value, list) else []
        return f"{len(rows)} {'entry' if len(rows) == 1 else 'entries'}"
    return str(value)


def _label(field: TemplateField, value: Any) -> str:
    return next((o.label for o in field.options or [] if o.value == value), str(value))


def shown(fields: list[TemplateField], answers: dict[str, Any]) -> list[TemplateField]:
    """The questions a reader of these answers is shown: those no earlier answer hides."""
    return [f for f in fields if visible(f, answers, fields)]


def as_table(group: TemplateField) -> bool:
    columns = group.fields or []
    return len(columns) <= TABLE_COLUMNS and all(f.type in SHORT_TYPES for f in columns)


def condition(field: TemplateField, siblings: list[TemplateField]) -> str | None:
    """On a blank form, when a conditional question applies: "Answer if ‘Legal status’ is ‘Section 20’"."""
    if field.show_when is None:
        return None
    earlier = next((f for f in siblings if f.key == field.show_when.field), None)
    if earlier is None:
        return None
    values = " or ".join(f"‘{answer_text(earlier, v)}’" for v in field.show_when.equals)
    return f"Answer only if the answer to ‘{earlier.label}’ is {values}"


def blank_rows(group: TemplateField) -> int:
    """How many empty rows a blank form gives a group: enough to write in, never more than it allows."""
    rows = max(group.min_rows, 3)
    return min(rows, group.max_rows) if group.max_rows else rows
