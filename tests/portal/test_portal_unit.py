"""The portal's own logic, and its pages' protections, without the rest of the system."""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import AsyncIterator
from ipaddress import IPv4Network
from pathlib import Path
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from pydantic import SecretStr

from services.portal import accounts, forms, tokens
from services.portal.app import SPEC
from services.portal.pages import client_address
from services.portal.settings import DEV_CSRF_KEY, PortalSettings
from shared.service import create_app

KEY = "k" * 40


# ---- tokens -------------------------------------------------------------------------------------


def test_a_csrf_token_matches_only_its_own_browser_secret_and_key() -> None:
    secret = tokens.new_browser_secret()
    token = tokens.csrf_token(KEY, secret)
    assert tokens.csrf_token_ok(KEY, secret, token)
    assert not tokens.csrf_token_ok(KEY, tokens.new_browser_secret(), token)
    assert not tokens.csrf_token_ok("x" * 40, secret, token)
    assert not tokens.csrf_token_ok(KEY, secret, None)
    assert not tokens.csrf_token_ok(KEY, None, token)
    assert not tokens.csrf_token_ok(KEY, "", tokens.csrf_token(KEY, ""))


def test_a_signed_value_comes_back_unchanged_until_it_is_too_old() -> None:
    value = tokens.sign(KEY, "sign-in", {"attempt_id": "a1", "email": "dt@demo.test"}, now=1000)
    assert tokens.unsign(KEY, "sign-in", value, max_age=60, now=1059) == {"attempt_id": "a1", "email": "dt@demo.test"}
    assert tokens.unsign(KEY, "sign-in", value, max_age=60, now=1061) is None


def test_a_signed_value_is_refused_when_forged_or_used_for_another_purpose() -> None:
    value = tokens.sign(KEY, "sign-in", {"attempt_id": "a1"}, now=1000)
    body, mac = value.split(".")
    forged = base64.urlsafe_b64encode(b'{"iat":1000,"data":{"attempt_id":"a2"}}').rstrip(b"=").decode()
    assert tokens.unsign(KEY, "sign-in", f"{forged}.{mac}", 60, 1000) is None
    assert tokens.unsign(KEY, "csrf", value, 60, 1000) is None
    assert tokens.unsign("x" * 40, "sign-in", value, 60, 1000) is None
    for junk in (None, "", "abc", "a.b.c", f"{body}.", "!!!.???"):
        assert tokens.unsign(KEY, "sign-in", junk, 60, 1000) is None


# ---- forms --------------------------------------------------------------------------------------


@pytest.mark.parametrize("entered", ["1234 5678", "12345678", " 1234-5678 ", "1234  5678"])
def test_the_code_is_accepted_with_or_without_spaces(entered: str) -> None:
    form = forms.check_code(entered)
    assert form.errors == {} and form.code == "12345678"


@pytest.mark.parametrize(("entered", "message"), [
    ("", "Enter the code from the email"),
    ("1234 567", "The code must be 8 digits, like 1234 5678"),
    ("1234 56789", "The code must be 8 digits, like 1234 5678"),
    ("1234 abcd", "The code must only include numbers 0 to 9"),
    ("١٢٣٤٥٦٧٨", "The code must only include numbers 0 to 9"),  # Arabic-Indic digits are not 0 to 9
])
def test_a_code_that_cannot_be_right_is_explained(entered: str, message: str) -> None:
    form = forms.check_code(entered)
    assert form.errors == {"code": message} and form.code == ""


def test_sign_in_errors_name_each_field_in_page_order_and_keep_the_email() -> None:
    form = forms.check_sign_in("  ", "")
    assert form.errors == {"email": "Enter your email address", "password": "Enter your password"}
    assert forms.error_summary_items(form.errors) == [
        {"text": "Enter your email address", "href": "#email"},
        {"text": "Enter your password", "href": "#password"},
    ]
    form = forms.check_sign_in(" dt@demo ", "secret")
    assert form.email == "dt@demo"
    assert form.errors == {"email": "Enter an email address in the correct format, like name@example.com"}
    assert "secret" not in repr(form)
    assert forms.check_sign_in("dt@demo.test", "secret").errors == {}


# ---- accounts -----------------------------------------------------------------------------------


def test_memberships_are_grouped_by_organisation_type_with_roles_in_words() -> None:
    groups = accounts.group_memberships([
        {"organisation_id": "la1", "organisation_name": "Kent", "organisation_type": "local_authority",
         "role": "vs_caseworker"},
        {"organisation_id": "s2", "organisation_name": "Oakfield Primary School", "organisation_type": "setting",
         "role": "designated_teacher"},
        {"organisation_id": "s1", "organisation_name": "Beech Academy", "organisation_type": "setting",
         "role": "setting_staff"},
        {"organisation_id": "s2", "organisation_name": "Oakfield Primary School", "organisation_type": "setting",
         "role": "setting_staff"},
        {"organisation_id": "la1", "organisation_name": "Kent", "organisation_type": "local_authority",
         "role": "vs_approver"},
    ])
    assert [(g.heading, [(o.name, o.roles) for o in g.organisations]) for g in groups] == [
        ("Education settings", [("Beech Academy", ("Setting staff",)),
                                ("Oakfield Primary School", ("Designated Teacher", "Setting staff"))]),
        ("Local authorities", [("Kent", ("Virtual School caseworker", "Virtual School approver"))]),
    ]


def test_every_known_role_has_words_and_a_new_one_still_reads_sensibly() -> None:
    assert accounts.role_name("iro") == "Independent Reviewing Officer"
    assert accounts.role_name("vs_admin") == "Virtual School administrator"
    assert accounts.role_name("virtual_school_head") == "Virtual school head"
    assert accounts.group_memberships([]) == []


# ---- settings -----------------------------------------------------------------------------------


def test_cookies_are_secure_outside_development_and_the_key_must_be_set_in_production() -> None:
    assert PortalSettings(environment="development").session_cookie_secure is False
    assert PortalSettings(environment="test").session_cookie_secure is False
    with pytest.raises(ValueError, match="EPEP_CSRF_KEY must be set in production"):
        PortalSettings(environment="production")
    # The only secret the portal needs: it has no database and signs no internal tokens.
    settings = PortalSettings(environment="production", csrf_key=SecretStr("c" * 40))
    assert settings.session_cookie_secure is True
    assert DEV_CSRF_KEY not in repr(settings)


# ---- pages without a gateway --------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[TestClient]:
    """The portal with its real middleware and templates, its gateway address pointing at nothing."""
    (tmp_path / "portal.css").write_text("")
    settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_timeout=2,
                              gateway_url=f"http://127.0.0.1:{_closed_port()}")
    async with TestClient(TestServer(create_app(SPEC, settings))) as client:
        yield client


async def test_every_inline_script_on_a_page_carries_this_responses_csp_nonce_and_nothing_else_runs(
        portal: TestClient) -> None:
    resp = await portal.get("/")
    html = await resp.text()
    csp = resp.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{24})'(;|$)", csp)
    assert nonce, csp
    inline = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert [a for a, body in inline if body], "GOV.UK Frontend's template marks the body js-enabled inline"
    for attributes, body in inline:
        assert f'nonce="{nonce.group(1)}"' in attributes or (not body and "src=" in attributes), attributes
    again = (await portal.get("/")).headers["Content-Security-Policy"]
    assert again != csp  # a new nonce for every response: one seen in a page is of no use for the next
    assert "unsafe-inline" not in csp and "sha256-" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in resp.headers  # plain http in tests


async def test_static_files_carry_the_security_headers_too(portal: TestClient) -> None:
    resp = await portal.get("/static/portal.css")
    assert resp.status == 200
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-cache"


async def test_a_form_without_its_csrf_token_gets_a_friendly_page(portal: TestClient) -> None:
    resp = await portal.post("/sign-in", data={"email": "dt@demo.test", "password": "x"})
    assert resp.status == 400
    html = await resp.text()
    assert "Sorry, there is a problem with your request" in html
    assert "dt@demo.test" not in html


async def test_the_sign_in_form_checks_fields_before_asking_the_gateway(portal: TestClient) -> None:
    page = await (await portal.get("/sign-in")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and portal.session.cookie_jar.filter_cookies(portal.make_url("/")).get("epep_csrf")
    resp = await portal.post("/sign-in", data={"csrf_token": token.group(1), "email": "dt@demo.test",
                                               "password": ""})
    html = await resp.text()
    assert "<title>Error: Sign in – ePEP</title>" in html
    assert '<a href="#password">Enter your password</a>' in html
    assert 'value="dt@demo.test"' in html


async def test_an_unreachable_gateway_shows_the_service_is_unavailable(portal: TestClient) -> None:
    page = await (await portal.get("/sign-in")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    resp = await portal.post("/sign-in", data={"csrf_token": token.group(1), "email": "dt@demo.test",
                                               "password": "demo-pass-2026"})
    assert resp.status == 503
    html = await resp.text()
    assert "Sorry, the service is unavailable" in html and "Traceback" not in html
    assert "demo-pass-2026" not in html


async def test_home_without_a_session_goes_to_sign_in(portal: TestClient) -> None:
    resp = await portal.get("/home", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/sign-in"


async def test_the_code_page_without_a_sign_in_attempt_goes_back_to_sign_in(portal: TestClient) -> None:
    resp = await portal.get("/sign-in/code", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/sign-in"


async def test_an_unknown_page_is_a_gov_uk_style_404(portal: TestClient) -> None:
    resp = await portal.get("/no-such-page")
    assert resp.status == 404
    assert "Page not found" in await resp.text()
    assert resp.content_type == "text/html"


async def test_an_unexpected_error_is_a_friendly_500_without_a_trace(tmp_path: Path) -> None:
    settings = PortalSettings(environment="test", static_dir=tmp_path)
    app = create_app(SPEC, settings)

    async def broken(request: web.Request) -> web.Response:
        raise KeyError("secret internals")

    app.router.add_get("/broken", broken)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/broken")
        html = await resp.text()
    assert resp.status == 500
    assert "Sorry, there is a problem with the service" in html
    assert "secret internals" not in html and "KeyError" not in html


def _request_from(peer: str, forwarded: str | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 50000) if name == "peername" else default
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() -> None:
    assert client_address(_request_from("203.0.113.9", "198.51.100.1"), []) == "203.0.113.9"
    lb = [IPv4Network("10.0.0.0/24")]
    assert client_address(_request_from("10.0.0.5", "192.0.2.1, 198.51.100.1"), lb) == "198.51.100.1"
    assert client_address(_request_from("10.0.0.5", "not-an-address"), lb) == "10.0.0.5"
    assert client_address(_request_from("10.0.0.5"), lb) == "10.0.0.5"


def test_staff_access_to_children_is_all_or_the_ticked_ones_of_the_setting() -> None:
    from multidict import MultiDict

    from services.portal.forms import check_children
    ours = ["c1", "c2", "c3"]
    form, children = check_children(MultiDict([("children", "c2"), ("children", "elsewhere")]), ours)
    assert (children, form.errors) == (["c2"], {})  # another setting's child is not taken
    form, children = check_children(MultiDict([("children", "c1"), ("children", "all")]), ours)
    assert children is None and form.values["children"] == "all"  # "all" wins over ticks (without JavaScript)
    form, children = check_children(MultiDict([("children", "elsewhere")]), ours)
    assert form.errors == {"children": "Select the children they can see, or all children"}


def test_only_local_pages_are_returned_to_after_signing_in() -> None:
    from services.portal.security import is_return_path
    assert is_return_path("/tasks/7d0c6f1e-3f6e-4c59-9d36-0f1e2d3c4b5a")
    assert is_return_path("/children?q=sam")
    for path in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/sign-in", "/sign-in/code",
                 "/home", "/", "/static/app.js", "/invitations/abc", "/" + "x" * 600, "/a b", "tasks"):
        assert not is_return_path(path), path
