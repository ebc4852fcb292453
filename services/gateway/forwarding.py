"""Most of the public API is the gateway checking who is asking, validating the body against the shared
contract, and passing the call to the service that owns the data, which decides on it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from services.gateway.handlers import CLIENTS, GATEWAY, authenticate, client_address
from services.gateway.openapi import Operation, ProblemDocument, operation
from shared.web import REQUEST_ID, parse_body

routes = web.RouteTableDef()
_errors: dict[int, type[BaseModel] | None] = {401: ProblemDocument, 404: ProblemDocument, 422: ProblemDocument}


def forward(method: str, path: str, summary: str, *, body: type[BaseModel] | None = None,
            response: type[BaseModel] | None = None, many: bool = False, status: int = 200, public: bool = False,
            with_address: bool = False, tags: tuple[str, ...] = ("account",), service: str = "identity") -> None:
    """Declare an operation (it appears in the OpenAPI document) and route it to the service that owns it,
    at the same path without /api/v1."""
    responses: dict[int, type[BaseModel] | None] = {status: response, **_errors}
    if public:
        responses.pop(401)
    operation(Operation(method, f"/api/v1{path}", summary, body, responses, authenticated=not public,
                        tags=list(tags), many=many))
    adapter: TypeAdapter[Any] | None = None
    if response is not None:
        adapter = TypeAdapter(list[response]) if many else TypeAdapter(response)  # type: ignore[valid-type]

    async def handler(request: web.Request) -> web.StreamResponse:
        claims = GATEWAY if public else await authenticate(request)
        payload = None
        if body is not None:
            # Only what the client sent: a PATCH must not turn every field it left out into null.
            payload = (await parse_body(request, body)).model_dump(mode="json", exclude_unset=True)
            if with_address:
                payload["client_address"] = client_address(request)
        target = request.path.removeprefix("/api/v1")
        if request.query_string:
            target += f"?{request.query_string}"
        result = await request.app[CLIENTS][service].call(method.upper(), target, claims, json_body=payload,
                                                          request_id=request[REQUEST_ID])
        if adapter is None:
            return web.Response(status=status)
        # Validated against the contract on the way out: nothing beyond it reaches the browser.
        return web.Response(body=adapter.dump_json(adapter.validate_python(result)), status=status,
                            content_type="application/json")

    routes.route(method.upper(), f"/api/v1{path}")(handler)


