"""Properties of template validation, tried by hypothesis on answers and templates nobody wrote by hand.

Answers: whatever a client sends to any section of the default templates, cleaning never crashes, every
complaint names a question the client sent, nothing is saved under a key the section lacks, and what was
cleaned cleans to itself (saving it again changes nothing). Templates: a made-up list of fields is accepted
exactly when its keys are unique and each condition looks at an earlier question's real options."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.pep.domain.templates import clean_answers, missing
from services.pep.template_library import load_default_templates
from shared.api.templates import Section, TemplateField, visible

SECTIONS = [(t.key, s) for t in load_default_templates().values() for s in t.sections]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(["yes", "no", "2026-11-23", "15:30", "250.00", "£1,250.5",
                                                           "", "   ", "-1", "1e309", "12:61", "2026-02-30"]))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)


def plausible(spec: TemplateField) -> st.SearchStrategy[Any]:
    """A value of the field's own kind most of the time, anything at all the rest."""
    own: st.SearchStrategy[Any] = anything
    if spec.options:
        values = [o.value for o in spec.options]
        own = st.sampled_from(values) if spec.type == "single_choice" else st.lists(st.sampled_from(values), max_size=4)
    elif spec.type == "group":
        own = st.lists(answers_for(spec.fields or []), max_size=3)
    elif spec.type in ("number", "score", "money"):
        own = st.one_of(st.integers(-50, 500).map(str), st.decimals(0, 9999, places=2).map(str))
    elif spec.type == "yes_no":
        own = st.booleans()
    return st.one_of(own, own, anything)


def answers_for(fields: list[TemplateField]) -> st.SearchStrategy[dict[str, Any]]:
    known = st.fixed_dictionaries({}, optional={f.key: plausible(f) for f in fields})
    return st.tuples(known, st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), anything, max_size=2)).map(
        lambda pair: {**pair[1], **pair[0]})


@st.composite
def a_section_and_answers(draw: st.DrawFn) -> tuple[str, Section, dict[str, Any]]:
    template, section = draw(st.sampled_from(SECTIONS))
    return template, section, draw(answers_for(section.fields))


def _keys_of(fields: list[TemplateField], answers: dict[str, Any], prefix: str = "") -> set[str]:
    """Every dotted name the answers use: "attainment.2.current" for row 2 of a group."""
    names = set()
    by_key = {f.key: f for f in fields}
    for key, value in answers.items():
        names.add(f"{prefix}{key}")
        spec = by_key.get(key)
        if spec is not None and spec.type == "group" and isinstance(value, list):
            for i, row in enumerate(value, start=1):
                if isinstance(row, dict):
                    names |= _keys_of(spec.fields or [], row, f"{prefix}{key}.{i}.")
    return names


@FUZZ
@given(a_section_and_answers())
def test_cleaning_any_answers_never_crashes_and_every_complaint_names_a_question_sent(
        case: tuple[str, Section, dict[str, Any]]) -> None:
    _, section, answers = case
    clean, errors = clean_answers(section.fields, answers)
    sent = _keys_of(section.fields, answers)
    assert all(e.field in sent and e.message for e in errors), errors
    assert set(clean) <= {f.key for f in section.fields}  # nothing saved under a key the section lacks
    for error in errors:  # a bad answer is reported, not saved as something else
        top = error.field.split(".")[0]
        if "." not in error.field:
            assert top not in clean


@FUZZ
@given(a_section_and_answers())
def test_what_was_cleaned_cleans_to_itself(case: tuple[str, Section, dict[str, Any]]) -> None:
    _, section, answers = case
    clean, errors = clean_answers(section.fields, answers)
    if errors:
        bad = {e.field.split(".")[0] for e in errors}
        clean = {k: v for k, v in clean.items() if k not in bad}
    again, errors_again = clean_answers(section.fields, clean)
    assert errors_again == [] and again == clean


@FUZZ
@given(a_section_and_answers())
def test_a_hidden_question_is_never_asked_for(case: tuple[str, Section, dict[str, Any]]) -> None:
    _, section, answers = case
    clean, _ = clean_answers(section.fields, answers)
    mandatory = {f"{section.key}.{f.key}" for f in section.fields}  # as if the LA made every question mandatory
    for problem in missing(section.fields, clean, mandatory, prefix=""):
        key = problem.field.split(".")[0]
        spec = section.field(key)
        assert spec is not None and visible(spec, clean, section.fields), problem


KEYS = st.sampled_from(["a", "b", "c", "d", "e"])


@st.composite
def made_up_fields(draw: st.DrawFn) -> list[dict[str, Any]]:
    fields = []
    for _ in range(draw(st.integers(1, 6))):
        choice = draw(st.booleans())
        field: dict[str, Any] = {"key": draw(KEYS), "label": "Q", "type": "single_choice" if choice else "text"}
        if choice:
            field["options"] = [{"value": v, "label": v} for v in draw(st.sets(st.sampled_from(["x", "y", "z"]),
                                                                               min_size=1))]
        if draw(st.booleans()):
            field["show_when"] = {"field": draw(KEYS), "equals": draw(st.lists(st.sampled_from(["x", "y", "w"]),
                                                                               min_size=1, max_size=2))}
        fields.append(field)
    return fields


def _should_accept(fields: list[dict[str, Any]]) -> bool:
    seen: dict[str, dict[str, Any]] = {}
    for f in fields:
        if f["key"] in seen:
            return False
        if "show_when" in f:
            earlier = seen.get(f["show_when"]["field"])
            if earlier is None:
                return False
            if "options" in earlier and not set(f["show_when"]["equals"]) <= {o["value"] for o in earlier["options"]}:
                return False
        seen[f["key"]] = f
    return True


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(made_up_fields())
def test_a_section_is_accepted_exactly_when_its_keys_are_unique_and_conditions_look_back(
        fields: list[dict[str, Any]]) -> None:
    try:
        Section.model_validate({"key": "s", "title": "S", "owner": "designated_teacher", "fields": fields})
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == _should_accept(fields), fields


def test_the_properties_cover_every_section_of_every_default_template() -> None:
    assert len(SECTIONS) >= 20
    with pytest.raises(ValidationError):  # and the checker is not vacuous
        Section.model_validate({"key": "s", "title": "S", "owner": "carer", "fields": [
            {"key": "a", "label": "A", "type": "text", "show_when": {"field": "a", "equals": ["x"]}}]})
