"""The PEP section script's conditions and autosave states, checked in Node with a fake form (the browser tests
check it in Chromium); and which questions show, the same in the page's script as in the shared rule
(shared/api/templates.py) that pep and the portal use, for every section of the default templates."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.pep.template_library import load_default_templates
from services.portal import pep_forms
from shared.api.templates import Section, TemplateField, met, visible
from tests.portal.test_pep_forms import SECTION

CHECK = Path(__file__).with_name("pep_section_check.mjs")
PARITY = Path(__file__).with_name("visibility_parity.mjs")
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (it builds the portal's assets too)")


@needs_node
def test_conditions_follow_answers_and_autosave_stops_at_a_conflict() -> None:
    result = subprocess.run(["node", str(CHECK)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _answer(field: TemplateField, rng: random.Random) -> Any:
    """An answer of the question's own kind, or none: what decides which questions show is choices and yes/no."""
    if rng.random() < 0.2:
        return None
    if field.type == "yes_no":
        return rng.choice([True, False])
    if field.type == "single_choice":
        return rng.choice([o.value for o in field.options or []])
    if field.type == "multiple_choice":
        values = [o.value for o in field.options or []]
        return rng.sample(values, rng.randint(1, min(3, len(values))))
    if field.type == "group":
        return [_answers(field.fields or [], rng) for _ in range(rng.randint(0, 2))] or None
    return {"date": "2026-11-23", "time": "15:30", "money": "250.00", "number": 5, "score": 5}.get(field.type, "x")


def _answers(fields: list[TemplateField], rng: random.Random) -> dict[str, Any]:
    return {f.key: a for f in fields if (a := _answer(f, rng)) is not None}


def _expected(fields: list[TemplateField], answers: dict[str, Any], widgets: list[dict[str, Any]]) -> dict[str, bool]:
    """The shared rule's answer for every question the page draws (each row of a group by its own row's answers)."""
    out: dict[str, bool] = {}
    for field, w in zip(fields, widgets, strict=True):
        out[w["path"]] = visible(field, answers, fields)
        for row in w.get("rows", []):
            rows = answers.get(field.key) or []
            row_answers = rows[row["number"] - 1] if row["number"] <= len(rows) else {}
            out.update(_expected(field.fields or [], row_answers, row["fields"]))
    return out


def _page(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each question as the page gives it to the script: its path and its `data-show-when` text, if any."""
    out = []
    for w in widgets:
        out.append({"path": w["path"], "show_when": json.dumps(w["show_when"]) if w["show_when"] else None})
        for row in w.get("rows", []):
            out.extend(_page(row["fields"]))
    return out


@needs_node
def test_the_page_shows_the_questions_the_shared_rule_shows() -> None:
    sections = [s for t in load_default_templates().values() for s in t.sections] + [Section.model_validate(SECTION)]
    rng = random.Random(16)
    cases, expected = [], []
    for section in sections:
        if not any(f.show_when for f in section.fields) and not any(
                c.show_when for f in section.fields for c in f.fields or []):
            continue
        for _ in range(30):
            answers = _answers(section.fields, rng)
            raw = pep_forms.answers_to_raw(section.fields, answers)
            widgets = pep_forms.widgets(section.fields, raw, {}, [])
            cases.append({"raw": raw, "questions": _page(widgets)})
            expected.append(_expected(section.fields, answers, widgets))
    result = subprocess.run(["node", str(PARITY)], input=json.dumps({"cases": cases}), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert len(shown) == len(expected) > 100
    for case, page, rule in zip(cases, shown, expected, strict=True):
        assert page == rule, {"raw": case["raw"], "differ": {p: (page[p], rule[p]) for p in rule if page[p] != rule[p]}}
    # The cases include both outcomes, and questions hidden only because what reveals them is hidden.
    outcomes = [v for case in expected for v in case.values()]
    assert True in outcomes and False in outcomes
    assert _cascades(sections, rng) > 0


def _cascades(sections: list[Section], rng: random.Random) -> int:
    """How often a question's own condition is met while the shared rule hides it (a hidden question revealed it)."""
    count = 0
    for section in sections:
        for _ in range(30):
            answers = _answers(section.fields, rng)
            count += sum(1 for f in section.fields
                         if f.show_when and met(f.show_when, answers) and not visible(f, answers, section.fields))
    return count
