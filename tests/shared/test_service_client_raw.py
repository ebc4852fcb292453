"""ServiceClient.raw: a signed call whose answer is streamed rather than read as JSON; problems are raised."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from shared import internal_auth
from shared.errors import Problem
from shared.web import ServiceClient, client_session, problem_middleware

PRIVATE, PUBLIC = internal_auth.new_key_pair()
SIGNER = internal_auth.Signer("gateway", [SecretStr(PRIVATE)])
CLAIMS = internal_auth.Claims(sub="user-1")


async def _echo(request: web.Request) -> web.Response:
    claims = internal_auth.Verifier({"gateway": [PUBLIC]}).verify(request.headers["Authorization"][7:], "pep")
    body = await request.read()
    return web.Response(body=claims.sub.encode() + b":" + body, content_type="application/pdf",
                        headers={"Content-Disposition": "attachment"})


async def _missing(request: web.Request) -> web.Response:
    raise Problem(404, "Not found", code="not_found")


@pytest.fixture
async def pep_url() -> AsyncIterator[str]:
    app = web.Application(middlewares=[problem_middleware])
    app.router.add_post("/echo", _echo)
    app.router.add_get("/missing", _missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_answer_streams_back_with_its_headers(pep_url: str) -> None:
    async with client_session() as session:
        client = ServiceClient("pep", pep_url, SIGNER, session)
        async with client.raw("POST", "/echo", CLAIMS, data=b"%PDF-1.7", timeout=5,
                              headers={"Content-Type": "application/octet-stream"}) as resp:
            assert resp.headers["Content-Disposition"] == "attachment"
            assert b"".join([chunk async for chunk in resp.content.iter_chunked(3)]) == b"user-1:%PDF-1.7"


async def test_a_problem_is_raised_as_ours(pep_url: str) -> None:
    async with client_session() as session:
        client = ServiceClient("pep", pep_url, SIGNER, session)
        with pytest.raises(Problem) as raised:
            async with client.raw("GET", "/missing", CLAIMS):
                pytest.fail("a problem must not be yielded")
        assert (raised.value.status, raised.value.code) == (404, "not_found")


async def test_a_service_that_is_not_there_is_unavailable() -> None:
    async with client_session() as session:
        client = ServiceClient("pep", "http://127.0.0.1:9", SIGNER, session)
        with pytest.raises(Problem) as raised:
            async with client.raw("GET", "/anything", CLAIMS):
                pass
        assert raised.value.status == 503
