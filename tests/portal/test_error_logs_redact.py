"""Emailed links carry secrets in their paths (/invitations/<token>, /your-views/<token>): a request to one that
goes wrong is logged without the token, in the portal's error handling and in every service's problem middleware,
as traces and the access log already leave it out (issue 23, finding 9)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.logs import JsonFormatter
from shared.service import create_app
from shared.web import problem_middleware
from tests.portal.fake_gateway import FakeGateway

TOKEN = "SecretToken" + "x" * 32


def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every line the service would write, as it writes them. setup_logging silences aiohttp's own access log below
    WARNING (it prints paths); ours logs route templates only."""
    formatter = JsonFormatter("test")
    return "\n".join(formatter.format(record) for record in caplog.records
                     if not (record.name == "aiohttp.access" and record.levelno < logging.WARNING))


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[tuple[TestClient, FakeGateway]]:
    (tmp_path / "portal.css").write_text("")
    fake = FakeGateway()
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            yield client, fake


async def test_the_portal_logs_no_token_from_a_failing_link(portal: tuple[TestClient, FakeGateway],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    client, fake = portal
    capture(caplog)
    # A form posted without its CSRF token, to both kinds of emailed link.
    for path in (f"/invitations/{TOKEN}", f"/your-views/{TOKEN}", f"/invitations/{TOKEN}/account"):
        assert (await client.post(path, data={})).status == 400
    # A gateway answer the page cannot read: the portal's unhandled error.
    fake.answer("GET", "/invitations/lookup", 200, {"unexpected": True})
    assert (await client.get(f"/invitations/{TOKEN}")).status == 500
    # A gateway problem the page does not handle.
    fake.answer("POST", "/views/check", 409, {"type": "about:blank", "title": "Conflict", "status": 409,
                                              "code": "odd"})
    await client.get(f"/your-views/{TOKEN}")
    text = logged(caplog)
    assert "form without a valid csrf token" in text and "unhandled error" in text
    assert "/invitations/[redacted]" in text and "/your-views/[redacted]" in text
    assert TOKEN not in text


async def test_a_service_logs_no_token_from_a_failing_path(caplog: pytest.LogCaptureFixture) -> None:
    async def fails(request: web.Request) -> web.Response:
        raise RuntimeError("broken")

    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/invitations/{token}", fails)
    app.router.add_get("/your-views/{token}", fails)
    capture(caplog)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get(f"/invitations/{TOKEN}")).status == 500
        assert (await client.get(f"/your-views/{TOKEN}")).status == 500
    text = logged(caplog)
    assert text.count("unhandled error") == 2 and "/invitations/[redacted]" in text
    assert TOKEN not in text
