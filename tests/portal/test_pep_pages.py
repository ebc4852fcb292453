"""Children and PEP pages against a stand-in gateway: what they send, and how they show what comes back.

Above all: a save sends only what changed, from the version the page was made from; a bad answer loses
nothing; and someone else's save is never overwritten without the person choosing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import FakeGateway, problem

CHILD = "4a90b9b1-87aa-5626-8e7f-03b04b27fc97"
PEP = "69b66a8e-9265-484b-a38b-5ecae3a4b785"
OLD_PEP = "11111111-2222-4333-8444-555555555555"
OAKFIELD = "2b7f2c43-0000-4000-8000-000000000001"
ME = {"id": "43b9c6ce-ef2e-529b-91a6-3c5ee6507007", "email": "dt@demo.test", "given_name": "Dana",
      "family_name": "Teacher", "memberships": [
          {"organisation_id": OAKFIELD, "organisation_name": "Oakfield Primary School",
           "organisation_type": "setting", "role": "designated_teacher"}]}
CHILD_PROFILE = {
    "id": CHILD, "la_id": "6d167f16-e5cf-516e-a384-6cf45f7bd0ed", "version": 3, "given_name": "Jordan",
    "family_name": "Example", "date_of_birth": "2016-04-12", "gender": "male", "setting_id": OAKFIELD,
    "year_group": "Year 5", "key_stage": "KS2", "sen_status": "sen_support", "contacts": [], "in_care": True,
    "ethnicity": None, "first_language": None, "upn": None, "uln": None, "social_care_id": None,
    "date_entered_care": None, "legal_status": None, "placement_type": None, "carer": None, "phase": None,
    "health_notes": None, "social_worker_id": None, "iro_id": None, "carer_ids": [],
    "created_at": "2026-09-01T09:00:00+00:00", "updated_at": "2026-09-01T09:00:00+00:00", "updated_by": None,
    "placement_history": [], "setting_history": [],
    "indicators": {"last_pep_date": None, "next_pep_due": "2026-12-01", "year_group": "Year 5", "key_stage": "KS2",
                   "attendance_percent": 94.5},
    "people": [{"user_id": "33333333-3333-4333-8333-333333333333", "given_name": "Sam",
                "family_name": "Social-Worker", "email": "sw@demo.test", "via": "social_worker"}],
    "siblings": [{"id": "22222222-2222-4222-8222-222222222222", "given_name": "Riley", "family_name": "Sample",
                  "date_of_birth": "2017-09-03", "setting_id": OAKFIELD, "year_group": "Year 4"}],
    "access": "designated_teacher", "can_edit": False}
SUMMARY = {"id": PEP, "child_id": CHILD, "kind": "termly_review", "term": "spring", "academic_year": "2026/27",
           "status": "in_progress", "meeting_date": "2027-02-01", "created_at": "2027-01-05T10:00:00+00:00",
           "updated_at": "2027-01-05T10:00:00+00:00"}
OVERVIEW = {**SUMMARY, "template": {"key": "school-age", "name": "Statutory School Age PEP", "version": 1},
            "sections": [
                {"key": "personal", "title": "Personal, care and health information", "owner": "social_worker",
                 "status": "in_progress", "answered": 13, "questions": 27, "to_check": 0, "can_edit": False},
                {"key": "education", "title": "Education", "owner": "designated_teacher", "status": "not_started",
                 "answered": 0, "questions": 5, "to_check": 2, "can_edit": True}],
            "actions": ["submit", "cancel"]}
DEFINITION = {
    "key": "education", "title": "Education", "owner": "designated_teacher", "description": None,
    "fields": [
        {"key": "started", "label": "Date the child started at this school", "type": "date"},
        {"key": "strengths", "label": "Strengths and interests", "type": "long_text"},
        {"key": "excluded", "label": "Has the child been excluded?", "type": "yes_no", "mandatory": True},
        {"key": "strategies", "label": "What is being done to avoid further exclusion?", "type": "long_text",
         "mandatory": True, "show_when": {"field": "excluded", "equals": [True]}},
        {"key": "previous", "label": "Previous schools", "type": "group", "max_rows": 2,
         "fields": [{"key": "name", "label": "Name", "type": "text", "mandatory": True},
                    {"key": "from_date", "label": "From", "type": "date"}]},
    ]}


def section(answers: dict[str, Any] | None = None, version: int = 4, can_edit: bool = True,
            by: str = "Dana Teacher", to_check: list[str] | None = None) -> dict[str, Any]:
    return {"pep_id": PEP, "key": "education", "definition": DEFINITION,
            "answers": answers if answers is not None else {"strengths": "Football", "excluded": False},
            "version": version, "status": "in_progress", "to_check": to_check or [],
            "updated_at": "2027-01-05T16:02:00+00:00", "updated_by_name": by, "missing": [], "can_edit": can_edit}


@pytest.fixture
def signed_in(portal: TestClient, fake: FakeGateway) -> FakeGateway:
    fake.signed_in(ME)
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    fake.answer("GET", f"/peps/{PEP}", 200, OVERVIEW)
    fake.answer("GET", f"/children/{CHILD}", 200, CHILD_PROFILE)
    fake.answer("GET", f"/children/{CHILD}/peps", 200, [SUMMARY])
    fake.answer("GET", f"/peps/{PEP}/sections/education", 200, section())
    fake.answer("GET", f"/peps/{PEP}/sign-off", 200, sign_off())
    return fake


async def csrf(portal: TestClient, path: str = "/sign-in") -> str:
    html = await (await portal.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html
    return token.group(1)


def form(token: str, **values: Any) -> dict[str, Any]:
    return {"csrf_token": token, "version": "4", "rows.previous": "1", **values}


SECTION_URL = f"/peps/{PEP}/sections/education"


def sign_off(missing: list[dict[str, Any]] | None = None, my_part: str | None = "school", can_submit: bool = True,
             school_at: str | None = None) -> dict[str, Any]:
    """pep's SignOff: the caller's part, what stops it, and which parts are in (none, unless `school_at`)."""
    return {"status": "in_progress", "goes_to_qa": "social_worker_completes", "my_part": my_part,
            "missing": missing or [], "can_submit": can_submit,
            "parts": [{"part": "school", "needed": True, "submitted_at": school_at,
                       "submitted_by_name": "Dana Teacher" if school_at else None,
                       "setting_id": OAKFIELD if school_at else None},
                      {"part": "social_worker", "needed": True}]}

# ---- children -----------------------------------------------------------------------------------------------------


async def test_the_children_list_searches_and_pages(portal: TestClient, signed_in: FakeGateway) -> None:
    items = [{"id": CHILD, "la_id": CHILD_PROFILE["la_id"], "given_name": "Jordan", "family_name": "Example",
              "date_of_birth": "2016-04-12", "setting_id": OAKFIELD, "year_group": "Year 5", "key_stage": "KS2",
              "sen_status": "ehcp", "in_care": True, "version": 1}]
    signed_in.answer("GET", "/children", 200, {"items": items, "total": 60, "limit": 25, "offset": 25})
    html = await (await portal.get("/children?q=Jor&page=2")).text()
    assert signed_in.asked("GET", "/children") == [{"limit": "25", "offset": "25", "q": "Jor"}]
    assert f'href="/children/{CHILD}"' in html and "Oakfield Primary School" in html
    assert "Education, health and care plan (EHCP)" in html
    assert "Showing 26 to 26 of 60 children matching ‘Jor’" in html
    assert 'href="/children?q=Jor&amp;page=3"' in html  # next page keeps the search
    assert ">Children<" in html and 'aria-current="page"' in html  # the header's Children link


async def test_a_childs_profile_shows_core_data_indicators_people_siblings_and_peps(
        portal: TestClient, signed_in: FakeGateway) -> None:
    html = await (await portal.get(f"/children/{CHILD}")).text()
    for text in ("Jordan Example", "12 April 2016", "SEN support", "94.5%", "1 December 2026", "Sam Social-Worker",
                 "Social worker", "Riley Sample", "Termly review, Spring 2026/27", "In progress"):
        assert text in html, text
    assert "Start a PEP" not in html  # a Designated Teacher cannot start one


async def test_starting_a_pep_checks_the_form_then_shows_why_the_gateway_refused(
        portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/children/{CHILD}", 200, {**CHILD_PROFILE, "access": "social_worker"})
    assert "Start a PEP" in await (await portal.get(f"/children/{CHILD}")).text()
    token = await csrf(portal, f"/children/{CHILD}/peps/new")
    resp = await portal.post(f"/children/{CHILD}/peps/new", data={"csrf_token": token, "academic_year": "2026/27",
                                                                 "term": "autumn", "meeting_date.day": "31",
                                                                 "meeting_date.month": "2",
                                                                 "meeting_date.year": "2027"})
    html = await resp.text()
    assert 'href="#kind"' in html and 'href="#meeting_date"' in html and "must be a real date" in html
    assert signed_in.asked("POST", f"/children/{CHILD}/peps") == []
    signed_in.answer("POST", f"/children/{CHILD}/peps", *problem(
        409, "This child already has a PEP in progress", "Finish or cancel it before starting another.",
        code="pep_in_progress"))
    html = await (await portal.post(f"/children/{CHILD}/peps/new", data={
        "csrf_token": token, "kind": "initial", "term": "autumn", "academic_year": "2026/27"})).text()
    assert "This child already has a PEP in progress. Finish or cancel it before starting another." in html
    assert f'href="/peps/{PEP}"' in html
    signed_in.answer("POST", f"/children/{CHILD}/peps", 201, SUMMARY)
    resp = await portal.post(f"/children/{CHILD}/peps/new", allow_redirects=False, data={
        "csrf_token": token, "kind": "initial", "term": "autumn", "academic_year": "2026/27",
        "meeting_date.day": "1", "meeting_date.month": "12", "meeting_date.year": "2026"})
    assert resp.headers["Location"] == f"/peps/{PEP}"
    assert signed_in.asked("POST", f"/children/{CHILD}/peps")[-1] == {
        "kind": "initial", "term": "autumn", "academic_year": "2026/27", "meeting_date": "2026-12-01"}


# ---- the task list ---------------------------------------------------------------------------------------------


async def test_the_task_list_links_only_sections_you_can_change(portal: TestClient, signed_in: FakeGateway) -> None:
    html = await (await portal.get(f"/peps/{PEP}")).text()
    assert f'href="{SECTION_URL}"' in html and "govuk-task-list__link" in html
    assert "Check carried answers" in html and "Written by Designated Teacher" in html
    personal = html.split('id="sections-1-hint"')[1].split('id="sections-1-status"')[0]
    assert "View<span" in personal and "you cannot change it now" in personal
    assert f'href="/peps/{PEP}/sign-off"' in html and f'href="/peps/{PEP}/actions/cancel"' in html


# ---- saving a section ----------------------------------------------------------------------------------------------


async def test_the_section_form_carries_its_version_conditions_and_carried_answers(
        portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section(to_check=["strengths"]))
    html = await (await portal.get(SECTION_URL)).text()
    assert 'name="version" value="4"' in html
    assert "Answer if ‘Has the child been excluded?’ is ‘Yes’" in html
    # The conditions for the page's script, as data from the shared rule (test_pep_section_js checks it applies them).
    assert """data-show-when='[{"equals": ["yes"], "field": "answers.excluded"}]'""" in html
    assert "Carried forward from the last PEP: check it is still right" in html
    assert "(required for sign-off)" in html and 'id="answers-started"' in html
    assert "aria-expanded" not in html.split('id="section-form"')[1]


async def test_a_bad_date_is_named_and_nothing_typed_is_lost(portal: TestClient, signed_in: FakeGateway) -> None:
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, data=form(token, **{
        "answers.started.day": "31", "answers.started.month": "2", "answers.started.year": "2026",
        "answers.strengths": "Drawing", "answers.previous.1.name": "Little Acorns"}))
    html = await resp.text()
    assert '<a href="#answers-started">Date the child started at this school must be a real date</a>' in html
    assert ">Drawing</textarea>" in html and 'value="Little Acorns"' in html and 'value="31"' in html
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == []


async def test_a_save_sends_only_what_changed_from_the_pages_version(portal: TestClient,
                                                                   signed_in: FakeGateway) -> None:
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=5))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.started.day": "2", "answers.started.month": "9", "answers.started.year": "2024",
        "answers.strengths": "Football", "answers.excluded": "no", "action": "continue"}))
    assert resp.status == 303 and resp.headers["Location"] == f"/peps/{PEP}?done=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"started": "2024-09-02"}, "version": 4}]


async def test_the_gateways_errors_show_on_their_questions(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", *problem(
        422, "Some answers need changing", code="validation",
        errors=[{"field": "answers.previous.1.name", "message": "Must be 200 characters or fewer"}]))
    token = await csrf(portal, SECTION_URL)
    html = await (await portal.post(SECTION_URL, data=form(token, **{
        "rows.previous": "2", "answers.previous.2.name": "x" * 300, "answers.strengths": "Football",
        "answers.excluded": "no"}))).text()
    # The one row sent was the form's second: the error goes there.
    assert '<a href="#answers-previous-2-name">Name must be 200 characters or fewer</a>' in html
    assert 'id="answers-previous-2-name-error"' in html and "x" * 300 in html


async def test_add_another_saves_then_shows_an_empty_row(portal: TestClient, signed_in: FakeGateway) -> None:
    saved = section({"strengths": "Football", "excluded": False, "previous": [{"name": "Acorns"}]}, version=5)
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, saved)
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Football", "answers.excluded": "no", "answers.previous.1.name": "Acorns",
        "action": "add:previous"}))
    assert resp.headers["Location"] == f"{SECTION_URL}?add=previous#answers-previous-2-name"
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, saved)
    html = await (await portal.get(f"{SECTION_URL}?add=previous")).text()
    assert 'name="rows.previous" value="2"' in html and "Previous schools: entry 2" in html
    assert "Add another<span" not in html  # two is the most this group takes


async def test_someone_elses_save_to_the_same_question_is_put_side_by_side(
        portal: TestClient, signed_in: FakeGateway) -> None:
    # The page was made at version 4; Dana saved version 5 since, changing the same question.
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200,
                     section({"strengths": "Football and drawing", "excluded": False}, version=5))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/compare", 200, [
        {"field": "strengths", "label": "Strengths and interests", "before": "Football", "after": "Football",
         "changed": False},
        {"field": "excluded", "label": "Has the child been excluded?", "before": False, "after": False,
         "changed": False}])
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, data=form(token, **{
        "answers.strengths": "Music", "answers.excluded": "yes"}))
    html = await resp.text()
    assert resp.status == 409 and "Someone else saved this section" in html
    assert "Dana Teacher saved Education on 5 January 2027 at 4:02pm" in html
    assert "Football and drawing" in html and "Music" in html and "Keep their answer" in html
    assert "Your other change will be saved as well: Has the child been excluded?" in html
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == []
    assert signed_in.asked("GET", f"/peps/{PEP}/sections/education/compare") == [{"from": "4", "to": "4"}]

    # Choosing per question: nothing chosen is an error; "Use all my answers" saves mine on top of theirs.
    mine = re.search(r'name="mine" value="([^"]+)"', html)
    assert mine
    data = {"csrf_token": token, "version": "5", "base_version": "4",
            "mine": mine.group(1).replace("&#34;", '"').replace("&quot;", '"'), "conflict": "strengths"}
    html = await (await portal.post(f"{SECTION_URL}/merge", data=data)).text()
    assert '<a href="#choice-strengths">Select whose answer to keep for ‘Strengths and interests’</a>' in html
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=6))
    resp = await portal.post(f"{SECTION_URL}/merge", data={**data, "all": "mine"}, allow_redirects=False)
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Music", "excluded": True}, "version": 5}]


async def test_keeping_theirs_saves_only_my_other_changes(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200,
                     section({"strengths": "Football and drawing", "excluded": False}, version=5))
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=6))
    token = await csrf(portal, SECTION_URL)
    data = {"csrf_token": token, "version": "5", "base_version": "4", "conflict": "strengths",
            "mine": '{"excluded":true,"strengths":"Music"}', "choice.strengths": "theirs"}
    resp = await portal.post(f"{SECTION_URL}/merge", data=data, allow_redirects=False)
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"excluded": True}, "version": 5}]


async def test_changes_to_different_questions_are_merged_without_asking(portal: TestClient,
                                                                        signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200,
                     section({"strengths": "Football and drawing", "excluded": False}, version=5))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/compare", 200, [
        {"field": "strengths", "label": "S", "before": "Football", "after": "Football", "changed": False},
        {"field": "excluded", "label": "E", "before": False, "after": False, "changed": False}])
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=6))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Football", "answers.excluded": "yes"}))
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=merged"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"excluded": True}, "version": 5}]


async def test_a_save_that_loses_the_race_gets_the_conflict_page(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 409, {
        "title": "Someone else saved this section", "status": 409, "code": "conflict",
        "current": {"answers": {"strengths": "Chess", "excluded": False}, "version": 5,
                    "updated_by_name": "Sol Staff", "updated_at": "2027-01-05T16:05:00+00:00"}})
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, data=form(token, **{"answers.strengths": "Music",
                                                              "answers.excluded": "no"}))
    html = await resp.text()
    assert resp.status == 409 and "Sol Staff saved Education on 5 January 2027 at 4:05pm" in html
    assert "Chess" in html and "Music" in html
    assert 'name="version" value="5"' in html and 'name="base_version" value="4"' in html


def saves(*by_me: bool, first: int = 5) -> list[dict[str, Any]]:
    """The section's history from version `first` on, newest first: each save the caller's own or someone else's."""
    return [{"version": first + i, "changed": ["strengths"], "saved_at": "2027-01-05T16:02:00+00:00",
             "saved_by_name": "Dana Teacher" if mine else "Sol Staff", "saved_by_me": mine}
            for i, mine in reversed(list(enumerate(by_me)))]


async def test_my_own_autosave_since_the_page_is_not_theirs(portal: TestClient, signed_in: FakeGateway) -> None:
    # The page holds version 4; my autosave (still on its way when I pressed Save) made version 5 with "Chess".
    # I typed on: my Save is saved on top of my autosave, as from version 5, and says "saved", not "with theirs".
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess",
                                                                             "excluded": False}, version=5))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, saves(True))
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=6))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Chess club", "answers.excluded": "no", "action": "continue"}))
    assert resp.headers["Location"] == f"/peps/{PEP}?done=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess club"}, "version": 5}]


async def test_my_autosave_already_saved_it_all(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess",
                                                                             "excluded": False}, version=5))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, saves(True))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Chess", "answers.excluded": "no"}))
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == []


async def test_someone_else_after_my_autosave_is_merged_with(portal: TestClient, signed_in: FakeGateway) -> None:
    # Mine made version 5, Sol's version 6 (a different question): merged from version 5, "saved with theirs".
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess",
                                                                             "excluded": True}, version=6))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, saves(True, False))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/compare", 200, [
        {"field": "strengths", "label": "S", "before": "Chess", "after": "Chess", "changed": False},
        {"field": "excluded", "label": "E", "before": False, "after": False, "changed": False}])
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=7))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Chess club", "answers.excluded": "no"}))
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=merged"
    assert signed_in.asked("GET", f"/peps/{PEP}/sections/education/compare")[-1] == {"from": "5", "to": "5"}
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess club"}, "version": 6}]


async def test_a_save_racing_my_own_autosave_is_saved_on_top_of_it(portal: TestClient,
                                                                   signed_in: FakeGateway) -> None:
    # The page and pep both said version 4 when I pressed Save; my autosave landed version 5 just before my Save.
    signed_in.answer_once("PUT", f"/peps/{PEP}/sections/education", 409, {
        "title": "Someone else saved this section", "status": 409, "code": "conflict",
        "current": {"answers": {"strengths": "Chess", "excluded": False}, "version": 5,
                    "updated_by_name": "Dana Teacher", "updated_at": "2027-01-05T16:05:00+00:00"}})
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=6))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, saves(True))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(SECTION_URL, allow_redirects=False, data=form(token, **{
        "answers.strengths": "Chess club", "answers.excluded": "no"}))
    assert resp.headers["Location"] == f"{SECTION_URL}?saved=saved"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess club"}, "version": 4}, {"answers": {"strengths": "Chess club"}, "version": 5}]


# ---- autosave ---------------------------------------------------------------------------------------------------


async def test_autosave_saves_what_changed_and_answers_in_json(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess"}, version=5))
    token = await csrf(portal, SECTION_URL)
    data = form(token, **{"answers.strengths": "Chess", "answers.excluded": "no"})
    del data["csrf_token"]  # the script sends the token as a header
    resp = await portal.post(f"{SECTION_URL}/autosave", data=data, headers={"X-CSRF-Token": token})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "saved" and body["version"] == 5
    assert body["message"] == "Saved at 4:02pm" and body["idle_expires_at"]
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess"}, "version": 4}]
    resp = await portal.post(f"{SECTION_URL}/autosave", data=data)
    assert resp.status == 400  # no token, no save


async def test_autosave_saves_the_good_answers_and_names_the_bad(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section(version=5))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(f"{SECTION_URL}/autosave", data=form(token, **{
        "answers.strengths": "Chess", "answers.excluded": "no", "answers.started.day": "40",
        "answers.started.month": "1", "answers.started.year": "2026"}))
    body = await resp.json()
    assert body["status"] == "saved"
    assert body["errors"] == [{"id": "answers-started",
                               "message": "Date the child started at this school must be a real date"}]
    assert "1 answer needs changing" in body["message"]
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess"}, "version": 4}]


async def test_autosave_never_merges_it_reports_the_conflict(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section(version=7, by="Sol Staff"))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(f"{SECTION_URL}/autosave", data=form(token, **{"answers.strengths": "Chess"}))
    body = await resp.json()
    assert resp.status == 409 and body["status"] == "conflict" and body["by"] == "Sol Staff"
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == []


async def test_autosave_after_my_own_autosave_is_no_conflict(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess"}, version=6))
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, saves(True, True))
    signed_in.answer("PUT", f"/peps/{PEP}/sections/education", 200, section({"strengths": "Chess club"}, version=7))
    token = await csrf(portal, SECTION_URL)
    resp = await portal.post(f"{SECTION_URL}/autosave", data=form(token, **{"answers.strengths": "Chess club"}))
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "saved" and body["version"] == 7
    assert signed_in.asked("PUT", f"/peps/{PEP}/sections/education") == [
        {"answers": {"strengths": "Chess club"}, "version": 6}]


async def test_autosave_when_signed_out_says_so(portal: TestClient, fake: FakeGateway) -> None:
    token = await csrf(portal)
    resp = await portal.post(f"{SECTION_URL}/autosave", data={"csrf_token": token, "version": "1"})
    assert resp.status == 401 and (await resp.json())["status"] == "signed_out"


# ---- the trays ---------------------------------------------------------------------------------------------------


async def test_a_tray_names_sections_by_their_titles_in_the_peps_template(portal: TestClient,
                                                                          signed_in: FakeGateway) -> None:
    # The LA's template calls its sections by its own words (escaped once); a task names them by key.
    overview = {**OVERVIEW, "sections": [
        {"key": k, "title": t, "owner": "designated_teacher", "status": "not_started", "answered": 0, "questions": 1,
         "to_check": 0, "can_edit": True} for k, t in (("attainment", "Attainment and progress"),
                                                       ("views", "The child’s views"),
                                                       ("carer_views", "Carer <b>views</b> & wishes"))]}
    signed_in.answer("GET", f"/peps/{PEP}", 200, overview)
    task = {"id": "0b3c2f3e-8a6d-4e7a-9f1b-2c3d4e5f6a7b", "kind": "complete_sections", "status": "assigned",
            "pep_id": PEP, "child_id": CHILD, "child_name": "Jordan Example", "la_id": CHILD_PROFILE["la_id"],
            "setting_id": OAKFIELD, "sections": ["attainment", "views", "carer_views"], "assignee_user_id": None,
            "originator_id": None, "originator_name": "Cal Caseworker", "due_date": "2027-02-01", "overdue": False,
            "note": None, "feedback": None, "created_at": "2027-01-05T10:00:00+00:00",
            "updated_at": "2027-01-05T10:00:00+00:00", "version": 1, "can_retract": False}
    signed_in.answer("GET", "/tasks", 200, {"items": [task, {**task, "id": OLD_PEP, "kind": "finalise",
                                                            "sections": []}], "counts": {"current": 2}})
    html = await (await portal.get("/tasks")).text()
    assert ("Complete sections: Attainment and progress, The child’s views, "
            "Carer &lt;b&gt;views&lt;/b&gt; &amp; wishes") in html
    assert "Carer views" not in html and ">Attainment<" not in html and "Attainment," not in html
    assert len(signed_in.asked("GET", f"/peps/{PEP}")) == 1  # once a PEP, however many of its tasks


# ---- check answers, sign-off, actions, history --------------------------------------------------------------------


async def test_check_answers_lists_answers_with_change_links_and_what_blocks_completion(
        portal: TestClient, signed_in: FakeGateway) -> None:
    html = await (await portal.get(f"{SECTION_URL}/check")).text()
    assert "Football" in html and f'href="{SECTION_URL}#answers-strengths"' in html
    assert "What is being done to avoid further exclusion?" not in html  # not asked: the answer was no
    signed_in.answer("POST", f"/peps/{PEP}/sections/education/complete", *problem(
        422, "Some answers are missing", code="incomplete",
        errors=[{"field": "answers.excluded", "message": "Answer ‘Has the child been excluded?’"}]))
    token = await csrf(portal, f"{SECTION_URL}/check")
    html = await (await portal.post(f"{SECTION_URL}/complete", data={"csrf_token": token})).text()
    assert f'<a href="{SECTION_URL}#answers-excluded">Answer ‘Has the child been excluded?’</a>' in html
    signed_in.answer("POST", f"/peps/{PEP}/sections/education/complete", 200, section())
    resp = await portal.post(f"{SECTION_URL}/complete", data={"csrf_token": token}, allow_redirects=False)
    assert resp.headers["Location"] == f"/peps/{PEP}?done=complete"


async def test_a_section_you_cannot_change_is_shown_read_only(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education", 200, section(can_edit=False))
    html = await (await portal.get(SECTION_URL)).text()
    assert "You can read this section but you cannot change it now" in html
    assert "<form" not in html.split("<main")[1].split("</main>")[0] and "Football" in html


async def test_sign_off_lists_what_is_missing_then_offers_submit(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sign-off", 200, sign_off([
        {"section": "education", "section_title": "Education", "field": "previous.1.name",
         "message": "Answer ‘Name’"}]))
    html = await (await portal.get(f"/peps/{PEP}/sign-off")).text()
    assert "Submit your contribution" in html and "1 answer is missing" in html
    assert f'<a class="govuk-link" href="{SECTION_URL}#answers-previous-1-name">Answer ‘Name’</a>' in html
    assert f'action="/peps/{PEP}/actions/submit"' not in html
    signed_in.answer("GET", f"/peps/{PEP}/sign-off", 200, sign_off())
    html = await (await portal.get(f"/peps/{PEP}/sign-off")).text()
    assert f'action="/peps/{PEP}/actions/submit"' in html and re.search(r">\s*Submit contribution\s*</button>", html)


async def test_a_contribution_submitted_while_the_pep_waits_says_so(portal: TestClient,
                                                                    signed_in: FakeGateway) -> None:
    """The DT's submission is their part: when the PEP waits for the social worker, the PEP page says the school's
    contribution is in, by which school and when, and what it waits for."""
    signed_in.answer("POST", f"/peps/{PEP}/actions/submit", 200, SUMMARY)  # still in progress: it waits
    token = await csrf(portal, f"/peps/{PEP}/sign-off")
    resp = await portal.post(f"/peps/{PEP}/actions/submit", data={"csrf_token": token}, allow_redirects=False)
    assert resp.headers["Location"] == f"/peps/{PEP}?done=contributed"
    signed_in.answer("GET", f"/peps/{PEP}/sign-off", 200, sign_off(school_at="2027-03-03T10:00:00+00:00"))
    html = await (await portal.get(f"/peps/{PEP}?done=contributed")).text()
    assert "Contribution submitted" in html
    assert "Contribution submitted by Oakfield Primary School on 3 March 2027" in html
    assert "The PEP goes to quality assurance once this is in: Social worker’s part." in html


async def test_returning_or_cancelling_needs_a_reason(portal: TestClient, signed_in: FakeGateway) -> None:
    token = await csrf(portal, f"/peps/{PEP}/actions/cancel")
    html = await (await portal.post(f"/peps/{PEP}/actions/cancel", data={"csrf_token": token})).text()
    assert "Enter the reason for cancelling the PEP" in html
    assert signed_in.asked("POST", f"/peps/{PEP}/actions/cancel") == []
    signed_in.answer("POST", f"/peps/{PEP}/actions/cancel", 200, {**SUMMARY, "status": "cancelled"})
    resp = await portal.post(f"/peps/{PEP}/actions/cancel", data={"csrf_token": token, "reason": "Moved LA"},
                             allow_redirects=False)
    assert resp.headers["Location"] == f"/children/{CHILD}?done=cancel"
    assert signed_in.asked("POST", f"/peps/{PEP}/actions/cancel") == [{"reason": "Moved LA"}]
    resp = await portal.get(f"/peps/{PEP}/actions/submit", allow_redirects=False)
    assert resp.headers["Location"] == f"/peps/{PEP}/sign-off"
    assert (await portal.get(f"/peps/{PEP}/actions/delete")).status == 404


async def test_the_pep_page_offers_no_approve_or_return_only_the_review(portal: TestClient,
                                                                         signed_in: FakeGateway) -> None:
    """Approving and returning are the QA review's decision: the PEP page links to the review, even if an older pep
    still listed them, and the old action addresses lead there too, sending nothing to the gateway."""
    vs = {**CHILD_PROFILE, "access": "virtual_school"}
    signed_in.answer("GET", f"/children/{CHILD}", 200, vs)
    signed_in.answer("GET", f"/peps/{PEP}", 200, {**OVERVIEW, "status": "submitted",
                                                  "actions": ["return", "approve", "cancel"]})
    html = await (await portal.get(f"/peps/{PEP}")).text()
    assert f'href="/peps/{PEP}/review">Review this PEP</a>' in html
    assert f"/peps/{PEP}/actions/approve" not in html and f"/peps/{PEP}/actions/return" not in html
    assert ">Approve<" not in html and "Return for changes" not in html
    assert f"/peps/{PEP}/actions/cancel" in html
    token = await csrf(portal, f"/peps/{PEP}/actions/cancel")
    for action in ("approve", "return"):
        resp = await portal.get(f"/peps/{PEP}/actions/{action}", allow_redirects=False)
        assert resp.headers["Location"] == f"/peps/{PEP}/review"
        resp = await portal.post(f"/peps/{PEP}/actions/{action}", data={"csrf_token": token, "reason": "x"},
                                 allow_redirects=False)
        assert resp.headers["Location"] == f"/peps/{PEP}/review"
        assert signed_in.asked("POST", f"/peps/{PEP}/actions/{action}") == []


async def test_history_and_comparing_versions(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/history", 200, [
        {"version": 2, "changed": ["strengths", "excluded"], "saved_at": "2027-01-05T16:02:00+00:00",
         "saved_by_name": "Dana Teacher"},
        {"version": 0, "changed": [], "saved_at": "2027-01-05T10:00:00+00:00", "saved_by_name": "Sam Social-Worker"}])
    html = await (await portal.get(f"{SECTION_URL}/history")).text()
    assert "Strengths and interests, Has the child been excluded?" in html and "Dana Teacher" in html
    assert f'href="{SECTION_URL}/compare?from=0&amp;to=2"' in html
    signed_in.answer("GET", f"/peps/{PEP}/sections/education/compare", 200, [
        {"field": "strengths", "label": "Strengths and interests", "before": None, "after": "Football",
         "changed": True},
        {"field": "excluded", "label": "Has the child been excluded?", "before": None, "after": False,
         "changed": True}])
    html = await (await portal.get(f"{SECTION_URL}/compare?from=0&to=2")).text()
    assert "app-compare__row--changed" in html and "2 questions changed" in html and "Football" in html


async def test_compare_with_last_term_reads_both_peps(portal: TestClient, signed_in: FakeGateway) -> None:
    signed_in.answer("GET", f"/children/{CHILD}/peps", 200, [SUMMARY, {
        **SUMMARY, "id": OLD_PEP, "term": "autumn", "kind": "initial", "status": "finalised",
        "created_at": "2026-09-05T10:00:00+00:00"}])
    signed_in.answer("GET", f"/peps/{OLD_PEP}/sections/education", 200,
                     {**section({"strengths": "Lego", "excluded": False}), "pep_id": OLD_PEP})
    html = await (await portal.get(f"{SECTION_URL}/last-term")).text()
    assert "Last term: Initial PEP, Autumn 2026/27" in html and "Lego" in html and "Football" in html
    assert "1 answer is different" in html
    overview = await (await portal.get(f"/peps/{PEP}")).text()
    assert f'href="{SECTION_URL}/last-term"' in overview
