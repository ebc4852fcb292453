"""A service that answers too late is unavailable (503), as one that cannot be reached is: never a 500.

Found by `make bench`: sign-ins queued behind argon2 for longer than the gateway's 10 s, and the gateway's
TimeoutError surfaced as an internal error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from shared import internal_auth
from shared.errors import Problem
from shared.web import ServiceClient, client_session

PRIVATE, PUBLIC = internal_auth.new_key_pair()
SIGNER = internal_auth.Signer("gateway", [SecretStr(PRIVATE)])
CLAIMS = internal_auth.Claims(sub="user-1")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response({})


@pytest.fixture
async def slow_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/slow", _slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_answer_later_than_the_timeout_is_unavailable(slow_url: str) -> None:
    async with client_session(timeout=0.2) as session:
        client = ServiceClient("identity", slow_url, SIGNER, session)
        with pytest.raises(Problem) as raised:
            await client.call("GET", "/slow", CLAIMS)
        assert raised.value.status == 503
        with pytest.raises(Problem) as raised:
            async with client.raw("GET", "/slow", CLAIMS):
                pytest.fail("nothing is yielded")
        assert raised.value.status == 503
