"""The portal's web hardening, route by route: every state-changing route refuses a request without this
browser's CSRF token (forms send it as a field, scripts as a header), HTTPS deployments get HSTS and Secure
cookies, and bodies beyond the limit are refused before anything reads them."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
CSRF_PAGE = "Sorry, there is a problem with your request"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _portal(tmp_path: Path, **settings: object) -> TestClient:
    (tmp_path / "portal.css").write_text("")
    config = PortalSettings(static_dir=tmp_path, gateway_timeout=2, gateway_url=f"http://127.0.0.1:{_closed_port()}",
                            **{"environment": "test", **settings})
    client = TestClient(TestServer(create_app(SPEC, config)))
    await client.start_server()
    return client


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[TestClient]:
    client = await _portal(tmp_path)
    yield client
    await client.close()


def state_changing_paths(client: TestClient) -> list[tuple[str, str]]:
    """Every route of the portal that changes something, with an id in each path parameter."""
    found = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in STATE_CHANGING and path:
            found.append((route.method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)))
    return found


async def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(portal: TestClient) -> None:
    routes = state_changing_paths(portal)
    assert len(routes) >= 40, routes  # the portal's forms: sign-in, PEP sections, tasks, QA, administration...
    await portal.get("/sign-in")  # this browser has its CSRF cookie, and a session cookie to ride on
    portal.session.cookie_jar.update_cookies({"epep_session": "a-session"})
    for method, path in routes:
        for attempt in ({"data": {"x": "1"}}, {"data": {"csrf_token": "forged"}},
                        {"json": {"x": 1}, "headers": {"X-CSRF-Token": "forged"}}):
            resp = await portal.request(method, path, allow_redirects=False, **attempt)  # type: ignore[arg-type]
            assert resp.status == 400 and CSRF_PAGE in await resp.text(), (method, path, attempt, resp.status)


async def test_the_token_from_a_page_is_accepted_as_a_field_or_as_a_header(portal: TestClient) -> None:
    page = await (await portal.get("/sign-in")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    for attempt in ({"data": {"csrf_token": token.group(1), "email": "", "password": ""}},
                    {"data": {"email": "", "password": ""}, "headers": {"X-CSRF-Token": token.group(1)}}):
        resp = await portal.post("/sign-in", **attempt)  # type: ignore[arg-type]
        html = await resp.text()
        assert CSRF_PAGE not in html and "Enter your email address" in html


async def test_over_https_the_browser_is_told_to_stay_on_https_and_cookies_are_strict(tmp_path: Path) -> None:
    client = await _portal(tmp_path, environment="production", csrf_key=SecretStr("k" * 40))
    try:
        resp = await client.get("/sign-in")
        assert resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("epep_csrf=")
        for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
            assert flag.lower() in cookie.lower(), cookie
    finally:
        await client.close()


async def test_a_body_beyond_the_limit_is_refused_before_it_is_read(portal: TestClient) -> None:
    limit = portal.server.app._client_max_size  # the attachment limit plus the form around it
    await portal.get("/sign-in")
    page = await (await portal.get("/sign-in")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    resp = await portal.post("/sign-in", data={"csrf_token": token.group(1), "email": "x" * (limit + 1)})
    assert resp.status == 413
