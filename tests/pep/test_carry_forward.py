"""What a new PEP takes from the child's last one and from core data."""

from __future__ import annotations

from datetime import date

from services.pep.domain.carry_forward import core_values, next_meeting, start_answers
from shared.api.templates import Template

TEMPLATE = Template.model_validate({
    "key": "t", "name": "T", "phase": "school_age", "version": 1, "sections": [
        {"key": "personal", "title": "Personal", "owner": "social_worker", "fields": [
            {"key": "name", "label": "Name", "type": "text", "prefill": "child.given_name"},
            {"key": "contacts", "label": "Contacts", "type": "long_text", "carry_forward": True},
            {"key": "this_term_only", "label": "Notes", "type": "long_text"}]},
        {"key": "targets", "title": "Targets", "owner": "designated_teacher", "fields": [
            {"key": "previous_targets", "label": "Previous targets", "type": "group", "max_rows": 5, "fields": [
                {"key": "target", "label": "Target", "type": "long_text"},
                {"key": "outcome", "label": "Outcome", "type": "single_choice",
                 "options": [{"value": "achieved", "label": "Achieved"}]}]},
            {"key": "current_targets", "label": "Targets", "type": "group", "max_rows": 5, "carry_forward": True,
             "fields": [
                {"key": "what", "label": "What", "type": "long_text"},
                {"key": "by_when", "label": "By when", "type": "date"}]}]}]})


def test_a_first_pep_starts_from_core_data_only_with_nothing_carried_to_check() -> None:
    answers, to_check = start_answers(TEMPLATE, None, core_values({"given_name": "Jordan"}))
    assert answers == {"personal": {"name": "Jordan"}}
    assert to_check == {"personal": []}  # from the record as it is now, not carried: "Check carried answers" lies


def test_the_agreed_next_meeting_is_the_next_peps_meeting_not_a_carried_answer() -> None:
    agreed = next_meeting({"next_meeting_date": "2027-03-03", "next_meeting_time": "10:15",
                           "next_meeting_venue": "Library", "meeting_date": "2026-12-04"},
                          date(2026, 12, 4), date(2026, 12, 7))
    assert agreed == {"meeting_date": "2027-03-03", "meeting_time": "10:15", "location": "Library"}
    template = Template.model_validate({**TEMPLATE.model_dump(), "sections": [*TEMPLATE.model_dump()["sections"], {
        "key": "meeting", "title": "Meeting", "owner": "designated_teacher", "fields": [
            {"key": "meeting_date", "label": "Date", "type": "date"},
            {"key": "location", "label": "Where", "type": "text", "carry_forward": True},
            {"key": "next_meeting_date", "label": "Next", "type": "date"}]}]})
    answers, to_check = start_answers(template, {"meeting": {"location": "Old room"}}, {}, agreed)
    # Only the questions the template asks; the agreed venue wins over last term's, and none of it is to check.
    assert answers["meeting"] == {"meeting_date": "2027-03-03", "location": "Library"}
    assert to_check["meeting"] == []


def test_only_a_next_meeting_still_to_come_is_scheduled() -> None:
    held, today = date(2026, 12, 1), date(2026, 12, 7)
    assert next_meeting({}, held, today) is None
    assert next_meeting({"next_meeting_date": ""}, held, today) is None
    assert next_meeting({"next_meeting_date": "2026-12-06"}, held, today) is None  # already past
    assert next_meeting({"next_meeting_date": "2026-12-08"}, date(2026, 12, 9), today) is None  # before this one
    assert next_meeting({"next_meeting_date": "2026-12-07"}, None, today) == {"meeting_date": "2026-12-07"}


def test_the_next_pep_carries_forward_and_turns_current_targets_into_targets_to_review() -> None:
    previous = {"personal": {"name": "Old", "contacts": "Nan: 01632 960001", "this_term_only": "x"},
                "targets": {"current_targets": [{"what": "Read 20 minutes a day", "by_when": "2026-12-01"},
                                                {"what": "Times tables to 12"}],
                            "previous_targets": [{"target": "Something from last year"}]}}
    answers, to_check = start_answers(TEMPLATE, previous, core_values({"given_name": "Jordan"}))
    assert answers["personal"] == {"name": "Jordan", "contacts": "Nan: 01632 960001"}
    assert answers["targets"] == {"previous_targets": [{"target": "Read 20 minutes a day"},
                                                       {"target": "Times tables to 12"}]}
    assert "current_targets" not in answers["targets"]  # this term's targets are written afresh
    assert to_check["targets"] == ["previous_targets.1", "previous_targets.2"]


def test_a_confirmation_must_be_yes_not_just_answered() -> None:
    from services.pep.domain.templates import missing
    from shared.api.templates import Section

    section = Section.model_validate({"key": "meeting", "title": "Meeting", "owner": "designated_teacher", "fields": [
        {"key": "took_place", "label": "I confirm this PEP meeting took place", "type": "yes_no", "mandatory": True,
         "must_be": True}]})
    assert [g.message for g in missing(section.fields, {"took_place": False})] == [
        "‘I confirm this PEP meeting took place’ must be yes before sign-off"]
    assert missing(section.fields, {"took_place": True}) == []
