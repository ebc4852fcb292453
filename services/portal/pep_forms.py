"""A PEP section as a GOV.UK form, built from the template's definition. Pure functions, no I/O.

- what the gateway holds (answers) <-> what a form holds (`Raw`: input name -> text, or a list for checkboxes);
- typed text back to answers (dates from day, month and year; times; numbers; rows of a repeating group), with
  GOV.UK-style messages for what the portal can check itself;
- the gateway's errors (`answers.key`, `answers.group.N.col`) mapped to the inputs they belong to;
- only the answers that changed, and the merge when someone else saved the section first;
- answers in words, for check-your-answers, history and comparison.

Names and ids: a question's path is its key (`key`), or `group.N.col` for row N (from 1) of a repeating group.
Its input is named `answers.<path>` (a date's are `answers.<path>.day|month|year`), and the first input of every
question has the id `answers-<path with dashes>`, so an error or a link can always point at it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.portal.forms import DateField
from shared.api.templates import Option, Section, TemplateField, conditions, visible
from shared.api.views import ViewsGiven

Raw = dict[str, Any]  # input name -> text, or a list of texts for checkboxes
NOT_ANSWERED = "Not answered"
# A page may ask for this many rows of a group at most, whatever the template allows (a form is not a database).
MAX_FORM_ROWS = 50
OWNER_NAMES = {"social_worker": "Social worker", "designated_teacher": "Designated Teacher",
               "young_person": "Child or young person", "carer": "Carer", "virtual_school": "Virtual School"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _choice(o: Option, checked: bool) -> dict[str, Any]:
    """A radio or checkbox item; one with a symbol shows its picture before the words (the words stay the label,
    so the picture is decorative to a screen reader). The picture's markup is the template's (_pep_question)."""
    item: dict[str, Any] = {"value": o.value, "checked": checked, "text": o.label}
    if o.symbol and re.fullmatch(r"[a-z][a-z0-9-]*", o.symbol):
        item["symbol"] = o.symbol
    return item


def owner_name(owner: str) -> str:
    return OWNER_NAMES.get(owner, owner.replace("_", " ").capitalize())


# ---- names and ids ----------------------------------------------------------------------------------------


def input_name(path: str) -> str:
    return f"answers.{path}"


def element_id(path: str) -> str:
    """The id of a question's first input (a date's day, a radio group's first choice)."""
    return "answers-" + path.replace(".", "-")


def rows_name(path: str) -> str:
    """The hidden input saying how many rows of a group the form has (checkboxes alone may send nothing)."""
    return f"rows.{path}"


# ---- dates, times and numbers -------------------------------------------------------------------------------


def date_parts(value: Any) -> tuple[str, str, str]:
    """An ISO date as the GOV.UK date input's day, month and year; anything else leaves them empty."""
    try:
        d = date.fromisoformat(str(value))
    except ValueError:
        return "", "", ""
    return str(d.day), str(d.month), str(d.year)


def parse_date(day: str, month: str, year: str, label: str) -> tuple[str | None, str | None]:
    """(ISO date or None when all three are empty, error message or None), as the GOV.UK pattern words them."""
    day, month, year = day.strip(), month.strip(), year.strip()
    if not (day or month or year):
        return None, None
    missing = [name for name, part in (("day", day), ("month", month), ("year", year)) if not part]
    if missing:
        return None, f"{label} must include a {' and a '.join(missing)}"
    month_number = _month_number(month)
    if not (day.isdigit() and year.isdigit()) or month_number is None:
        return None, f"{label} must be a real date"
    if len(year) != 4:
        return None, f"{label} must include a year with 4 numbers, like 2026"
    try:
        return date(int(year), month_number, int(day)).isoformat(), None
    except ValueError:
        return None, f"{label} must be a real date"


def _month_number(month: str) -> int | None:
    if month.isdigit():
        return int(month)
    word = month.casefold()
    for number, name in enumerate(MONTHS, start=1):
        if len(word) >= 3 and name.casefold().startswith(word):
            return number
    return None


TIME_SHAPE = re.compile(r"^(\d{1,2})[:.]?(\d{2})\s*(am|pm)?$", re.I)


def parse_time(text: str, label: str) -> tuple[str | None, str | None]:
    """"15:30", "3.30pm", "0930" -> "HH:MM"; empty -> None."""
    text = text.strip().lower().replace(" ", "")
    if not text:
        return None, None
    match = TIME_SHAPE.match(text)
    if not match:
        return None, f"{label} must be a real time, like 15:30"
    hour, minute, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            return None, f"{label} must be a real time, like 15:30"
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None, f"{label} must be a real time, like 15:30"
    return f"{hour:02d}:{minute:02d}", None


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


NUMBER_ERRORS = {"number": "{label} must be a number", "score": "{label} must be a whole number",
                 "money": "{label} must be an amount in pounds and pence, like 250.00"}


def parse_number(kind: str, text: str, label: str) -> tuple[Any, str | None]:
    """A number, score or amount as the gateway stores it (None when empty), or what is wrong with it.

    Only the shape is checked here; the template's limits (minimum, maximum) are the gateway's to apply."""
    cleaned = text.strip().replace(",", "")
    if kind == "money":
        cleaned = cleaned.removeprefix("£").strip()
    if not cleaned:
        return None, None
    error = NUMBER_ERRORS[kind].format(label=label)
    if kind == "money":
        if not re.fullmatch(r"\d+(\.\d{1,2})?", cleaned):
            return None, error
        return f"{Decimal(cleaned):.2f}", None
    try:
        number = int(cleaned) if kind == "score" else float(cleaned)
    except ValueError:
        return None, error
    if isinstance(number, float) and not math.isfinite(number):
        return None, error
    return number, None


# ---- answers -> form -----------------------------------------------------------------------------------------


def answers_to_raw(questions: Iterable[TemplateField], answers: Mapping[str, Any], prefix: str = "") -> Raw:
    """What a form shows for these answers."""
    raw: Raw = {}
    for q in questions:
        path = f"{prefix}{q.key}"
        name = input_name(path)
        value = answers.get(q.key)
        if q.type == "group":
            rows = [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
            raw[rows_name(path)] = str(len(rows))
            for i, row in enumerate(rows, start=1):
                raw.update(answers_to_raw(q.fields or [], row, f"{path}.{i}."))
        elif value is None:
            continue
        elif q.type == "date":
            raw[f"{name}.day"], raw[f"{name}.month"], raw[f"{name}.year"] = date_parts(value)
        elif q.type == "yes_no":
            raw[name] = form_value(value)
        elif q.type == "multiple_choice":
            raw[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif q.type in ("number", "score"):
            raw[name] = _number_text(value)
        else:
            raw[name] = str(value)
    return raw


def raw_from_post(questions: Iterable[TemplateField], data: Any, prefix: str = "") -> Raw:
    """The form's values from a POST (a MultiDict), only for the questions of this section."""
    raw: Raw = {}
    for q in questions:
        path = f"{prefix}{q.key}"
        name = input_name(path)
        if q.type == "group":
            count = row_count(data.get(rows_name(path), "0"), q)
            raw[rows_name(path)] = str(count)
            for i in range(1, count + 1):
                raw.update(raw_from_post(q.fields or [], data, f"{path}.{i}."))
        elif q.type == "date":
            raw.update(DateField(name).read(data))
        elif q.type == "multiple_choice":
            getall = getattr(data, "getall", None)
            raw[name] = [str(v) for v in (getall(name, []) if getall else data.get(name, []))]
        else:
            raw[name] = str(data.get(name, ""))
    return raw


def row_count(text: Any, question: TemplateField) -> int:
    try:
        count = int(str(text))
    except ValueError:
        return 0
    return max(0, min(count, question.max_rows or MAX_FORM_ROWS, MAX_FORM_ROWS))


# ---- form -> answers -----------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """Answers from a form, errors the portal found ({path: message}), and which form row each sent row came
    from ({group path: [form row numbers]}), since empty rows are not sent and the gateway counts what it got."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)


def raw_to_answers(questions: Iterable[TemplateField], raw: Mapping[str, Any], prefix: str = "") -> Parsed:
    parsed = Parsed()
    for q in questions:
        path = f"{prefix}{q.key}"
        name = input_name(path)
        if q.type == "group":
            rows: list[dict[str, Any]] = []
            kept: list[int] = []
            for i in range(1, row_count(raw.get(rows_name(path), "0"), q) + 1):
                row = raw_to_answers(q.fields or [], raw, f"{path}.{i}.")
                if any(v is not None for v in row.answers.values()) or row.errors:
                    rows.append(row.answers)
                    kept.append(i)
                    parsed.errors.update(row.errors)
                    parsed.rows.update(row.rows)
            parsed.rows[path] = kept
            parsed.answers[q.key] = rows or None
            continue
        if q.type == "date":
            value, error = parse_date(*DateField(name).typed(raw), q.label)
        elif q.type == "time":
            value, error = parse_time(str(raw.get(name, "")), q.label)
        elif q.type in ("number", "score", "money"):
            value, error = parse_number(q.type, str(raw.get(name, "") or ""), q.label)
        else:
            value, error = _parse_value(q, raw.get(name)), None
        if error:
            parsed.errors[path] = error
        parsed.answers[q.key] = value
    return parsed


def _parse_value(q: TemplateField, raw: Any) -> Any:
    if q.type == "multiple_choice":
        chosen = raw if isinstance(raw, list) else ([raw] if raw else [])
        return [str(v) for v in chosen] or None
    text = "" if raw is None else str(raw)
    if q.type == "long_text":
        return text.rstrip() or None
    text = text.strip()
    if not text:
        return None
    if q.type == "yes_no":
        return {"yes": True, "no": False}.get(text, text)
    return text


# ---- errors ----------------------------------------------------------------------------------------------------


def error_path(gateway_field: str, rows: Mapping[str, list[int]] | None = None) -> str | None:
    """`answers.group.2.col` -> `group.N.col` with N the form's row; None for a field that is not an answer."""
    if not gateway_field.startswith("answers."):
        return None
    parts = gateway_field.removeprefix("answers.").split(".")
    out: list[str] = []
    for part in parts:
        group = ".".join(out)
        if part.isdigit() and rows and group in rows:
            index = int(part) - 1
            kept = rows[group]
            out.append(str(kept[index]) if 0 <= index < len(kept) else part)
        else:
            out.append(part)
    return ".".join(out) if out and out[0] else None


def question_at(questions: Iterable[TemplateField], path: str) -> TemplateField | None:
    """The question a path names: `key`, or `group.N.col` (`group.N` is the group itself)."""
    current: list[TemplateField] = list(questions)
    found: TemplateField | None = None
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if found is not None:
            if found.type != "group":
                return None
            if parts[i].isdigit():
                i += 1
            if i >= len(parts):
                return found
            current = found.fields or []
        found = next((q for q in current if q.key == parts[i]), None)
        if found is None:
            return None
        i += 1
    return found


def gateway_message(question: TemplateField | None, message: str) -> str:
    """The gateway's words, naming the question when they do not ("Must be 200 characters or fewer")."""
    if question is not None and message[:5] in ("Must ", "Add n", "Send "):
        return f"{question.label} {message[0].lower()}{message[1:]}"
    return message


def gateway_errors(questions: list[TemplateField], errors: Iterable[Mapping[str, Any]],
                   rows: Mapping[str, list[int]] | None = None) -> tuple[dict[str, str], list[str]]:
    """({path: message} for answers, [messages] for anything else), the first message for each path."""
    by_path: dict[str, str] = {}
    other: list[str] = []
    for e in errors:
        message = str(e.get("message") or "")
        path = error_path(str(e.get("field") or ""), rows)
        if path is None:
            if message:
                other.append(message)
            continue
        by_path.setdefault(path, gateway_message(question_at(questions, path), message))
    return by_path, other


def in_page_order(questions: Iterable[TemplateField], errors: Mapping[str, str]) -> dict[str, str]:
    """Errors ordered as the questions appear on the page (the error summary's order)."""
    ordered = _in_order(list(questions), errors, "")
    for path, message in errors.items():  # anything not matched to a question still shows, last
        ordered.setdefault(path, message)
    return ordered


def _in_order(questions: list[TemplateField], errors: Mapping[str, str], prefix: str) -> dict[str, str]:
    ordered: dict[str, str] = {}
    for q in questions:
        path = f"{prefix}{q.key}"
        if path in errors:
            ordered[path] = errors[path]
        if q.type == "group":
            rows = {p[len(path) + 1:].split(".")[0] for p in errors if p.startswith(f"{path}.")}
            for n in sorted(int(r) for r in rows if r.isdigit()):
                ordered.update(_in_order(q.fields or [], errors, f"{path}.{n}."))
    return ordered


def summary_items(errors: Mapping[str, str], href_prefix: str = "") -> list[dict[str, str]]:
    return [{"text": message, "href": f"{href_prefix}#{element_id(path)}"} for path, message in errors.items()]


# ---- what changed, and merging with someone else's save ----------------------------------------------------


def normal(value: Any) -> Any:
    """An answer in a form that compares equal however it was written: empties are None, 95.0 is 95."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        cleaned = {k: normal(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None} or None
    if isinstance(value, list):
        items = [normal(v) for v in value]
        return items or None
    return value


def same(a: Any, b: Any) -> bool:
    return bool(normal(a) == normal(b))


def changes(questions: Iterable[TemplateField], mine: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """Only the answers that differ from `base` (None clears one), in the section's order."""
    return {q.key: mine.get(q.key) for q in questions if q.key in mine and not same(mine.get(q.key), base.get(q.key))}


@dataclass
class Merge:
    """My changes against what someone else saved since my version: those that can simply be saved, and the
    questions we both changed to different answers (the person chooses)."""

    auto: dict[str, Any]
    conflicts: list[str]


def three_way(my_changes: Mapping[str, Any], base: Mapping[str, Any], theirs: Mapping[str, Any]) -> Merge:
    their_changed = {k for k in {*base, *theirs} if not same(base.get(k), theirs.get(k))}
    auto: dict[str, Any] = {}
    conflicts: list[str] = []
    for key, value in my_changes.items():
        if same(value, theirs.get(key)):
            continue  # they gave the same answer: nothing to save
        if key in their_changed:
            conflicts.append(key)
        else:
            auto[key] = value
    return Merge(auto, conflicts)


def resolve(my_changes: Mapping[str, Any], conflicts: Iterable[str], use_mine: Iterable[str]) -> dict[str, Any]:
    """What to save after the person chose, question by question, between their answer and mine."""
    conflicted, mine = set(conflicts), set(use_mine)
    return {k: v for k, v in my_changes.items() if k not in conflicted or k in mine}


def encode_changes(values: Mapping[str, Any]) -> str:
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def decode_changes(text: str, questions: Iterable[TemplateField]) -> dict[str, Any]:
    """Changes carried in a conflict form: only this section's questions."""
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    keys = {q.key for q in questions}
    return {k: v for k, v in loaded.items() if k in keys} if isinstance(loaded, dict) else {}


# ---- which questions show --------------------------------------------------------------------------------------


def condition_text(question: TemplateField, siblings: Iterable[TemplateField]) -> str | None:
    """'Answer if ‘Why is this PEP being written?’ is ‘Other’', for pages without JavaScript."""
    if question.show_when is None:
        return None
    controller = next((q for q in siblings if q.key == question.show_when.field), None)
    if controller is None:
        return None
    words = [_value_words(controller, v) for v in question.show_when.equals]
    choices = " or ".join(f"‘{w}’" for w in words)
    return f"Answer if ‘{controller.label}’ is {choices}"


def _value_words(question: TemplateField, value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return question.option_label(value)


def form_value(value: Any) -> str:
    """An answer as the form sends it: yes/no as the radios do, anything else as its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def page_conditions(question: TemplateField, siblings: Sequence[TemplateField],
                    prefix: str = "") -> list[dict[str, Any]]:
    """The shared rule's conditions for a question (its own and those of the questions it depends on), in the
    form's terms, for the page's script: each names an input and the values it may send. The script shows the
    question when every condition is met, and never works the rule out for itself."""
    return [{"field": input_name(f"{prefix}{c.field}"), "equals": [form_value(v) for v in c.equals]}
            for c in conditions(question, siblings)]


def needs_checking(path: str, to_check: Iterable[str]) -> bool:
    """Whether a carried-forward answer here (or in one of its rows) is waiting to be checked."""
    return any(k == path or k.startswith(f"{path}.") for k in to_check)


# ---- answers in words ------------------------------------------------------------------------------------------


def long_date(value: Any) -> str:
    try:
        d = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def in_words(question: TemplateField, value: Any) -> list[str]:
    """An answer as lines of text; [] when not answered."""
    if normal(value) is None:
        return []
    kind = question.type
    if kind == "yes_no":
        return ["Yes" if value is True else "No" if value is False else str(value)]
    if kind == "single_choice":
        return [question.option_label(value)]
    if kind == "multiple_choice":
        return [question.option_label(v) for v in (value if isinstance(value, list) else [value])]
    if kind == "date":
        return [long_date(value)]
    if kind == "money":
        return [f"£{value}"]
    if kind in ("number", "score"):
        return [_number_text(value)]
    if kind == "group":
        lines = []
        for i, row in enumerate(value if isinstance(value, list) else [], start=1):
            parts = [f"{col.label}: {', '.join(in_words(col, row.get(col.key)))}" for col in question.fields or []
                     if isinstance(row, dict) and normal(row.get(col.key)) is not None]
            lines.append(f"{i}. " + ("; ".join(parts) if parts else NOT_ANSWERED))
        return lines
    if kind == "long_text":
        return str(value).splitlines() or [str(value)]
    return [str(value)]


def saved_time(value: datetime, zone: Any) -> str:
    """"4:02pm" in UK time, as the rest of the portal writes times: when the status line says something was
    saved."""
    local = value.astimezone(zone) if value.tzinfo else value
    return f"{local.hour % 12 or 12}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


# ---- the form's questions, ready for the page ------------------------------------------------------------------


def widgets(questions: list[TemplateField], raw: Mapping[str, Any], errors: Mapping[str, str], to_check: Iterable[str],
            prefix: str = "", extra_row: str | None = None) -> list[dict[str, Any]]:
    """Everything a page needs to draw each question: ids, names, values, choices, hints, errors, conditions.

    `extra_row` is the path of a group that gets one more (empty) row, after "Add another"."""
    to_check = list(to_check)
    out: list[dict[str, Any]] = []
    for q in questions:
        path = f"{prefix}{q.key}"
        name = input_name(path)
        w: dict[str, Any] = {
            "type": q.type, "key": q.key, "path": path, "id": element_id(path), "name": name, "label": q.label,
            "hint": q.hint, "mandatory": q.mandatory, "error": errors.get(path),
            "condition": condition_text(q, questions),
            "show_when": page_conditions(q, questions, prefix), "check": needs_checking(path, to_check),
            "max_length": q.text_limit(),
        }
        if q.type == "date":
            w["date_items"] = DateField(name, element_id(path)).items(raw, w["error"])
        elif q.type == "multiple_choice":
            chosen = raw.get(name) or []
            chosen = chosen if isinstance(chosen, list) else [chosen]
            w["items"] = [_choice(o, o.value in chosen) for o in q.options or []]
        elif q.type in ("single_choice", "yes_no"):
            value = str(raw.get(name, ""))
            options = (q.options or []) if q.type == "single_choice" else [Option(value="yes", label="Yes"),
                                                                    Option(value="no", label="No")]
            w["items"] = [_choice(o, o.value == value) for o in options]
        elif q.type == "group":
            count = row_count(raw.get(rows_name(path), "0"), q)
            limit = min(q.max_rows or MAX_FORM_ROWS, MAX_FORM_ROWS)
            if extra_row == path and count < limit:
                count += 1
            if count == 0:
                count = 1  # an empty row to start with (empty rows are not saved)
            w["rows_name"] = rows_name(path)
            w["row_count"] = count
            w["rows"] = [{"number": i, "remove": f"remove:{path}:{i}",
                          "fields": widgets(q.fields or [], raw, errors, to_check, f"{path}.{i}.")}
                         for i in range(1, count + 1)]
            w["can_add"] = count < limit
            w["add"] = f"add:{path}"
            w["max_rows"] = q.max_rows
        else:
            w["value"] = str(raw.get(name, ""))
        out.append(w)
    return out


def shown_anyway(given: Iterable[ViewsGiven], answers: Mapping[str, Any]) -> set[str]:
    """The questions an invited young person or carer answered, that hold an answer: each shows to the adults
    with its question whatever the section's question set says now (a child asked the Secondary questions after
    the Primary set was carried forward keeps every answer they gave)."""
    return {k for g in given for k in g.answered if normal(answers.get(k)) is not None}


def always_shown(found: list[dict[str, Any]], keys: Collection[str]) -> list[dict[str, Any]]:
    """The form's widgets with the questions in `keys` shown whatever the other answers (no condition for the
    page's script to hide them by)."""
    return [{**w, "show_when": [], "condition": None} if w["key"] in keys else w for w in found]


def read_only_rows(section: Section, answers: Mapping[str, Any], change_href: str | None = None,
                   also: Collection[str] = ()) -> list[dict[str, Any]]:
    """Each question shown by the answers so far (and those in `also`), with its answer in words, for a summary
    list."""
    rows = []
    for q in section.fields:
        if not visible(q, answers, section.fields) and q.key not in also:
            continue
        rows.append({"key": q.key, "label": q.label, "lines": in_words(q, answers.get(q.key)),
                     "id": element_id(q.key), "mandatory": q.mandatory,
                     "href": f"{change_href}#{element_id(q.key)}" if change_href else None})
    return rows


def remove_row(raw: Mapping[str, Any], group_path: str, number: int) -> Raw:
    """The form's values without row `number` of a group: later rows move up, so nothing typed is lost."""
    count_name = rows_name(group_path)
    try:
        count = int(str(raw.get(count_name, "0")))
    except ValueError:
        count = 0
    if not 1 <= number <= count:
        return dict(raw)
    out: Raw = {}
    pattern = re.compile(rf"^(answers|rows)\.{re.escape(group_path)}\.(\d+)(\..+)$")
    for name, value in raw.items():
        match = pattern.match(name)
        if match is None:
            out[name] = value
            continue
        row = int(match.group(2))
        if row == number:
            continue
        out[f"{match.group(1)}.{group_path}.{row - 1 if row > number else row}{match.group(3)}"] = value
    out[count_name] = str(count - 1)
    return out
