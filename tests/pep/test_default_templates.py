"""The default templates hold what the five user guides ask of a PEP, and the answer rules work on them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.pep.domain.templates import clean_answers, missing, progress
from services.pep.template_library import TEMPLATES_DIR, default_for_phase, load_default_templates
from shared.api.templates import Section, Template, TemplateField

KEYS = {"early-years": "early_years", "school-age": "school_age", "post-16": "post_16"}
SECTIONS = [("personal", "social_worker"), ("education", "designated_teacher"),
            ("attainment", "designated_teacher"), ("views", "young_person"), ("carer_views", "carer"),
            ("targets", "designated_teacher"),
            ("meeting", "designated_teacher"), ("signoff", "virtual_school")]
ALL = sorted(KEYS)


def template(key: str) -> Template:
    return load_default_templates()[key]


def section(key: str, section_key: str) -> Section:
    found = template(key).section(section_key)
    assert found is not None, f"{key} has no section {section_key}"
    return found


def field(fields: Section | TemplateField | list[TemplateField], key: str) -> TemplateField:
    items = fields if isinstance(fields, list) else fields.fields or []
    found = next((f for f in items if f.key == key), None)
    assert found is not None, f"no field {key}"
    return found


def options(f: TemplateField) -> dict[str, str]:
    return {o.value: o.label for o in f.options or []}


def walk(fields: list[TemplateField]) -> list[TemplateField]:
    return [x for f in fields for x in [f, *walk(f.fields or [])]]


def errors_of(fields: list[TemplateField], answers: dict[str, Any]) -> dict[str, str]:
    _, errors = clean_answers(fields, answers)
    return {e.field: e.message for e in errors}


def missing_names(fields: list[TemplateField], answers: dict[str, Any], **kw: Any) -> list[str]:
    return [e.field for e in missing(fields, answers, **kw)]


# ---- the library ---------------------------------------------------------------------------------------


def test_three_defaults_one_per_phase_version_2() -> None:
    templates = load_default_templates()
    assert {k: t.phase for k, t in templates.items()} == KEYS
    # Version 2 added the carer's views, the adult's questions marked, symbols, and "you said" on targets.
    assert all(t.version == 2 for t in templates.values())
    for key, phase in KEYS.items():
        assert default_for_phase(phase) is templates[key]  # type: ignore[arg-type]


def test_loaded_once_and_the_dict_is_the_callers_own() -> None:
    first = load_default_templates()
    first.pop("school-age")
    assert "school-age" in load_default_templates()
    assert load_default_templates()["post-16"] is first["post-16"]


def test_unknown_phase() -> None:
    with pytest.raises(KeyError):
        default_for_phase("sixth_form")  # type: ignore[arg-type]


@pytest.mark.parametrize("filename", ["early_years.json", "school_age.json", "post_16.json"])
def test_every_file_validates_as_written(filename: str) -> None:
    data = json.loads((TEMPLATES_DIR / filename).read_text(encoding="utf-8"))
    assert Template.model_validate(data).key == filename.removesuffix(".json").replace("_", "-")


# ---- shape ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_sections_in_order_with_their_owners(key: str) -> None:
    assert [(s.key, s.owner) for s in template(key).sections] == SECTIONS


@pytest.mark.parametrize("key", ALL)
def test_a_reasonable_number_of_questions(key: str) -> None:
    top = sum(len(s.fields) for s in template(key).sections)
    assert 80 <= top <= 150, top


@pytest.mark.parametrize("key", ALL)
def test_carried_forward_answers_do_not_arrive_hidden(key: str) -> None:
    """If an answer carries forward, the answer that decides whether its question shows starts filled too."""
    def check(fields: list[TemplateField]) -> None:
        by_key = {f.key: f for f in fields}
        for f in fields:
            if f.carry_forward and f.show_when is not None:
                source = by_key[f.show_when.field]
                assert source.carry_forward or source.prefill, f"{key}: {f.key} carries forward, its condition not"
            check(f.fields or [])
    for s in template(key).sections:
        check(s.fields)


@pytest.mark.parametrize("key", ALL)
def test_most_stable_answers_start_filled(key: str) -> None:
    for s in ("personal", "education"):
        fields = section(key, s).fields
        assert sum(bool(f.carry_forward or f.prefill) for f in fields) / len(fields) >= 0.5, s
    for name in ("contacts", "siblings", "parental_responsibility"):
        assert field(section(key, "personal"), name).carry_forward
    for name in ("profile_literacy_numeracy", "profile_behaviour", "enrichment_activities", "transition_plan"):
        assert field(section(key, "education"), name).carry_forward
    assert field(section(key, "targets"), "current_targets").carry_forward
    for s in ("meeting", "signoff"):
        assert not any(f.carry_forward for f in section(key, s).fields), s
    # The child's views are new each time; only which set of questions suits them is kept.
    assert [f.key for f in section(key, "views").fields if f.carry_forward] in ([], ["question_set"])


@pytest.mark.parametrize("key", ALL)
def test_prefilled_answers_come_from_the_record_not_last_term(key: str) -> None:
    """Carrying forward would win over the record, and a changed legal status or year group would be missed."""
    for s in template(key).sections:
        assert not [f.key for f in walk(s.fields) if f.prefill and f.carry_forward], s.key


@pytest.mark.parametrize("key", ALL)
def test_core_data_is_prefilled(key: str) -> None:
    personal = section(key, "personal")
    wanted = {"given_name", "family_name", "date_of_birth", "upn", "legal_status", "date_entered_care",
              "placement_type", "year_group", "setting_name", "first_language"}
    if key == "post-16":
        wanted.add("uln")
    for name in wanted:
        assert field(personal, name).prefill == f"child.{name}"
    assert field(personal, "health_needs").prefill == "child.health_notes"
    assert field(section(key, "education"), "sen_status").prefill == "child.sen_status"
    prefills = [f.prefill for s in template(key).sections for f in walk(s.fields) if f.prefill]
    assert all(p.startswith("child.") for p in prefills), prefills


@pytest.mark.parametrize("key", ALL)
def test_personal_has_contacts_siblings_health_reason_and_summary(key: str) -> None:
    personal = section(key, "personal")
    assert field(personal, "contacts").type == "group" and field(personal, "siblings").type == "group"
    reasons = field(personal, "pep_reason")
    assert reasons.mandatory and {"initial", "termly_review", "change_of_placement", "change_of_school",
                                  "emergency"} <= set(options(reasons))
    assert field(personal, "sw_summary").mandatory
    assert field(personal, "health_needs").type == "long_text"


# ---- education -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_sen_status_and_the_ehcp_review_date_only_with_an_ehcp(key: str) -> None:
    education = section(key, "education")
    sen = field(education, "sen_status")
    assert sen.mandatory and list(options(sen)) == ["none", "sen_support", "ehcp"]
    review = field(education, "ehcp_review_date")
    assert review.type == "date" and review.show_when is not None
    assert review.show_when.field == "sen_status" and review.show_when.equals == ["ehcp"]


@pytest.mark.parametrize("key", ALL)
def test_walsalls_school_profile(key: str) -> None:
    education = section(key, "education")
    for name in ("literacy_numeracy", "language_communication", "emotional_wellbeing", "social_interaction",
                 "behaviour"):
        assert field(education, f"profile_{name}").type == "long_text"


@pytest.mark.parametrize("key", ["school-age", "post-16"])
def test_sdq_score_0_to_40_and_strategies_when_above_17(key: str) -> None:
    education = section(key, "education")
    keys = [f.key for f in education.fields]
    sdq = field(education, "sdq_score")
    assert (sdq.type, sdq.minimum, sdq.maximum) == ("score", 0, 40)
    assert sdq.hint and "17" in sdq.hint
    above = field(education, "sdq_above_17")
    strategies = field(education, "sdq_strategies")
    assert above.type == "yes_no" and keys.index("sdq_above_17") < keys.index("sdq_strategies")
    assert strategies.type == "long_text" and strategies.mandatory
    assert strategies.show_when is not None and strategies.show_when.model_dump() == {
        "field": "sdq_above_17", "equals": [True]}


def test_no_sdq_in_early_years() -> None:
    assert section("early-years", "education").field("sdq_score") is None


@pytest.mark.parametrize("key", ALL)
def test_attendance_and_reasons_when_not_satisfactory(key: str) -> None:
    education = section(key, "education")
    percent = field(education, "attendance_percent")
    assert (percent.type, percent.minimum, percent.maximum, percent.mandatory) == ("number", 0, 100, True)
    reasons = field(education, "absence_reasons")
    assert reasons.show_when is not None and reasons.show_when.field == "attendance_satisfactory"


@pytest.mark.parametrize("key", ["school-age", "post-16"])
def test_exclusions_table(key: str) -> None:
    exclusions = field(section(key, "education"), "exclusions")
    assert [f.key for f in exclusions.fields or []] == ["date", "type", "days", "reason"]
    assert set(options(field(exclusions, "type"))) == {"fixed_term", "permanent", "internal"}
    assert exclusions.show_when is not None and exclusions.show_when.field == "excluded_since_last_pep"


def test_part_time_timetable_and_alternative_provision_only_when_they_apply() -> None:
    education = section("school-age", "education")
    for name in ("part_time_reason", "part_time_start", "hours_per_week", "return_to_full_time"):
        assert field(education, name).show_when.model_dump() == {"field": "full_time", "equals": [False]}  # type: ignore[union-attr]
    for name in ("ap_name", "ap_checked"):
        assert field(education, name).show_when.model_dump() == {  # type: ignore[union-attr]
            "field": "alternative_provision", "equals": [True]}


@pytest.mark.parametrize("key", ALL)
def test_transition_and_enrichment(key: str) -> None:
    education = section(key, "education")
    plan = field(education, "transition_plan")
    assert plan.show_when is not None and plan.show_when.field == "transition_upcoming"
    assert field(education, "enrichment_activities").type == "long_text"


def test_post_16_neet_questions_only_when_neet() -> None:
    education = section("post-16", "education")
    assert "neet" in options(field(education, "eet_status"))
    for name in ("neet_since", "neet_reasons", "neet_plan"):
        assert field(education, name).show_when.model_dump() == {"field": "eet_status", "equals": ["neet"]}  # type: ignore[union-attr]
    assert "neet" not in field(education, "provider_name").show_when.equals  # type: ignore[union-attr]


# ---- attainment ----------------------------------------------------------------------------------------


def test_school_age_attainment_per_subject() -> None:
    attainment = section("school-age", "attainment")
    subjects = field(attainment, "subjects")
    assert subjects.type == "group" and subjects.mandatory and subjects.carry_forward
    assert [f.key for f in subjects.fields or []] == [
        "subject", "qualification_type", "target", "current_attainment", "predicted", "compared_with_are", "progress",
        "intervention"]
    assert set(options(field(subjects, "compared_with_are"))) == {"significantly_below", "below", "at", "above"}
    assert list(options(field(subjects, "progress"))) == ["less_than_expected", "expected", "more_than_expected"]
    results = field(attainment, "key_stage_results")
    assert set(options(field(results, "key_stage"))) == {"ks1", "ks2", "ks4"}


def test_early_years_records_the_areas_of_learning() -> None:
    areas = field(section("early-years", "attainment"), "areas")
    assert set(options(field(areas, "area"))) >= {"communication_language", "physical", "personal_social_emotional",
                                                   "literacy", "mathematics", "understanding_world",
                                                   "expressive_arts"}
    assert areas.min_rows == 3


def test_post_16_courses_predicted_grades_and_destination() -> None:
    attainment = section("post-16", "attainment")
    courses = field(attainment, "courses")
    assert {"course", "qualification_type", "target_grade", "current_grade", "predicted_grade"} <= {
        f.key for f in courses.fields or []}
    assert field(attainment, "eet_destination").mandatory


# ---- views ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_how_the_views_were_gathered(key: str) -> None:
    gathered = field(section(key, "views"), "how_gathered")
    assert gathered.mandatory and gathered.type == "single_choice"
    if key != "post-16":
        assert {"symbols", "observation"} <= set(options(gathered)), "a non-verbal way to give views"


def test_school_age_question_sets() -> None:
    views = section("school-age", "views")
    assert set(options(field(views, "question_set"))) == {"primary", "secondary", "symbols"}
    assert field(views, "future").show_when.equals == ["secondary"]  # type: ignore[union-attr]
    assert field(views, "observed_likes").show_when.equals == ["symbols"]  # type: ignore[union-attr]
    # Written for a reading age of about 8: short questions, in the child's own voice.
    for f in views.fields:
        if f.show_when is None and f.type == "long_text":
            words = f" {f.label.lower().replace('?', ' ')} "
            assert len(f.label) <= 70 and any(w in words for w in (" i ", " me ", " my ")), f.label


# ---- targets -------------------------------------------------------------------------------------------

KENT_FUNDING = {"school_funding", "high_needs", "vs_pp_plus", "pp_plus_auto_termly", "pre_school"}
KENT_AREAS = {"academic_achievement", "attendance_engagement", "social_emotional_wellbeing",
              "early_years_foundation_stage", "out_of_school_learning", "sen", "transition_support",
              "wider_achievement"}


@pytest.mark.parametrize("key", ALL)
def test_current_targets(key: str) -> None:
    targets = field(section(key, "targets"), "current_targets")
    assert (targets.type, targets.max_rows, targets.carry_forward, targets.mandatory) == ("group", 5, True, True)
    columns = [f.key for f in targets.fields or []]
    assert {"what", "by_when", "how", "who", "area_of_focus", "intervention_type", "needs_funding", "funding_type",
            "amount"} <= set(columns)
    needs = field(targets, "needs_funding")
    assert needs.type == "yes_no" and needs.mandatory
    assert field(targets, "by_when").type == "date" and field(targets, "amount").type == "money"
    for name in ("funding_type", "amount"):
        f = field(targets, name)
        assert f.show_when is not None and f.show_when.model_dump() == {"field": "needs_funding", "equals": [True]}
        assert columns.index("needs_funding") < columns.index(name)


def test_kents_funding_types_areas_of_focus_and_intervention_types() -> None:
    targets = field(section("school-age", "targets"), "current_targets")
    assert set(options(field(targets, "funding_type"))) == KENT_FUNDING
    assert set(options(field(targets, "area_of_focus"))) == KENT_AREAS
    interventions = options(field(targets, "intervention_type"))
    assert interventions["one_to_one_tuition"].startswith("One-to-one tuition")
    assert interventions["outdoor_adventure"] == "Outdoor adventure learning"


def test_funding_types_by_phase() -> None:
    def funding(key: str) -> set[str]:
        return set(options(field(field(section(key, "targets"), "current_targets"), "funding_type")))
    assert "pre_school" in funding("early-years") and "vs_pp_plus" not in funding("early-years")
    assert not funding("post-16") & {"vs_pp_plus", "pp_plus_auto_termly", "pre_school"}, "PP+ ends with KS4"


@pytest.mark.parametrize("key", ALL)
def test_previous_targets_review_and_pp_plus_review(key: str) -> None:
    targets = section(key, "targets")
    previous = field(targets, "previous_targets")
    assert previous.max_rows == 5 and not previous.carry_forward
    assert list(options(field(previous, "outcome"))) == ["achieved", "in_progress", "not_achieved"]
    assert field(previous, "continue").type == "yes_no"
    assert field(targets, "pp_review").type == "long_text"


# ---- meeting and sign-off ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_meeting_record(key: str) -> None:
    meeting = section(key, "meeting")
    labels = [f.label for f in meeting.fields]
    assert {"What is going well?", "What are the main concerns?", "What needs to happen next?"} <= set(labels)
    for name in ("going_well", "concerns", "next_steps"):
        assert field(meeting, name).type == "long_text"
    for name, kind in [("meeting_date", "date"), ("meeting_time", "time"), ("meeting_took_place", "yes_no"),
                       ("next_meeting_date", "date")]:
        assert (field(meeting, name).type, field(meeting, name).mandatory) == (kind, True), name
    assert field(meeting, "next_meeting_time").type == "time"
    assert field(meeting, "attendees").type == "group"
    assert "no" in options(field(meeting, "child_attended"))
    assert set(options(field(meeting, "meeting_reasons"))) >= {"new_to_care", "review", "change_of_placement",
                                                               "change_of_school"}


@pytest.mark.parametrize("key", ALL)
def test_walsalls_seven_point_checklist(key: str) -> None:
    signoff = section(key, "signoff")
    checklist = [f for f in signoff.fields if f.type == "yes_no"]
    assert len(checklist) == 7 and all(f.mandatory for f in checklist)
    assert [f.label for f in checklist] == [
        "The PEP has been completed within timescale",
        "All care information is completed with up to date information",
        "All relevant people have attended and contributed to the PEP",
        "The child's voice is recorded in the PEP",
        "The PEP identifies educational strengths and areas for academic and social/emotional development",
        "The targets reflect any areas of development identified within the PEP",
        "The targets are written clearly and concisely and identify strategies needed to achieve the target",
    ]
    assert field(signoff, "vs_comments").type == "long_text"
    assert not any("rating" in f.key for f in signoff.fields)


# ---- the answer rules on real sections -----------------------------------------------------------------

TARGET = {"what": "Read 20 minutes a day with her carer", "term": "short_term", "by_when": "2026-12-18",
          "how": "Reading diary checked weekly", "who": "Class teacher and carer",
          "area_of_focus": "academic_achievement", "intervention_type": "literacy_intervention",
          "needs_funding": False}
FUNDED = {**TARGET, "needs_funding": "yes", "funding_type": "vs_pp_plus", "amount": "£300",
          "intervention_type": "one_to_one_tuition"}


def test_a_bad_date_is_refused_by_name() -> None:
    errors = errors_of(section("school-age", "meeting").fields, {"meeting_date": "2026-02-30"})
    assert errors == {"meeting_date": "Enter a real date, like 2026-11-23"}


def test_an_option_not_offered_is_refused_by_name() -> None:
    errors = errors_of(section("school-age", "education").fields, {"sen_status": "statement"})
    assert errors == {"sen_status": "Select one of the options"}


def test_an_unknown_question_is_refused_by_name() -> None:
    errors = errors_of(section("school-age", "education").fields, {"favourite_colour": "blue"})
    assert errors == {"favourite_colour": "This question is not in this section"}


def test_the_sdq_score_stays_within_0_to_40() -> None:
    education = section("school-age", "education").fields
    assert errors_of(education, {"sdq_score": 41}) == {"sdq_score": "Must be 40 or less"}
    clean, errors = clean_answers(education, {"sdq_score": "18", "attendance_percent": "94.5",
                                              "sen_status": "ehcp", "ehcp_review_date": "2027-03-01"})
    assert not errors and clean == {"sdq_score": 18, "attendance_percent": 94.5, "sen_status": "ehcp",
                                    "ehcp_review_date": "2027-03-01"}


def test_group_rows_are_checked_with_dotted_names() -> None:
    targets = section("school-age", "targets").fields
    clean, errors = clean_answers(targets, {"current_targets": [FUNDED, {**FUNDED, "amount": "12.345",
                                                                          "funding_type": "lottery"}]})
    assert {e.field: e.message for e in errors} == {
        "current_targets.2.amount": "Enter an amount in pounds and pence, like 250.00",
        "current_targets.2.funding_type": "Select one of the options"}
    assert clean["current_targets"][0]["amount"] == "300.00" and clean["current_targets"][0]["needs_funding"] is True


def test_no_more_than_five_targets() -> None:
    errors = errors_of(section("school-age", "targets").fields, {"current_targets": [TARGET] * 6})
    assert errors == {"current_targets": "Add no more than 5 rows"}


def test_missing_skips_a_hidden_question_and_lists_a_shown_mandatory_one() -> None:
    education = section("school-age", "education").fields
    assert "ehcp_review_date" not in missing_names(education, {"sen_status": "sen_support"})
    assert "ehcp_review_date" in missing_names(education, {"sen_status": "ehcp"})
    calm = {"sdq_completed": True, "sdq_score": 12, "sdq_above_17": False}
    high = {"sdq_completed": True, "sdq_score": 22, "sdq_above_17": True}
    assert "sdq_strategies" not in missing_names(education, calm)
    assert "sdq_strategies" in missing_names(education, high)


def test_funding_questions_are_missing_only_when_funding_is_needed() -> None:
    targets = section("school-age", "targets").fields
    unfunded = missing_names(targets, {"current_targets": [TARGET, TARGET]})
    assert unfunded == []
    names = missing_names(targets, {"current_targets": [TARGET, {**TARGET, "needs_funding": True}]})
    assert names == ["current_targets.2.funding_type", "current_targets.2.amount"]
    blank = missing_names(targets, {"current_targets": [TARGET, {k: v for k, v in TARGET.items()
                                                                 if k != "needs_funding"}]})
    assert blank == ["current_targets.2.needs_funding"], "Does it need funding? must never be blank"


def test_at_least_two_current_targets() -> None:
    found = missing(section("school-age", "targets").fields, {"current_targets": [TARGET]})
    assert [(e.field, e.message) for e in found] == [("current_targets", "Add at least 2 to ‘Current SMART targets’")]


def test_the_next_meeting_date_is_needed_before_sign_off() -> None:
    meeting = section("school-age", "meeting").fields
    answers = {"meeting_date": "2026-10-14", "meeting_time": "09:30", "meeting_reasons": ["review"],
               "attendees": [{"name": "Dana Teacher", "role": "designated_teacher", "attendance": "in_person"}],
               "child_attended": "all", "going_well": "Reading", "concerns": "Friendships",
               "next_steps": "Nurture group", "meeting_took_place": True, "completed_by": "Dana Teacher"}
    clean, errors = clean_answers(meeting, answers)
    assert not errors
    assert missing_names(meeting, clean) == ["next_meeting_date"]
    assert missing_names(meeting, {**clean, "next_meeting_date": "2027-01-20"}) == []
    # An LA may make more questions mandatory than the template does.
    assert missing_names(meeting, {**clean, "next_meeting_date": "2027-01-20"},
                         mandatory={"next_meeting_venue"}) == ["next_meeting_venue"]


def test_views_shared_asked_only_when_the_child_was_not_there() -> None:
    meeting = section("school-age", "meeting").fields
    assert "views_shared" not in missing_names(meeting, {"child_attended": "all"})
    assert "views_shared" in missing_names(meeting, {"child_attended": "no"})


def test_hiding_a_question_hides_what_it_reveals_though_its_old_answer_is_kept() -> None:
    # A reveals B when "yes"; B reveals C when "other". C is mandatory only while both are shown.
    fields = [TemplateField.model_validate(f) for f in (
        {"key": "a", "label": "A", "type": "yes_no"},
        {"key": "b", "label": "B", "type": "single_choice", "show_when": {"field": "a", "equals": [True]},
         "options": [{"value": "other", "label": "Other"}, {"value": "none", "label": "None"}]},
        {"key": "c", "label": "C", "type": "text", "mandatory": True, "show_when": {"field": "b", "equals": ["other"]}},
    )]
    assert [e.field for e in missing(fields, {"a": True, "b": "other"})] == ["c"]
    # A changed to no: B's answer stays saved, but B is hidden, so C is hidden and not missing.
    assert missing(fields, {"a": False, "b": "other"}) == []
    section = Section(key="s", title="S", owner="designated_teacher", fields=fields)
    assert progress(section, {"a": False, "b": "other"}) == (1, 1)  # only A is shown
    assert progress(section, {"a": True, "b": "other"}) == (2, 3)
