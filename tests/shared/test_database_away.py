"""A request the database dropped under is a 503 with Retry-After (try again in a moment), not a 500; anything
else unexpected is still a 500 that quotes the request id. Real aiohttp servers; the database error is raised the
way asyncpg raises it when Postgres restarts mid-request (the chaos run's Postgres restarts are the real thing)."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared.web import problem_middleware, request_id_middleware


def _app(error: Exception) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[request_id_middleware, problem_middleware])
    app.router.add_post("/verify", handler)
    return app


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.InternalClientError("the server closed the connection"),
    ConnectionRefusedError(),
], ids=lambda e: type(e).__name__)
async def test_the_database_going_away_is_a_503_to_try_again(error: Exception) -> None:
    async with TestClient(TestServer(_app(error))) as client:
        resp = await client.post("/verify")
        body = await resp.json()
    assert resp.status == 503 and body["code"] == "unavailable"
    assert resp.headers["Retry-After"] == "1"


async def test_anything_else_unexpected_is_still_a_500() -> None:
    async with TestClient(TestServer(_app(KeyError("bug")))) as client:
        resp = await client.post("/verify")
        body = await resp.json()
    assert resp.status == 500 and body["code"] == "internal"
