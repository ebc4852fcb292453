"""PEP sections as forms: answers to form values and back, dates, errors on the right inputs, what changed,
and merging with someone else's save. Pure functions, on a section shaped like the default templates'."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from multidict import MultiDict

from services.portal import pep_forms, pep_words
from services.portal.pep_forms import (
    changes,
    element_id,
    error_path,
    gateway_errors,
    parse_date,
    parse_time,
    raw_from_post,
    raw_to_answers,
    three_way,
)
from shared.api.templates import Section

SECTION: dict[str, Any] = {
    "key": "education", "title": "Education", "owner": "designated_teacher", "description": None,
    "fields": [
        {"key": "started", "label": "Date the child started", "type": "date", "options": None, "fields": None},
        {"key": "notes", "label": "Notes", "type": "long_text", "mandatory": True},
        {"key": "name", "label": "Name", "type": "text"},
        {"key": "excluded", "label": "Excluded since the last PEP?", "type": "yes_no", "mandatory": True},
        {"key": "exclusions", "label": "Exclusions", "type": "group", "max_rows": 3,
         "show_when": {"field": "excluded", "equals": [True]},
         "fields": [{"key": "date", "label": "Date", "type": "date", "mandatory": True},
                    {"key": "kind", "label": "Type", "type": "single_choice",
                     "options": [{"value": "fixed_term", "label": "Suspension"},
                                 {"value": "permanent", "label": "Permanent exclusion"}]},
                    {"key": "days", "label": "Days", "type": "number"}]},
        {"key": "needs", "label": "Main needs", "type": "multiple_choice",
         "options": [{"value": "sld", "label": "Specific learning difficulty"},
                     {"value": "semh", "label": "Social, emotional and mental health"}]},
        {"key": "sen", "label": "Special educational needs", "type": "single_choice",
         "options": [{"value": "none", "label": "None"}, {"value": "ehcp", "label": "EHCP"}]},
        {"key": "review", "label": "Next EHCP review", "type": "date",
         "show_when": {"field": "sen", "equals": ["ehcp"]}},
        {"key": "attendance", "label": "Attendance (%)", "type": "number"},
        {"key": "sdq", "label": "SDQ score", "type": "score"},
        {"key": "amount", "label": "Amount", "type": "money"},
        {"key": "at", "label": "Meeting time", "type": "time"},
    ],
}
SD = Section.model_validate(SECTION)  # as SectionOut.definition arrives
ANSWERS = {"started": "2024-09-02", "notes": "Reading well", "excluded": True,
           "exclusions": [{"date": "2026-01-12", "kind": "fixed_term", "days": 1.5}], "needs": ["sld"],
           "sen": "ehcp", "attendance": 96.0, "sdq": 14, "amount": "250.00", "at": "15:30"}


def post(raw: dict[str, Any]) -> MultiDict[str]:
    data: MultiDict[str] = MultiDict()
    for name, value in raw.items():
        for v in value if isinstance(value, list) else [value]:
            data.add(name, v)
    return data


# ---- dates and times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "month", "year", "expected"), [
    ("2", "9", "2024", ("2024-09-02", None)),
    (" 02 ", "09", "2024", ("2024-09-02", None)),
    ("2", "sept", "2024", ("2024-09-02", None)),
    ("", "", "", (None, None)),
    ("31", "2", "2026", (None, "Start date must be a real date")),
    ("2", "", "2024", (None, "Start date must include a month")),
    ("", "", "2024", (None, "Start date must include a day and a month")),
    ("2", "9", "24", (None, "Start date must include a year with 4 numbers, like 2026")),
    ("x", "9", "2024", (None, "Start date must be a real date")),
    ("2", "13", "2024", (None, "Start date must be a real date")),
])
def test_a_gov_uk_date_input_becomes_an_iso_date_or_a_named_error(day: str, month: str, year: str,
                                                                    expected: tuple[str | None, str | None]) -> None:
    assert parse_date(day, month, year, "Start date") == expected


def test_an_iso_date_fills_the_date_input_and_reads_as_words() -> None:
    assert pep_forms.date_parts("2024-09-02") == ("2", "9", "2024")
    assert pep_forms.date_parts("not a date") == ("", "", "")
    assert pep_forms.long_date("2024-09-02") == "2 September 2024"


@pytest.mark.parametrize(("text", "expected"), [
    ("15:30", "15:30"), ("9:05", "09:05"), ("0930", "09:30"), ("3.30pm", "15:30"), ("12am", None), ("", None),
    ("25:00", None), ("noon", None),
])
def test_times_are_read_leniently_and_sent_as_hh_mm(text: str, expected: str | None) -> None:
    value, error = parse_time(text, "Time")
    assert value == expected
    assert (error is None) == (expected is not None or text == "")


def test_numbers_scores_and_money_are_sent_as_the_gateway_keeps_them() -> None:
    assert pep_forms.parse_number("number", "96.5", "A") == (96.5, None)
    assert pep_forms.parse_number("number", "1,200", "A") == (1200.0, None)
    assert pep_forms.parse_number("score", "14", "A") == (14, None)
    assert pep_forms.parse_number("score", "14.5", "A") == (None, "A must be a whole number")
    assert pep_forms.parse_number("money", "£250", "A") == ("250.00", None)
    assert pep_forms.parse_number("money", "250.5", "A") == ("250.50", None)
    assert pep_forms.parse_number("money", "25.555", "A")[1] == "A must be an amount in pounds and pence, like 250.00"
    assert pep_forms.parse_number("number", "abc", "A") == (None, "A must be a number")
    assert pep_forms.parse_number("number", "nan", "A") == (None, "A must be a number")
    assert pep_forms.parse_number("number", " ", "A") == (None, None)


# ---- answers <-> form values ------------------------------------------------------------------------------------


def test_answers_survive_the_round_trip_through_a_form() -> None:
    raw = pep_forms.answers_to_raw(SD.fields, ANSWERS)
    assert raw["answers.started.day"] == "2" and raw["answers.excluded"] == "yes"
    assert raw["rows.exclusions"] == "1" and raw["answers.exclusions.1.days"] == "1.5"
    assert raw["answers.needs"] == ["sld"] and raw["answers.attendance"] == "96"
    parsed = raw_to_answers(SD.fields, raw_from_post(SD.fields, post(raw)))
    assert parsed.errors == {}
    assert changes(SD.fields, parsed.answers, ANSWERS) == {}


def test_a_form_with_bad_answers_names_them_and_keeps_the_rest() -> None:
    raw = pep_forms.answers_to_raw(SD.fields, ANSWERS)
    raw.update({"answers.started.day": "31", "answers.started.month": "2", "answers.notes": "Kept  ",
                "answers.exclusions.1.date.month": "", "answers.sdq": "lots"})
    parsed = raw_to_answers(SD.fields, raw_from_post(SD.fields, post(raw)))
    assert parsed.errors == {"started": "Date the child started must be a real date",
                             "exclusions.1.date": "Date must include a month",
                             "sdq": "SDQ score must be a whole number"}
    assert parsed.answers["notes"] == "Kept"  # long text keeps its start, loses trailing space


def test_empty_answers_clear_and_empty_rows_are_not_sent() -> None:
    data = post({"rows.exclusions": "3", "answers.exclusions.2.kind": "permanent", "answers.notes": "",
                 "answers.excluded": "no"})
    parsed = raw_to_answers(SD.fields, raw_from_post(SD.fields, data))
    assert parsed.answers["exclusions"] == [{"date": None, "kind": "permanent", "days": None}]
    assert parsed.rows == {"exclusions": [2]}  # the one row sent was the form's second
    assert parsed.answers["notes"] is None and parsed.answers["excluded"] is False and parsed.answers["needs"] is None
    assert changes(SD.fields, parsed.answers, ANSWERS)["notes"] is None  # clearing is a change, sent as null


def test_a_form_never_asks_for_more_rows_than_the_template_allows() -> None:
    raw = raw_from_post(SD.fields, post({"rows.exclusions": "999"}))
    assert raw["rows.exclusions"] == "3"


def test_removing_a_row_moves_the_later_ones_up() -> None:
    raw = {"rows.exclusions": "3", "answers.exclusions.1.kind": "a", "answers.exclusions.2.kind": "b",
           "answers.exclusions.3.kind": "c", "answers.exclusions.3.date.day": "4", "answers.notes": "x"}
    assert pep_forms.remove_row(raw, "exclusions", 2) == {
        "rows.exclusions": "2", "answers.exclusions.1.kind": "a", "answers.exclusions.2.kind": "c",
        "answers.exclusions.2.date.day": "4", "answers.notes": "x"}
    assert pep_forms.remove_row(raw, "exclusions", 7) == raw


# ---- errors ---------------------------------------------------------------------------------------------------


def test_gateway_errors_land_on_the_inputs_they_belong_to() -> None:
    assert error_path("answers.notes") == "notes"
    assert error_path("answers.exclusions.1.days", {"exclusions": [2]}) == "exclusions.2.days"
    assert error_path("version") is None
    errors, other = gateway_errors(SD.fields, [
        {"field": "answers.name", "message": "Must be 200 characters or fewer"},
        {"field": "answers.exclusions.1.days", "message": "Must be 190 or less"},
        {"field": "answers.name", "message": "a second message is not shown"},
        {"field": "version", "message": "Enter a version"}], {"exclusions": [3]})
    assert errors == {"name": "Name must be 200 characters or fewer", "exclusions.3.days": "Days must be 190 or less"}
    assert other == ["Enter a version"]
    assert element_id("exclusions.3.days") == "answers-exclusions-3-days"


def test_errors_are_listed_in_the_order_of_the_page() -> None:
    errors = {"sdq": "c", "exclusions.2.date": "b2", "started": "a", "exclusions.1.days": "b1"}
    assert list(pep_forms.in_page_order(SD.fields, errors)) == ["started", "exclusions.1.days", "exclusions.2.date",
                                                                 "sdq"]
    assert pep_forms.summary_items({"started": "a"}, "/x") == [{"text": "a", "href": "/x#answers-started"}]


def test_question_at_finds_questions_in_rows() -> None:
    question = pep_forms.question_at(SD.fields, "exclusions.2.days")
    assert question is not None and question.label == "Days"
    assert pep_forms.question_at(SD.fields, "exclusions") is not None
    assert pep_forms.question_at(SD.fields, "notes.1.x") is None
    assert pep_forms.question_at(SD.fields, "nothing") is None


# ---- what changed, and merging ------------------------------------------------------------------------------------


def test_only_real_changes_are_sent() -> None:
    mine = {**ANSWERS, "attendance": 96, "notes": "Reading well", "exclusions": [
        {"date": "2026-01-12", "kind": "fixed_term", "days": 1.5, "extra": None}]}
    assert changes(SD.fields, mine, ANSWERS) == {}
    assert changes(SD.fields, {**mine, "sdq": 15, "name": None}, ANSWERS) == {"sdq": 15}


def test_a_merge_keeps_both_peoples_changes_and_asks_only_where_both_changed_one_question() -> None:
    base = {"notes": "old", "name": "Ann", "sdq": 10}
    theirs = {"notes": "theirs", "name": "Ann", "sdq": 12}
    mine = {"notes": "mine", "name": "Anne", "sdq": 12}
    plan = three_way(mine, base, theirs)
    assert plan.conflicts == ["notes"]  # sdq: we both gave 12, so nothing to ask or to save
    assert plan.auto == {"name": "Anne"}
    assert pep_forms.resolve(mine, plan.conflicts, []) == {"name": "Anne", "sdq": 12}
    assert pep_forms.resolve(mine, plan.conflicts, ["notes"]) == mine


def test_changes_travel_through_the_conflict_form_only_for_this_section() -> None:
    text = pep_forms.encode_changes({"notes": "x", "exclusions": [{"days": 2}], "not_here": 1})
    assert pep_forms.decode_changes(text, SD.fields) == {"notes": "x", "exclusions": [{"days": 2}]}
    assert pep_forms.decode_changes("{broken", SD.fields) == {}
    assert pep_forms.decode_changes("[1]", SD.fields) == {}


# ---- showing the questions ------------------------------------------------------------------------------------------


def test_conditional_questions_say_when_to_answer_them_and_carry_their_condition() -> None:
    widgets = {w["key"]: w for w in pep_forms.widgets(SD.fields, {}, {}, [])}
    assert widgets["review"]["condition"] == "Answer if ‘Special educational needs’ is ‘EHCP’"
    # For the page's script: the shared rule's conditions, in the form's names and values (yes/no as radios send).
    assert widgets["review"]["show_when"] == [{"field": "answers.sen", "equals": ["ehcp"]}]
    assert widgets["exclusions"]["show_when"] == [{"field": "answers.excluded", "equals": ["yes"]}]
    assert widgets["notes"]["show_when"] == []
    assert widgets["exclusions"]["condition"] == "Answer if ‘Excluded since the last PEP?’ is ‘Yes’"
    assert widgets["notes"]["condition"] is None


def test_widgets_carry_values_errors_rows_and_carried_answers_to_check() -> None:
    raw = pep_forms.answers_to_raw(SD.fields, ANSWERS)
    widgets = {w["key"]: w for w in pep_forms.widgets(SD.fields, raw, {"exclusions.1.days": "Bad"},
                                                      ["exclusions.1.kind", "sen"], extra_row="exclusions")}
    group = widgets["exclusions"]
    assert group["row_count"] == 2 and group["can_add"] and group["rows"][1]["remove"] == "remove:exclusions:2"
    first = {w["key"]: w for w in group["rows"][0]["fields"]}
    assert first["days"]["error"] == "Bad" and first["days"]["id"] == "answers-exclusions-1-days"
    assert first["kind"]["check"] and group["check"] and widgets["sen"]["check"] and not widgets["notes"]["check"]
    assert [i["checked"] for i in widgets["excluded"]["items"]] == [True, False]
    day = widgets["started"]["date_items"][0]
    assert day["value"] == "2" and day["name"] == "answers.started.day" and day["id"] == "answers-started"
    empty = {w["key"]: w for w in pep_forms.widgets(SD.fields, {}, {}, [])}
    assert empty["exclusions"]["row_count"] == 1  # one empty row to start with


def test_answers_in_words() -> None:
    q = {q.key: q for q in SD.fields}
    assert pep_forms.in_words(q["excluded"], False) == ["No"]
    assert pep_forms.in_words(q["needs"], ["sld", "semh"]) == ["Specific learning difficulty",
                                                              "Social, emotional and mental health"]
    assert pep_forms.in_words(q["exclusions"], ANSWERS["exclusions"]) == [
        "1. Date: 12 January 2026; Type: Suspension; Days: 1.5"]
    assert pep_forms.in_words(q["amount"], "250.00") == ["£250.00"]
    assert pep_forms.in_words(q["notes"], "") == []
    rows = pep_forms.read_only_rows(SD, {"sen": "none"}, "/peps/p/sections/education")
    assert "review" not in [r["key"] for r in rows]  # hidden by the answer before it
    assert rows[0]["href"] == "/peps/p/sections/education#answers-started"


# ---- starting a PEP, and words -----------------------------------------------------------------------------------


def test_the_start_form_checks_what_it_can() -> None:
    form = pep_words.check_start({"kind": "initial", "term": "spring", "academic_year": "2026-27",
                                  "meeting_date.day": "1", "meeting_date.month": "12", "meeting_date.year": "2026"})
    assert form.errors == {}
    assert form.body == {"kind": "initial", "term": "spring", "academic_year": "2026/27",
                         "meeting_date": "2026-12-01"}
    bad = pep_words.check_start({"kind": "x", "academic_year": "2026/28", "meeting_date.day": "40",
                                 "meeting_date.month": "1", "meeting_date.year": "2026"})
    assert bad.errors == {"kind": "Select what kind of PEP this is", "term": "Select the term",
                          "academic_year": "Enter the academic year like 2026/27",
                          "meeting_date": "The date of the PEP meeting must be a real date"}
    assert pep_words.check_start({"kind": "initial", "term": "summer", "academic_year": "2099/00"}).body[
        "academic_year"] == "2099/00"


def test_academic_years_terms_and_statuses_in_words() -> None:
    assert pep_words.academic_year(date(2026, 9, 1)) == "2026/27"
    assert pep_words.academic_year(date(2027, 8, 31)) == "2026/27"
    assert pep_words.term_of(date(2027, 2, 1)) == "spring"
    assert pep_words.pep_title("termly_review", "spring", "2026/27") == "Termly review, Spring 2026/27"
    assert pep_words.section_status("complete", 0) == {"text": "Completed"}
    assert pep_words.section_status("in_progress", 2)["tag"]["text"] == "Check carried answers"
    assert pep_words.section_status("not_started", 0)["tag"]["text"] == "Not started"
    assert pep_words.pep_status("something_new")["text"] == "Something new"
    assert pep_words.percent(95.0) == "95%" and pep_words.percent(None) == "Not recorded"
