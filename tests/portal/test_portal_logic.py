"""The portal's pure logic for registration, account care and administration: forms, roles, words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict
from yarl import URL

from services.portal import accounts, forms
from services.portal.gateway_client import GatewayProblem, NotSignedIn, traced_url

LA, OAKFIELD, RIVERSIDE = "la-1", "school-1", "school-2"


def _m(org: str, kind: str, role: str) -> dict[str, str]:
    return {"organisation_id": org, "organisation_name": org, "organisation_type": kind, "role": role}


# ---- who may do what (only which links to offer: the gateway decides) ----------------------------------


def test_a_vs_admin_invites_la_roles_at_their_la_and_setting_roles_at_its_settings() -> None:
    admin = [_m(LA, "local_authority", "vs_admin")]
    at_la = accounts.powers(admin, "local_authority", LA, None)
    assert at_la.la_admin and at_la.invitable_roles == accounts.LA_ROLES
    at_setting = accounts.powers(admin, "setting", RIVERSIDE, LA)
    assert at_setting.la_admin and not at_setting.designated_teacher
    assert at_setting.invitable_roles == ("designated_teacher", "setting_staff")
    elsewhere = accounts.powers(admin, "setting", RIVERSIDE, "another-la")
    assert not elsewhere.la_admin and not elsewhere.can_invite


def test_a_designated_teacher_invites_only_setting_staff_to_their_own_setting() -> None:
    dt = [_m(OAKFIELD, "setting", "designated_teacher")]
    own = accounts.powers(dt, "setting", OAKFIELD, LA)
    assert own.designated_teacher and not own.la_admin and own.invitable_roles == ("setting_staff",)
    assert not accounts.powers(dt, "setting", RIVERSIDE, LA).can_invite
    assert not accounts.powers(dt, "local_authority", LA, None).can_invite


def test_other_roles_invite_nobody() -> None:
    for role in ("vs_caseworker", "social_worker", "carer"):
        assert not accounts.powers([_m(LA, "local_authority", role)], "local_authority", LA, None).can_invite
    staff = [_m(OAKFIELD, "setting", "setting_staff")]
    assert not accounts.powers(staff, "setting", OAKFIELD, LA).can_invite


def test_home_links_the_organisations_a_person_manages() -> None:
    groups = accounts.group_memberships([
        _m(LA, "local_authority", "vs_caseworker"), _m(LA, "local_authority", "vs_admin"),
        _m(OAKFIELD, "setting", "designated_teacher"), _m(RIVERSIDE, "setting", "setting_staff"),
    ])
    links = {o.id: o.href for g in groups for o in g.organisations}
    assert links == {LA: f"/organisations/{LA}", OAKFIELD: f"/organisations/{OAKFIELD}", RIVERSIDE: None}
    # A caseworker alone manages nothing.
    only = accounts.group_memberships([_m(LA, "local_authority", "vs_caseworker")])
    assert only[0].organisations[0].href is None


# ---- words -----------------------------------------------------------------------------------------


def test_dates_are_in_uk_time_in_gov_uk_style() -> None:
    assert accounts.date_time(datetime(2026, 7, 1, 11, 5, tzinfo=UTC)) == "1 July 2026 at 12:05pm"  # BST
    assert accounts.date_time(datetime(2026, 11, 23, 0, 30, tzinfo=UTC)) == "23 November 2026 at 12:30am"
    assert accounts.date_time(datetime(2026, 11, 23, 16, 37, tzinfo=UTC)) == "23 November 2026 at 4:37pm"
    assert accounts.date_only(datetime(2026, 3, 29, 23, 30, tzinfo=UTC)) == "30 March 2026"  # BST from 29 March
    assert accounts.date_time(None) == "" and accounts.date_only(None) == ""


def test_staff_access_reads_as_words() -> None:
    assert accounts.access_summary(None) == "All children, all sections"
    assert accounts.access_summary({"children": None, "sections": ["education", "signoff"]}) == \
        "All children, sections: Education, Virtual School sign-off"
    assert accounts.access_summary({"children": ["c1"], "sections": []}) == "1 child, no sections"
    assert accounts.access_summary({"children": ["c1", "c2"], "sections": ["X"]}) == "2 children, sections: X"


def test_audit_actions_and_choices_read_as_words() -> None:
    assert accounts.action_name("account_deactivated") == "Account deactivated"
    assert accounts.action_name("invitation.created") == "Invitation created"
    assert accounts.choice_name(accounts.SETTING_TYPES, "alternative_provision") == "Alternative provision"
    assert accounts.choice_name(accounts.PHASES, "sixth_form") == "Sixth form"
    assert accounts.choice_name(accounts.PHASES, None) == ""


# ---- forms -------------------------------------------------------------------------------------------


def test_registration_names_each_missing_field_and_never_keeps_the_password() -> None:
    form, password = forms.check_registration({"given_name": " ", "family_name": "", "email": "nia@", "password": ""})
    assert form.errors == {"given_name": "Enter your given name", "family_name": "Enter your family name",
                           "email": "Enter an email address in the correct format, like name@example.com",
                           "password": "Enter a password"}
    form, password = forms.check_registration({"given_name": " Nia ", "family_name": "Newteacher",
                                               "email": "nia@demo.test", "password": " secret words "})
    assert form.errors == {} and form.values["given_name"] == "Nia" and form.values["password"] == ""
    assert password == " secret words "  # passwords are not trimmed: spaces can be part of them


def test_gateway_field_errors_join_the_form_in_page_order() -> None:
    form = forms.Form({"given_name": "Nia", "family_name": "Different", "email": "x@y.z", "password": ""})
    problem = GatewayProblem(422, "Invalid", errors=[
        {"field": "password", "message": "Choose a less common password"},
        {"field": "password", "message": "Your password must not contain your name or email address"},
        {"field": "family_name", "message": "The family name does not match the invitation"},
        {"field": "token", "message": "not for this form"},
    ])
    assert form.merge_gateway_errors(problem.field_errors())
    assert list(form.errors.items()) == [("family_name", "The family name does not match the invitation"),
                                         ("password", "Choose a less common password")]
    assert not forms.Form({"email": ""}).merge_gateway_errors({"token": "x"})


def test_an_invitation_needs_a_role_the_person_may_invite() -> None:
    data = {"given_name": "Nia", "family_name": "Newteacher", "email": "nia@demo.test", "role": "vs_admin"}
    assert forms.check_invitation(data, ["setting_staff"]).errors == {"role": "Select a role"}
    assert forms.check_invitation({**data, "role": "setting_staff"}, ["setting_staff"]).errors == {}
    assert forms.check_invitation({}, ["setting_staff"]).errors == {
        "given_name": "Enter their given name", "family_name": "Enter their family name",
        "email": "Enter their email address", "role": "Select a role"}


@pytest.mark.parametrize(("urn", "error"), [("", None), ("123456", None), ("123 4567", None),
                                            ("12345", "The URN must be 6 or 7 digits"),
                                            ("12345678", "The URN must be 6 or 7 digits"),
                                            ("ABC123", "The URN must be 6 or 7 digits")])
def test_a_settings_urn_is_optional_but_6_or_7_digits(urn: str, error: str | None) -> None:
    form = forms.check_setting({"name": "Willow", "setting_type": "school", "phase": "primary", "urn": urn},
                               accounts.SETTING_TYPES, accounts.PHASES)
    assert form.errors.get("urn") == error


def test_a_setting_needs_a_name_type_and_phase_and_sends_blanks_as_none() -> None:
    form = forms.check_setting({"setting_type": "castle"}, accounts.SETTING_TYPES, accounts.PHASES)
    assert list(form.errors) == ["name", "setting_type", "phase"]
    form = forms.check_setting({"name": " Willow ", "setting_type": "school", "phase": "primary", "urn": "",
                                "address": ""}, accounts.SETTING_TYPES, accounts.PHASES)
    assert forms.setting_body(form) == {"name": "Willow", "setting_type": "school", "urn": None,
                                        "phase": "primary", "address": None}


def test_staff_access_is_some_sections_or_all_and_all_wins() -> None:
    form, sections = forms.check_access(MultiDict([("sections", "signoff"), ("sections", "education")]),
                                        accounts.SECTIONS)
    assert form.errors == {} and sections == ["education", "signoff"]  # in the template's order
    form, sections = forms.check_access(MultiDict([("sections", "education"), ("sections", "all")]),
                                        accounts.SECTIONS)
    assert form.errors == {} and sections is None
    form, sections = forms.check_access(MultiDict([("sections", "Z")]), accounts.SECTIONS)
    assert form.errors == {"sections": "Select the sections they can see, or all sections"}


def test_changing_a_password_or_email_is_checked_before_the_gateway_is_asked() -> None:
    form, _, _ = forms.check_password_change({"current_password": "", "new_password": ""})
    assert form.errors == {"current_password": "Enter your current password", "new_password": "Enter a new password"}
    form, _, _ = forms.check_password_change({"current_password": "same-one-here", "new_password": "same-one-here"})
    assert form.errors == {"new_password": "Your new password must be different from your current password"}
    form, _ = forms.check_email_change({"new_email": "Dt@Demo.test", "password": "x"}, "dt@demo.test")
    assert form.errors == {"new_email": "Enter an email address that is different from your current one"}
    form, password = forms.check_email_change({"new_email": "new@demo.test", "password": "pw"}, "dt@demo.test")
    assert form.errors == {} and password == "pw" and form.values["password"] == ""


def test_the_reset_form_keeps_the_code_as_typed_but_not_the_password() -> None:
    form, code, password = forms.check_reset({"code": "1234 5678", "new_password": "kettle-orbit"})
    assert form.errors == {} and code.code == "12345678" and password == "kettle-orbit"
    assert form.values == {"code": "1234 5678", "new_password": ""}
    form, _, _ = forms.check_reset({"code": "12", "new_password": ""})
    assert form.errors == {"code": "The code must be 8 digits, like 1234 5678", "new_password": "Enter a new password"}


@pytest.mark.parametrize(("referer", "expected"), [
    ("http://portal.test/organisations/1?done=x", "/organisations/1?done=x"),
    ("http://portal.test/home", "/home"),
    ("http://evil.test/home", None),
    ("https://portal.test.evil.test/home", None),
    ("javascript:alert(1)", None),
    ("http://portal.test//evil.test/x", None),
    ("", None),
])
def test_going_back_after_stay_signed_in_only_goes_to_this_site(referer: str, expected: str | None) -> None:
    assert forms.local_path(referer, "portal.test") == expected


def test_a_401_keeps_the_gateways_reason() -> None:
    assert NotSignedIn("session_ended").code == "session_ended"
    assert NotSignedIn().code is None


def test_traces_of_gateway_calls_leave_out_query_strings() -> None:
    url = URL("http://gateway.test/api/v1/invitations/lookup?token=secret-token-value")
    assert traced_url(url) == "http://gateway.test/api/v1/invitations/lookup"
