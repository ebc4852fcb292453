"""The public API is the operation catalogue (`shared/api/operations.py`): the gateway routes every operation in
it, and nothing else. For most it checks who is asking, validates the path parameters, query and body against
the operation, builds the owning service's path from those validated values (each quoted whole, never the decoded
request path, so an encoded `/`, `?` or `..` stays inside its parameter) and passes the call on; the service
decides. The few operations the gateway answers itself (signing in, the views session, the subject access
export) are bound to their handlers with `answers()`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.gateway.bound import OWN, Handler
from services.gateway.handlers import CLIENTS, GATEWAY, authenticate, client_address
from shared.api.operations import InvalidParameter, Operation, catalogue, encode_query
from shared.errors import Problem
from shared.web import REQUEST_ID, parse_body

CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = 120.0  # a 20 MB file or a long PEP's PDF takes longer than the usual JSON call
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Disposition", "X-Content-Type-Options",
                  "Cache-Control", "Content-Security-Policy")


def not_found() -> Problem:
    return Problem(404, "Not found", "We could not find that page.", code="not_found")


def parameters(op: Operation, request: web.Request) -> dict[str, Any]:
    """The path parameters as their types: a value that is not one names nothing (404)."""
    try:
        return op.validate_parameters(dict(request.match_info))
    except InvalidParameter:
        raise not_found() from None


def query_string(op: Operation, request: web.Request) -> str:
    """The operation's query, validated and encoded again from the values (blank fields left out, as a form
    sends them); anything it does not declare is not passed on."""
    if op.query is None:
        return ""
    given = {name: value for name, value in request.query.items() if value.strip()}
    return encode_query(op.query.model_validate(given))


def target(op: Operation, request: web.Request) -> str:
    """The owning service's path for this request, built from validated values only."""
    path = op.bind(**parameters(op, request))
    query = query_string(op, request)
    return f"{path}?{query}" if query else path


def _forward(op: Operation) -> Handler:
    """The owning service's JSON, passed to the browser as the service wrote it. Nothing beyond the contract can be
    in it: the service answers through `shared.web.serves`, which validates what its handler returns against this
    operation's response model and serialises it from the model (tests/shared/test_contract_closed.py and
    test_passed_through.py). Reading, checking and writing it again here cost about a quarter of the gateway's CPU
    for a section read (docs/performance.md, "Issue 19: JSON passed through")."""
    json_answer = op.response is not None

    async def handler(request: web.Request) -> web.StreamResponse:
        upstream = target(op, request)  # a bad parameter is 404 before anyone is asked who the caller is
        claims = GATEWAY if op.public else await authenticate(request)
        payload = None
        if op.body is not None:
            # Only what the client sent: a PATCH must not turn every field it left out into null.
            payload = (await parse_body(request, op.body)).model_dump(mode="json", exclude_unset=True)
            if op.with_address:
                payload["client_address"] = client_address(request)
        answer = await request.app[CLIENTS][op.service].answer(op.method.upper(), upstream, claims,
                                                               json_body=payload, request_id=request[REQUEST_ID])
        if not json_answer:
            return web.Response(status=op.status)
        return web.Response(body=answer.body, status=op.status, content_type="application/json")

    return handler


def _stream(op: Operation) -> Handler:
    """A download from the owning service, passed to the browser as it arrives, with the service's headers."""

    async def handler(request: web.Request) -> web.StreamResponse:
        upstream = target(op, request)
        claims = await authenticate(request)
        async with request.app[CLIENTS][op.service].raw("GET", upstream, claims, request_id=request[REQUEST_ID],
                                                        timeout=DOWNLOAD_TIMEOUT) as answer:
            response = web.StreamResponse(status=answer.status)
            for name in PASSED_HEADERS:
                if name in answer.headers:
                    response.headers[name] = answer.headers[name]
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["X-Request-Id"] = request[REQUEST_ID]
            await response.prepare(request)
            async for chunk in answer.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
        return response

    return handler


def handler_for(op: Operation) -> Handler:
    if op.id in OWN:
        return OWN[op.id]
    if op.service == "gateway":
        raise LookupError(f"the gateway answers {op.id} itself, but no handler is bound to it")
    if op.media is not None:
        return _stream(op)
    return _forward(op)


def add_routes(app: web.Application) -> None:
    """Every operation of the catalogue, and only those."""
    for op in catalogue().values():
        app.router.add_route(op.method.upper(), op.public_path, handler_for(op), name=op.id)
