"""QA frameworks are data: the shipped ones validate, a broken one is refused with why, and Gold is Green counted
in working days (England and Wales bank holidays) from the meeting to the real submission time, on the UK date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.qa.domain import reviews
from services.qa.domain.frameworks import FOLDER, FRAMEWORKS, Framework, load_all
from shared.workdays import add_working_days, within_working_days

REDCAR, EPEP_ONLINE, WALSALL = FRAMEWORKS["redcar_cleveland"], FRAMEWORKS["epep_online"], FRAMEWORKS["walsall"]


def test_the_three_shipped_frameworks_validate_with_their_scales_and_areas() -> None:
    assert sorted(load_all(FOLDER)) == ["epep_online", "redcar_cleveland", "walsall"]
    assert REDCAR.grade_keys == ("green", "amber", "red")  # Gold is awarded, never chosen
    assert [a.title for a in REDCAR.areas][:2] == ["Statutory timeframes", "General and personal"]
    assert len(REDCAR.areas) == 8 and all(set(a.descriptors) == {"green", "amber", "red"} for a in REDCAR.areas)
    assert EPEP_ONLINE.grade_keys == ("outstanding", "good", "requires_improvement", "inadequate")
    assert len(EPEP_ONLINE.areas) == 10 and EPEP_ONLINE.area_grade_keys[-1] == "not_applicable"
    assert WALSALL.grade_keys == ("meets", "does_not_meet") and WALSALL.area_grade_keys == ("yes", "no")
    assert len(WALSALL.areas) == 7


def _raw(name: str) -> dict:
    return json.loads((FOLDER / f"{name}.json").read_text())


@pytest.mark.parametrize(("change", "words"), [
    (lambda f: f["areas"][0]["descriptors"].pop("amber"), "no descriptor for amber"),
    (lambda f: f["areas"][0]["descriptors"].update(purple="?"), "not in the scale"),
    (lambda f: f["areas"].append(dict(f["areas"][0])), "same key"),
    (lambda f: f.update(gold={"grade": "green", "when": "green", "within_working_days": 5}), "gold must name"),
])
def test_a_framework_that_does_not_add_up_is_refused(change, words: str) -> None:
    raw = _raw("redcar_cleveland")
    change(raw)
    with pytest.raises(ValidationError, match=words):
        Framework.model_validate(raw)


def test_a_file_is_named_after_its_framework(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(_raw("walsall")))
    with pytest.raises(ValueError, match="named after its key"):
        load_all(tmp_path)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_gold_is_green_submitted_within_five_working_days_across_a_weekend() -> None:
    meeting = date(2027, 1, 8)  # a Friday: Mon 11 is day 1, Fri 15 day 5
    assert add_working_days(meeting, 5) == date(2027, 1, 15)
    assert REDCAR.awarded_grade("green", meeting, _at("2027-01-15T16:00:00+00:00")) == "gold"
    assert REDCAR.awarded_grade("green", meeting, _at("2027-01-18T09:00:00+00:00")) == "green"
    assert REDCAR.awarded_grade("amber", meeting, _at("2027-01-11T09:00:00+00:00")) == "amber"
    assert REDCAR.awarded_grade("green", None, _at("2027-01-11T09:00:00+00:00")) == "green"  # no meeting, no Gold
    assert REDCAR.awarded_grade("green", meeting, _at("2027-01-06T09:00:00+00:00")) == "gold"  # before it: in time


def test_bank_holidays_do_not_count_and_the_day_is_the_uk_one() -> None:
    meeting = date(2026, 12, 22)  # Tuesday; 25 December and 28 December (Boxing Day's substitute) are not counted
    assert add_working_days(meeting, 5) == date(2026, 12, 31)
    assert REDCAR.awarded_grade("green", meeting, _at("2026-12-31T23:30:00+00:00")) == "gold"
    assert REDCAR.awarded_grade("green", meeting, _at("2027-01-04T08:00:00+00:00")) == "green"
    # In summer 23:30 UTC is 00:30 the next day in the UK: one day too late.
    assert within_working_days(date(2027, 6, 2), _at("2027-06-09T22:30:00+00:00"), 5)
    assert not within_working_days(date(2027, 6, 2), datetime(2027, 6, 9, 23, 30, tzinfo=UTC), 5)
    assert EPEP_ONLINE.awarded_grade("outstanding", meeting, _at("2026-12-23T09:00:00+00:00")) == "outstanding"


def test_grades_are_checked_against_the_scale_and_named_by_field() -> None:
    problems = reviews.check_draft(REDCAR, {"education": {"grade": "gold"}, "nowhere": {"grade": "green"}}, "purple")
    assert [p.field for p in problems] == ["areas.education.grade", "areas.nowhere", "overall_grade"]
    assert reviews.check_draft(REDCAR, {"education": {"grade": "amber", "feedback": "Upload the EHCP"}}, "amber") == []
    assert reviews.check_draft(EPEP_ONLINE, {"transition": {"grade": "not_applicable"}}, "good") == []


def test_walsalls_checklist_meets_the_standard_only_when_every_item_is_yes() -> None:
    yes = {a.key: {"grade": "yes"} for a in WALSALL.areas}
    assert reviews.overall_by_rule(WALSALL, yes, None) == "meets"
    one_no = {**yes, "child_voice": {"grade": "no", "feedback": "Record the child's views"}}
    assert reviews.overall_by_rule(WALSALL, one_no, None) == "does_not_meet"
    assert [p.field for p in reviews.check_draft(WALSALL, one_no, "meets")] == ["overall_grade"]
    assert reviews.overall_by_rule(WALSALL, {"child_voice": {"grade": "yes"}}, None) is None  # not all answered


def test_an_approval_needs_every_area_and_a_return_carries_the_feedback() -> None:
    missing = reviews.missing_for_approval(REDCAR, {"education": {"grade": "green"}}, None)
    assert len(missing) == 8 and missing[-1].field == "overall_grade"
    words = reviews.return_words(REDCAR, "Please complete the targets", {
        "smart_targets": {"grade": "amber", "feedback": "Make target 1 measurable"}}, "amber", "Nearly there")
    assert words.splitlines() == ["Please complete the targets", "Overall: Amber. Nearly there",
                                  "Setting SMART targets (Amber): Make target 1 measurable"]


def test_the_frameworks_say_which_overall_grades_may_be_approved() -> None:
    """Redcar & Cleveland (Welfare Call): Amber and Red go back to the school; Walsall: "does not meet" is returned;
    ePEP Online rates, then signs off whatever the rating."""
    assert [g for g in REDCAR.grade_keys if REDCAR.may_approve(g)] == ["green"]
    assert [g for g in WALSALL.grade_keys if WALSALL.may_approve(g)] == ["meets"]
    assert all(EPEP_ONLINE.may_approve(g) for g in EPEP_ONLINE.grade_keys) and not EPEP_ONLINE.may_approve(None)
    refused = reviews.refused_approval(REDCAR, "amber")
    assert refused is not None and refused.field == "overall_grade"
    assert refused.message == "A PEP rated “Amber” goes back to the school: only Green can be approved"
    assert reviews.refused_approval(REDCAR, "green") is None
    assert reviews.refused_approval(WALSALL, "does_not_meet") is not None
    assert reviews.refused_approval(EPEP_ONLINE, "inadequate") is None


@pytest.mark.parametrize("approvable", [[], ["gold"], ["purple"]])
def test_approvable_names_grades_a_reviewer_can_choose(approvable: list[str]) -> None:
    raw = _raw("redcar_cleveland")
    raw["approvable"] = approvable
    with pytest.raises(ValidationError, match="approvable must name"):
        Framework.model_validate(raw)
