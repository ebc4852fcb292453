"""The gateway passes a service's JSON to the browser as the service wrote it (issue 19), and still nothing beyond
the operation's contract reaches the browser: the service answers through `shared.web.serves`, which validates
what its handler returns against the operation's response model and serialises it from the model.

A real gateway route (services/gateway/forwarding.py) in front of a real service app on localhost, signed
internal tokens between them, for catalogue operations the gateway forwards without a session (an invitation
link's lookup, registration): the service's handler stands in for identity's store, and hands back a row with
an internal column in it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from services.gateway.forwarding import handler_for
from services.gateway.handlers import CLIENTS
from shared import internal_auth
from shared.api.identity import LOOKUP_INVITATION, REGISTER, VERIFY_REGISTRATION, InvitationPreview
from shared.api.operations import Operation
from shared.errors import Problem
from shared.web import (
    ServiceClient,
    client_session,
    internal_auth_middleware,
    problem_middleware,
    request_id_middleware,
    serves,
)

PRIVATE, PUBLIC = internal_auth.new_key_pair()
SIGNER = internal_auth.Signer("gateway", [SecretStr(PRIVATE)])
PREVIEW: dict[str, Any] = {"organisation_name": "Oakfield Primary School", "organisation_type": "setting",
           "role": "designated_teacher", "expires_at": datetime(2027, 1, 8, 9, 30, tzinfo=UTC)}
# What a store's row may hold besides the contract's fields: none of it may ever reach a browser.
INTERNAL = {"token_hash": "9f86d081884c7d659a2feaa0c55ad015", "invited_by_password_hash": "$argon2id$v=19$m=65536"}
Answer = Callable[[web.Request], Awaitable[Any]]


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """`app` on a free local port: its address."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def identity_app(handlers: dict[Operation, Answer], plain: dict[str, Answer] | None = None) -> web.Application:
    """A service as every service is built: its middleware, and each operation's handler through `serves`
    (`plain`: routes that are not, to show what the gateway does with an answer that breaks the rules)."""
    verifier = internal_auth.Verifier({"gateway": [PUBLIC]})
    app = web.Application(middlewares=[request_id_middleware, problem_middleware,
                                       internal_auth_middleware("identity", verifier)])
    routes = web.RouteTableDef()
    for op, answer in handlers.items():
        serves(routes, op)(answer)
    for path, answer in (plain or {}).items():
        routes.get(path)(answer)
    app.add_routes(routes)
    return app


@contextlib.asynccontextmanager
async def gateway(ops: list[Operation], service_url: str, timeout: float = 10.0) -> AsyncIterator[
        aiohttp.ClientSession]:
    """The gateway's own routes for `ops`, calling the service at `service_url`: a browser's session to it."""
    async with client_session(timeout) as calls:
        app = web.Application(middlewares=[request_id_middleware, problem_middleware])
        app[CLIENTS] = {"identity": ServiceClient("identity", service_url, SIGNER, calls)}
        for op in ops:
            app.router.add_route(op.method.upper(), op.public_path, handler_for(op))
        async with serving(app) as url, aiohttp.ClientSession(base_url=url) as browser:
            yield browser


@pytest.fixture
async def identity_url() -> AsyncIterator[str]:
    async def lookup(request: web.Request) -> dict[str, Any]:
        assert request.query["token"] == "a-token-from-an-email"
        return {**PREVIEW, **INTERNAL}  # a row as a store returns it: more than the contract

    async def register(request: web.Request) -> dict[str, Any]:
        body = await request.json()
        return {"registration_id": "0b7e0a10-0000-4000-8000-000000000001", "email": body["email"],
                "password_hash": INTERNAL["invited_by_password_hash"]}

    async def verify(request: web.Request) -> None:
        return None

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<h1>It works</h1>", content_type="text/html")

    app = identity_app({LOOKUP_INVITATION: lookup, REGISTER: register, VERIFY_REGISTRATION: verify},
                       {"/html": html})
    async with serving(app) as url:
        yield url


async def test_the_browser_gets_the_contracts_fields_and_never_an_internal_column(identity_url: str) -> None:
    async with gateway([LOOKUP_INVITATION], identity_url) as browser:
        async with browser.get("/api/v1/invitations/lookup", params={"token": "a-token-from-an-email"}) as resp:
            body = await resp.read()
            assert (resp.status, resp.content_type) == (200, "application/json"), body
    assert json.loads(body) == json.loads(InvitationPreview(**PREVIEW).model_dump_json())
    assert set(json.loads(body)) == set(InvitationPreview.model_fields)
    for value in INTERNAL.values():
        assert value.encode() not in body


async def test_the_services_bytes_are_what_the_browser_gets(identity_url: str) -> None:
    """Passed through, not re-serialised: byte for byte what the service wrote."""
    async with client_session() as session:
        direct = ServiceClient("identity", identity_url, SIGNER, session)
        sent = await direct.answer("GET", "/invitations/lookup?token=a-token-from-an-email",
                                   internal_auth.Claims(sub="service:gateway"))
    async with gateway([LOOKUP_INVITATION], identity_url) as browser:
        async with browser.get("/api/v1/invitations/lookup", params={"token": "a-token-from-an-email"}) as resp:
            assert await resp.read() == sent.body


async def test_a_body_goes_in_and_the_operations_status_comes_back(identity_url: str) -> None:
    async with gateway([REGISTER, VERIFY_REGISTRATION], identity_url) as browser:
        async with browser.post("/api/v1/registrations", json={
                "token": "t" * 40, "given_name": "Dana", "family_name": "Teacher", "email": "dana@example.test",
                "password": "a long enough passphrase"}) as resp:
            body = await resp.read()
            assert (resp.status, resp.content_type) == (202, "application/json"), body
        assert json.loads(body) == {"registration_id": "0b7e0a10-0000-4000-8000-000000000001",
                                    "email": "dana@example.test"}
        async with browser.post("/api/v1/registrations/verify", json={
                "registration_id": "0b7e0a10-0000-4000-8000-000000000001", "code": "1234 5678"}) as resp:
            assert (resp.status, await resp.read()) == (204, b"")


async def test_a_handler_that_writes_its_own_json_for_an_operation_is_refused() -> None:
    """`serves` will not send a response a handler made itself for an operation that declares JSON: it would not
    have been validated, and the gateway no longer looks."""

    async def answers_itself(request: web.Request) -> web.Response:
        return web.json_response({**json.loads(InvitationPreview(**PREVIEW).model_dump_json()), **INTERNAL})

    async with serving(identity_app({LOOKUP_INVITATION: answers_itself})) as url:
        async with gateway([LOOKUP_INVITATION], url) as browser:
            async with browser.get("/api/v1/invitations/lookup", params={"token": "x"}) as resp:
                body = await resp.read()
                assert (resp.status, resp.content_type) == (500, "application/problem+json"), body
        for value in INTERNAL.values():
            assert value.encode() not in body


def _refusing(problem: Problem) -> web.Application:
    async def refuse(request: web.Request) -> None:
        raise problem
    return identity_app({LOOKUP_INVITATION: refuse})


@pytest.mark.parametrize(("problem", "retry_after"), [
    (Problem(404, "Not found", "We could not find that page.", code="not_found"), None),
    (Problem(409, "Already used", code="invitation_used"), None),
    (Problem(503, "The service is temporarily unavailable", code="unavailable", headers={"Retry-After": "1"}), "1"),
])
async def test_the_services_problem_is_the_browsers(problem: Problem, retry_after: str | None) -> None:
    async with serving(_refusing(problem)) as url:
        async with gateway([LOOKUP_INVITATION], url) as browser:
            async with browser.get("/api/v1/invitations/lookup", params={"token": "x"}) as resp:
                body = await resp.json(content_type=None)
                assert (resp.status, resp.content_type) == (problem.status, "application/problem+json")
                assert resp.headers.get("Retry-After") == retry_after
    assert (body["status"], body["code"], body["title"]) == (problem.status, problem.code, problem.title)


async def test_a_service_that_is_not_there_is_unavailable() -> None:
    async with gateway([LOOKUP_INVITATION], "http://127.0.0.1:9") as browser:
        async with browser.get("/api/v1/invitations/lookup", params={"token": "x"}) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (503, "2")
            assert (await resp.json(content_type=None))["code"] == "unavailable"


async def test_a_service_that_answers_too_late_is_unavailable() -> None:
    release = asyncio.Event()

    async def stuck(request: web.Request) -> dict[str, Any]:
        await release.wait()  # never answers while the gateway waits
        return PREVIEW

    async with serving(identity_app({LOOKUP_INVITATION: stuck})) as url:
        async with gateway([LOOKUP_INVITATION], url, timeout=0.2) as browser:
            async with browser.get("/api/v1/invitations/lookup", params={"token": "x"}) as resp:
                assert (resp.status, resp.headers["Retry-After"]) == (503, "2")
        release.set()


async def test_a_success_that_is_not_json_is_a_bad_gateway(identity_url: str) -> None:
    async with client_session() as session:
        client = ServiceClient("identity", identity_url, SIGNER, session)
        with pytest.raises(Problem) as raised:
            await client.answer("GET", "/html", internal_auth.Claims(sub="service:gateway"))
    assert (raised.value.status, raised.value.code) == (502, "bad_gateway")
