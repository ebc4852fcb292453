"""The API refuses bodies beyond its limit (413), and its cookie-authenticated calls refuse a state-changing
request a browser says came from another origin (CSRF beyond what SameSite=Lax stops), while programs, the
portal's server and same-origin pages go through."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import SPEC
from services.gateway.settings import GatewaySettings
from shared.service import create_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def gateway() -> AsyncIterator[TestClient]:
    nowhere = f"http://127.0.0.1:{_closed_port()}"
    settings = GatewaySettings(environment="test", identity_url=nowhere, pep_url=nowhere, delegation_url=nowhere,
                               notify_url=nowhere, qa_url=nowhere)
    async with TestClient(TestServer(create_app(SPEC, settings))) as client:
        yield client


async def code_of(client: TestClient, method: str, path: str, headers: dict[str, str]) -> tuple[int, str | None]:
    resp = await client.request(method, path, json={}, headers={"Cookie": "epep_session=s", **headers})
    body = await resp.json(content_type=None) if resp.content_type.endswith("json") else {}
    return resp.status, body.get("code")


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}])
async def test_a_state_changing_call_from_another_origin_is_refused(gateway: TestClient,
                                                                    headers: dict[str, str]) -> None:
    for method, path in (("POST", "/api/v1/auth/sign-out"), ("PUT", "/api/v1/organisations/x/retention"),
                         ("POST", "/api/v1/children"), ("PATCH", "/api/v1/me")):
        assert await code_of(gateway, method, path, headers) == (403, "cross_site"), (method, path, headers)


async def test_reads_and_same_origin_or_header_less_calls_go_through(gateway: TestClient) -> None:
    host = gateway.make_url("/").host
    port = gateway.make_url("/").port
    for headers in ({}, {"Sec-Fetch-Site": "same-origin", "Origin": f"http://{host}:{port}"},
                    {"Sec-Fetch-Site": "none"}):
        status, code = await code_of(gateway, "POST", "/api/v1/auth/sign-in", headers)
        assert code != "cross_site", (headers, status)
    status, code = await code_of(gateway, "GET", "/api/v1/openapi.json", {"Sec-Fetch-Site": "cross-site"})
    assert status == 200


async def test_a_body_beyond_the_apis_limit_is_refused_before_it_is_read(gateway: TestClient) -> None:
    # (An authenticated call reads its body only once the session is known: sign-in reads it at once.)
    resp = await gateway.post("/api/v1/auth/sign-in", data=b"{" + b" " * (1024**2 + 1) + b"}",
                              headers={"Content-Type": "application/json"})
    assert resp.status == 413
