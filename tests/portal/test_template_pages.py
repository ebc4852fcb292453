"""PEP template pages against a stand-in gateway: who sees them, what they show, and what a change sends.

Above all: only a VS admin has them; a national default is only read and copied; a change sends the whole
template with just the person's changes, onto the LA's latest version; and a refusal names the field and
loses nothing typed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import ME as ADMIN
from tests.portal.fake_gateway import FakeGateway, problem

LA = "6d167f16-e5cf-516e-a384-6cf45f7bd0ed"
OTHER_LA = "7e167f16-e5cf-516e-a384-6cf45f7bd0ee"
DEFAULT = "10000000-0000-4000-8000-000000000001"
OWN_V2 = "20000000-0000-4000-8000-000000000002"
OWN_V3 = "20000000-0000-4000-8000-000000000003"
SAVED_V4 = "20000000-0000-4000-8000-000000000004"
ELSEWHERE = "30000000-0000-4000-8000-000000000001"
DT = {"id": "43b9c6ce-ef2e-529b-91a6-3c5ee6507007", "email": "dt@demo.test", "given_name": "Dana",
      "family_name": "Teacher", "memberships": [
          {"organisation_id": "2b7f2c43-0000-4000-8000-000000000001", "organisation_name": "Oakfield Primary School",
           "organisation_type": "setting", "role": "designated_teacher"}]}
BODY: dict[str, Any] = {
    "key": "school-age", "name": "Statutory School Age PEP", "phase": "school_age", "version": 1, "sections": [
        {"key": "personal", "title": "Personal information", "owner": "social_worker",
         "fields": [{"key": "legal_status", "label": "Legal status", "type": "text", "mandatory": True}]},
        {"key": "education", "title": "Education", "owner": "designated_teacher", "fields": [
            {"key": "strengths", "label": "Strengths and interests", "type": "long_text", "carry_forward": True,
             "hint": "What they enjoy"},
            {"key": "excluded", "label": "Has the child been excluded?", "type": "yes_no", "mandatory": True},
            {"key": "strategies", "label": "What is being done to avoid further exclusion?", "type": "long_text",
             "show_when": {"field": "excluded", "equals": [True]}},
            {"key": "previous", "label": "Previous schools", "type": "group", "fields": [
                {"key": "name", "label": "Name", "type": "text"}]}]}]}


def summary(template_id: str, version: int, la_id: str | None, at: str = "2026-11-20T10:00:00+00:00") -> dict[str, Any]:
    return {"id": template_id, "key": "school-age", "name": "Statutory School Age PEP", "phase": "school_age",
            "version": version, "la_id": la_id, "changed_at": at}


def full(template_id: str, version: int, la_id: str | None, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**summary(template_id, version, la_id), "body": {**(body or BODY), "version": version}}


LISTED = [summary(DEFAULT, 1, None, "2026-11-01T09:00:00+00:00"), summary(OWN_V3, 3, LA, "2026-11-24T16:37:00+00:00"),
          summary(OWN_V2, 2, LA), summary(ELSEWHERE, 1, OTHER_LA)]


@pytest.fixture
def admin(portal: TestClient, fake: FakeGateway) -> FakeGateway:
    fake.signed_in(ADMIN)
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    fake.answer("GET", "/templates", 200, LISTED)
    fake.answer("GET", f"/templates/{DEFAULT}", 200, full(DEFAULT, 1, None))
    fake.answer("GET", f"/templates/{OWN_V2}", 200, full(OWN_V2, 2, LA))
    fake.answer("GET", f"/templates/{OWN_V3}", 200, full(OWN_V3, 3, LA))
    fake.answer("GET", f"/templates/{ELSEWHERE}", 200, full(ELSEWHERE, 1, OTHER_LA))
    return fake


async def csrf(portal: TestClient, path: str) -> str:
    html = await (await portal.get(path)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, html
    return token.group(1)


EDIT_URL = f"/templates/{OWN_V3}/sections/education"


def edit_form(token: str, **changed: str) -> dict[str, str]:
    """The education section's form as the page fills it, with some inputs changed."""
    values = {"csrf_token": token, "label-strengths": "Strengths and interests", "hint-strengths": "What they enjoy",
              "label-excluded": "Has the child been excluded?", "mandatory-excluded": "yes",
              "label-strategies": "What is being done to avoid further exclusion?", "hint-strategies": "",
              "label-previous": "Previous schools", "hint-previous": "", "label-previous-name": "Name",
              "hint-previous-name": ""}
    values.update(changed)
    return {k: v for k, v in values.items() if v is not None}


# ---- who sees the pages --------------------------------------------------------------------------------------


async def test_only_a_virtual_school_admin_has_the_template_pages(portal: TestClient, fake: FakeGateway) -> None:
    fake.signed_in(DT)
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})
    fake.answer("GET", "/templates", 200, LISTED)
    fake.answer("GET", f"/templates/{DEFAULT}", 200, full(DEFAULT, 1, None))
    for path in ("/templates", f"/templates/{DEFAULT}", f"/templates/{DEFAULT}/sections/education"):
        resp = await portal.get(path)
        assert resp.status == 404 and "Page not found" in await resp.text(), path
    assert fake.asked("GET", "/templates") == []


async def test_signed_out_people_go_to_sign_in(portal: TestClient, fake: FakeGateway) -> None:
    resp = await portal.get("/templates", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/sign-in"


async def test_another_las_template_is_not_found(portal: TestClient, admin: FakeGateway) -> None:
    for path in (f"/templates/{ELSEWHERE}", f"/templates/{ELSEWHERE}/sections/education",
                 "/templates/not-an-id", f"/templates/{SAVED_V4}"):  # the last: the gateway answers 404
        resp = await portal.get(path)
        assert resp.status == 404, path


# ---- the list and a template -----------------------------------------------------------------------------------


async def test_the_list_shows_the_latest_version_of_the_defaults_and_the_las_own(portal: TestClient,
                                                                                 admin: FakeGateway) -> None:
    html = await (await portal.get("/templates")).text()
    assert f'href="/templates/{DEFAULT}"' in html and f'href="/templates/{OWN_V3}"' in html
    assert f'href="/templates/{OWN_V2}"' not in html  # an earlier version: on the template's page
    assert f'href="/templates/{ELSEWHERE}"' not in html  # an LA this person is not an admin of
    assert "National default" in html and "Demo Virtual School" in html and "Statutory school age" in html
    assert "24 November 2026 at 4:37pm" in html and "1 earlier" in html


async def test_a_default_is_read_only_and_offers_a_copy_to_the_admins_la(portal: TestClient,
                                                                         admin: FakeGateway) -> None:
    html = await (await portal.get(f"/templates/{DEFAULT}")).text()
    for text in ("Strengths and interests", "Help text: What they enjoy", "Long text", "Repeating rows",
                 "When ‘Has the child been excluded?’ is ‘Yes’", "In each row of ‘Previous schools’",
                 "Written by Designated Teacher"):
        assert text in html, text
    assert "Copy to Demo Virtual School" in html and f'action="/templates/{DEFAULT}/copy"' in html
    assert f'name="la_id" value="{LA}"' in html
    # Demo already has its own: copying again is a new version, and the page says so.
    assert "already has its own version 3 of this template" in html
    assert "Change questions" not in html


async def test_copying_a_default_posts_it_to_the_la_and_shows_the_copy(portal: TestClient,
                                                                       admin: FakeGateway) -> None:
    admin.answer("POST", f"/organisations/{LA}/templates", 201, full(SAVED_V4, 4, LA))
    token = await csrf(portal, f"/templates/{DEFAULT}")
    resp = await portal.post(f"/templates/{DEFAULT}/copy", allow_redirects=False,
                             data={"csrf_token": token, "la_id": LA})
    assert resp.status == 303 and resp.headers["Location"] == f"/templates/{SAVED_V4}?done=copied"
    assert admin.asked("POST", f"/organisations/{LA}/templates") == [{"from_template_id": DEFAULT}]
    admin.answer("GET", f"/templates/{SAVED_V4}", 200, full(SAVED_V4, 4, LA))
    html = await (await portal.get(f"/templates/{SAVED_V4}?done=copied")).text()
    assert "Copied to Demo Virtual School" in html and "This is its version 4" in html
    # Copying to an LA the person does not administer, or copying an LA's template, is not a page.
    assert (await portal.post(f"/templates/{DEFAULT}/copy", data={"csrf_token": token, "la_id": OTHER_LA})).status \
        == 404
    assert (await portal.post(f"/templates/{OWN_V3}/copy", data={"csrf_token": token, "la_id": LA})).status == 404
    assert len(admin.asked("POST", f"/organisations/{LA}/templates")) == 1


async def test_an_las_latest_version_links_each_section_to_its_change_page(portal: TestClient,
                                                                           admin: FakeGateway) -> None:
    html = await (await portal.get(f"/templates/{OWN_V3}")).text()
    assert f'href="{EDIT_URL}"' in html and "3 (latest)" in html and "Copy to" not in html
    assert f'href="/templates/{OWN_V2}">Version 2</a>' in html
    older = await (await portal.get(f"/templates/{OWN_V2}")).text()
    assert "This is an earlier version" in older and f'href="/templates/{OWN_V3}"' in older
    assert "Change questions" not in older


# ---- changing questions ----------------------------------------------------------------------------------------


async def test_the_change_page_fills_each_question_and_a_default_has_none(portal: TestClient,
                                                                          admin: FakeGateway) -> None:
    html = await (await portal.get(EDIT_URL)).text()
    assert re.search(r'id="label-strengths" name="label-strengths" [^>]*value="Strengths and interests"', html)
    assert ">What they enjoy</textarea>" in html
    assert re.search(r'id="mandatory-excluded" name="mandatory-excluded" type="checkbox" value="yes" checked', html)
    assert 'id="label-previous-name"' in html and "Previous schools: Name" in html
    assert "Shown only when ‘Has the child been excluded?’ is ‘Yes’" in html
    assert (await portal.get(f"/templates/{DEFAULT}/sections/education")).status == 404
    assert (await portal.get(f"/templates/{OWN_V3}/sections/nowhere")).status == 404


async def test_saving_sends_the_whole_template_with_the_changes_and_says_which_version(
        portal: TestClient, admin: FakeGateway) -> None:
    admin.answer("PUT", f"/templates/{OWN_V3}", 200, full(SAVED_V4, 4, LA))
    token = await csrf(portal, EDIT_URL)
    resp = await portal.post(EDIT_URL, allow_redirects=False, data=edit_form(
        token, **{"label-strengths": "What are they good at?", "hint-strengths": "", "mandatory-strengths": "yes",
                  "mandatory-previous-name": "yes"}))
    assert resp.status == 303 and resp.headers["Location"] == f"/templates/{SAVED_V4}?done=saved"
    [sent] = admin.asked("PUT", f"/templates/{OWN_V3}")
    expected = copy.deepcopy(full(OWN_V3, 3, LA)["body"])
    strengths = expected["sections"][1]["fields"][0]
    strengths.update(label="What are they good at?", hint=None, mandatory=True)
    expected["sections"][1]["fields"][3]["fields"][0]["mandatory"] = True
    assert sent == {"body": expected}
    admin.answer("GET", f"/templates/{SAVED_V4}", 200, full(SAVED_V4, 4, LA))
    html = await (await portal.get(f"/templates/{SAVED_V4}?done=saved")).text()
    assert "Version 4 saved" in html and "PEPs already started keep the version they started with" in html


async def test_nothing_changed_saves_no_version(portal: TestClient, admin: FakeGateway) -> None:
    token = await csrf(portal, EDIT_URL)
    resp = await portal.post(EDIT_URL, allow_redirects=False, data=edit_form(token))
    assert resp.status == 303 and resp.headers["Location"] == f"/templates/{OWN_V3}"
    assert admin.asked("PUT", f"/templates/{OWN_V3}") == []


async def test_changes_from_an_earlier_version_go_onto_the_latest_keeping_its_other_changes(
        portal: TestClient, admin: FakeGateway) -> None:
    # The page was opened on version 2; another admin has since saved version 3 with a new label elsewhere.
    latest = copy.deepcopy(BODY)
    latest["sections"][1]["fields"][1]["label"] = "Has the child ever been excluded?"
    admin.answer("GET", f"/templates/{OWN_V3}", 200, full(OWN_V3, 3, LA, latest))
    admin.answer("PUT", f"/templates/{OWN_V3}", 200, full(SAVED_V4, 4, LA))
    url = f"/templates/{OWN_V2}/sections/education"
    token = await csrf(portal, url)
    resp = await portal.post(url, allow_redirects=False, data=edit_form(token, **{"mandatory-strengths": "yes"}))
    assert resp.headers["Location"] == f"/templates/{SAVED_V4}?done=saved"
    [sent] = admin.asked("PUT", f"/templates/{OWN_V3}")
    fields = sent["body"]["sections"][1]["fields"]
    assert fields[0]["mandatory"] is True and fields[1]["label"] == "Has the child ever been excluded?"
    assert sent["body"]["version"] == 3


async def test_an_empty_question_is_named_and_nothing_typed_is_lost(portal: TestClient, admin: FakeGateway) -> None:
    token = await csrf(portal, EDIT_URL)
    resp = await portal.post(EDIT_URL, data=edit_form(token, **{"label-strengths": "  ", "hint-excluded": "Kept",
                                                                 "mandatory-strategies": "yes"}))
    html = await resp.text()
    assert '<a href="#label-strengths">Enter the question for ‘Strengths and interests’</a>' in html
    assert ">Kept</textarea>" in html and re.search(r'id="mandatory-strategies"[^>]*checked', html)
    assert "<title>Error: " in html
    assert admin.asked("PUT", f"/templates/{OWN_V3}") == []


async def test_the_apis_refusal_is_shown_on_the_field_it_names(portal: TestClient, admin: FakeGateway) -> None:
    admin.answer("PUT", f"/templates/{OWN_V3}", *problem(
        422, "The request has invalid fields", "Check these fields: sections.1.fields.3.fields.0.label",
        code="validation", errors=[{"field": "sections.1.fields.3.fields.0.label",
                                    "message": "Must be at most 200 characters"}]))
    token = await csrf(portal, EDIT_URL)
    long_name = "N" * 300
    html = await (await portal.post(EDIT_URL, data=edit_form(
        token, **{"label-previous-name": long_name, "hint-strengths": "Typed help"}))).text()
    assert ('<a href="#label-previous-name">Question for ‘Previous schools: Name’: Must be at most 200 characters</a>'
            in html)
    assert 'id="label-previous-name-error"' in html and f'value="{long_name}"' in html
    assert ">Typed help</textarea>" in html
    # A refusal about something not on this page is said at the top, not lost.
    admin.answer("PUT", f"/templates/{OWN_V3}", *problem(
        422, "The request has invalid fields", code="validation",
        errors=[{"field": "sections", "message": "section keys must be unique"}]))
    html = await (await portal.post(EDIT_URL, data=edit_form(token, **{"hint-strengths": "Typed help"}))).text()
    assert "The request has invalid fields (section keys must be unique)" in html and ">Typed help</textarea>" in html


async def test_the_las_page_links_to_its_templates(portal: TestClient, admin: FakeGateway) -> None:
    admin.answer("GET", f"/organisations/{LA}", 200, {
        "id": LA, "name": "Demo Virtual School", "organisation_type": "local_authority", "la_id": None,
        "setting_type": None, "urn": None, "phase": None, "address": None, "contact_email": None,
        "contact_phone": None, "designated_teacher": None, "can_manage": True})
    admin.answer("GET", f"/organisations/{LA}/users", 200, [])
    admin.answer("GET", f"/organisations/{LA}/invitations", 200, [])
    admin.answer("GET", f"/organisations/{LA}/settings", 200, [])
    html = await (await portal.get(f"/organisations/{LA}")).text()
    assert '<a class="govuk-link" href="/templates">PEP templates</a>' in html
