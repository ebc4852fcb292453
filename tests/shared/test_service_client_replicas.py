"""ServiceClient with several replicas of a service: calls take turns, and a replica that refuses the
connection is passed over for the next, so a replica that has died costs the caller nothing."""

from __future__ import annotations

from collections import Counter
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
NOBODY = "http://127.0.0.1:9"  # nothing listens on the discard port


def _replica(name: str) -> web.Application:
    async def who(request: web.Request) -> web.Response:
        return web.json_response({"replica": name})

    app = web.Application()
    app.router.add_get("/who", who)
    return app


@pytest.fixture
async def replicas() -> AsyncIterator[list[str]]:
    runners, urls = [], []
    for name in ("a", "b"):
        runner = web.AppRunner(_replica(name))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}")  # type: ignore[union-attr]
    yield urls
    for runner in runners:
        await runner.cleanup()


async def test_calls_take_turns_and_skip_a_replica_that_is_down(replicas: list[str]) -> None:
    async with client_session() as session:
        client = ServiceClient("pep", f"{replicas[0]}, {NOBODY},{replicas[1]}/", SIGNER, session)
        answers = Counter([(await client.call("GET", "/who", CLAIMS))["replica"] for _ in range(9)])
        assert answers == Counter({"a": 3, "b": 6})  # the dead one's turns went to the next in line


async def test_when_every_replica_is_down_the_service_is_unavailable() -> None:
    async with client_session() as session:
        client = ServiceClient("pep", f"{NOBODY},{NOBODY}", SIGNER, session)
        with pytest.raises(Problem) as raised:
            await client.call("GET", "/who", CLAIMS)
        assert raised.value.status == 503
