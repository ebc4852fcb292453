"""The portal against a stand-in gateway, as most portal tests want it: `fake` answers what a test tells it to
(a module overrides `fake` to answer the same things for every test), and `portal` is a client of the portal
that calls it. `portal` carries no session cookie; a module whose every test is signed in overrides it with
`with_session(portal)` (tests/portal/fake_gateway.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.portal.app import SPEC
from services.portal.settings import PortalSettings
from shared.service import create_app
from tests.portal.fake_gateway import FakeGateway


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def portal(tmp_path: Path, fake: FakeGateway) -> AsyncIterator[TestClient]:
    (tmp_path / "portal.css").write_text("")
    async with fake.running() as gateway_url:
        settings = PortalSettings(environment="test", static_dir=tmp_path, gateway_url=gateway_url)
        async with TestClient(TestServer(create_app(SPEC, settings))) as client:
            yield client
