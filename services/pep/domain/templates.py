"""The rules for answers to a PEP template: what each kind of question accepts, in its stored form, and which
mandatory questions are still unanswered. The template format itself, and which questions show, are shared
(shared/api/templates.py): the portal and the page's script use the same definition. Nothing here does I/O.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from shared.api.templates import Section, TemplateField, visible

# ---- answers --------------------------------------------------------------------------------------


class AnswerError(BaseModel):
    field: str  # dotted: "attainment.2.current" for row 2 of a group
    message: str


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
        limit = spec.text_limit()
        if limit is not None and len(text) > limit:
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
