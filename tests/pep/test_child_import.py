"""CSV imports of children and attendance, and the core data rules rows are checked against."""

from __future__ import annotations

import uuid
from datetime import date

from services.pep.domain import core_data
from services.pep.domain.child_import import parse_attendance, parse_children
from shared.api.children import AttendanceIn

TODAY = date(2026, 3, 2)
HEADER = "social_care_id,given_name,family_name,date_of_birth,upn,uln,year_group,sen_status,in_care\n"


def problems_of(text: str) -> set[tuple[int, str]]:
    return {(e.row, e.field) for e in parse_children(text, TODAY).errors}


def test_a_good_file_gives_typed_rows_by_spreadsheet_row_number() -> None:
    parsed = parse_children(HEADER + "SC1,Jo,Bloggs,2015-04-01,y938 2001 16001,,Year 5,sen_support,yes\n"
                            "SC2, Sam ,Smith,01/09/2008,,1234567899,Year 12,,no\n", TODAY)
    assert parsed.errors == []
    first, second = parsed.rows
    assert (first.row, first.social_care_id) == (2, "SC1")
    assert first.values["upn"] == "Y938200116001" and first.values["date_of_birth"] == date(2015, 4, 1)
    assert first.values["uln"] is None and first.values["in_care"] is True
    assert second.values["given_name"] == "Sam" and second.values["date_of_birth"] == date(2008, 9, 1)
    assert second.values["sen_status"] is None and second.values["in_care"] is False


def test_every_problem_in_every_row_is_reported() -> None:
    text = HEADER + ("SC1,Jo,Bloggs,2015-04-01,A801200005001,,Year 5,none,yes\n"
                     "SC2,,Smith,31/02/2010,,9276308687,Year 14,lots,maybe\n"
                     "SC1,Jo,Again,2015-04-01,,,,,\n")
    assert problems_of(text) == {(2, "upn"), (3, "given_name"), (3, "date_of_birth"), (3, "uln"),
                                 (3, "year_group"), (3, "sen_status"), (3, "in_care"), (4, "social_care_id")}
    upn_error = next(e for e in parse_children(text, TODAY).errors if e.field == "upn")
    assert upn_error.message == ("Enter a valid UPN: 13 characters, a letter, 12 digits or letters, with the right "
                                 "check letter")


def test_a_bad_row_means_no_rows_to_import_from_it() -> None:
    parsed = parse_children(HEADER + "SC1,Jo,Bloggs,2015-04-01,,,,,\nSC2,Al,Bloggs,2030-01-01,,,,,\n", TODAY)
    assert [r.social_care_id for r in parsed.rows] == ["SC1"]
    assert [(e.row, e.field, e.message) for e in parsed.errors] == [
        (3, "date_of_birth", "The date of birth must be in the past")]


def test_the_header_needs_the_required_columns_and_no_unknown_ones() -> None:
    errors = problems_of("social_care_id,given_name,favourite_colour\nSC1,Jo,blue\n")
    assert {(1, "family_name"), (1, "date_of_birth"), (1, "favourite_colour")} <= errors


def test_headers_are_forgiven_case_and_spaces_and_a_byte_order_mark() -> None:
    parsed = parse_children("\ufeffSocial Care ID,Given Name,Family-Name,Date of birth\nSC1,Jo,Bloggs,2015-04-01\n",
                            TODAY)
    assert parsed.errors == [] and parsed.rows[0].values == {"given_name": "Jo", "family_name": "Bloggs",
                                                             "date_of_birth": date(2015, 4, 1)}


def test_blank_lines_are_skipped_and_an_empty_file_is_a_problem() -> None:
    assert parse_children(HEADER + "\n,,,,,,,,\nSC1,Jo,Bloggs,2015-04-01,,,,,\n", TODAY).errors == []
    assert problems_of(HEADER) == {(2, "csv")}


def test_a_row_longer_than_the_header_is_refused() -> None:
    assert (2, "csv") in problems_of(HEADER + "SC1,Jo,Bloggs,2015-04-01,,,,,,surprise\n")


def test_people_are_named_by_email_and_left_to_the_store() -> None:
    parsed = parse_children("social_care_id,given_name,family_name,date_of_birth,social_worker_email\n"
                            "SC1,Jo,Bloggs,2015-04-01,SW@Demo.test\nSC2,Al,Bloggs,2014-04-01,\n", TODAY)
    assert [r.emails for r in parsed.rows] == [{"social_worker_email": "sw@demo.test"},
                                               {"social_worker_email": None}]


def test_entering_care_before_birth_is_refused() -> None:
    text = ("social_care_id,given_name,family_name,date_of_birth,date_entered_care\n"
            "SC1,Jo,Bloggs,2015-04-01,2014-01-01\n")
    assert problems_of(text) == {(2, "date_entered_care")}


def test_attendance_rows_by_social_care_id_or_upn() -> None:
    parsed = parse_attendance("social_care_id,upn,period_start,period_end,possible_sessions,attended_sessions,"
                              "authorised_absences,unauthorised_absences\n"
                              "SC1,,2025-09-01,2025-10-24,76,70,4,2\n"
                              ",Y938200116001,01/09/2025,24/10/2025,76,76,,\n")
    assert parsed.errors == []
    first, second = parsed.rows
    assert first.social_care_id == "SC1" and first.record.unauthorised_absences == 2
    assert second.upn == "Y938200116001" and second.record.authorised_absences == 0


def test_attendance_sessions_must_add_up() -> None:
    parsed = parse_attendance("social_care_id,period_start,period_end,possible_sessions,attended_sessions,"
                              "authorised_absences\n"
                              "SC1,2025-10-24,2025-09-01,76,80,0\n"
                              "SC2,2025-09-01,2025-10-24,76,70,10\n"
                              "SC3,2025-09-01,2025-10-24,lots,70,0\n"
                              ",2025-09-01,2025-10-24,76,70,0\n")
    assert {(e.row, e.field) for e in parsed.errors} == {
        (2, "period_end"), (2, "attended_sessions"), (3, "possible_sessions"), (4, "possible_sessions"),
        (5, "social_care_id")}


def test_year_groups_give_key_stage_and_pep_phase() -> None:
    assert [core_data.key_stage(y) for y in ("Nursery", "Reception", "Year 2", "Year 3", "Year 9", "Year 11",
                                              "Year 13", None)] == ["EYFS", "EYFS", "KS1", "KS2", "KS3", "KS4",
                                                                    "KS5", None]
    assert [core_data.phase(y) for y in ("Nursery", "Reception", "Year 11", "Year 12")] == [
        "early_years", "school_age", "school_age", "post_16"]


def test_the_academic_year_starts_on_1_september() -> None:
    assert core_data.academic_year_of(date(2026, 8, 31)) == (date(2025, 9, 1), date(2026, 8, 31))
    assert core_data.academic_year_of(date(2026, 9, 1)) == (date(2026, 9, 1), date(2027, 8, 31))
    assert core_data.academic_year_label(date(2026, 3, 2)) == "2025/26"
    assert core_data.attendance_percent(70, 76) == 92.1 and core_data.attendance_percent(0, 0) is None


def test_saving_what_is_there_is_no_change() -> None:
    setting = uuid.uuid4()
    current = {"setting_id": setting, "carer": {"name": "Cara", "phone": None}, "date_of_birth": date(2015, 4, 1)}
    assert core_data.changes(current, {"setting_id": setting, "carer": {"name": "Cara"},
                                       "date_of_birth": date(2015, 4, 1)}) == {}
    assert core_data.changes(current, {"setting_id": None}) == {"setting_id": (setting, None)}


def test_an_edit_is_blamed_only_for_what_it_touches() -> None:
    record = {"upn": "A801200005001", "date_of_birth": date(2015, 4, 1), "year_group": "Year 5"}
    assert core_data.problems(record, TODAY, {"year_group"}) == []
    assert [e.field for e in core_data.problems(record, TODAY, {"upn"})] == ["upn"]


def test_attendance_problems_name_the_field() -> None:
    ok = AttendanceIn(period_start=date(2025, 9, 1), period_end=date(2025, 10, 24), possible_sessions=76,
                      attended_sessions=70, authorised_absences=6)
    assert core_data.attendance_problems(ok) == []
