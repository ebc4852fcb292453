"""qa asks pep, with the caller's own claims, whether they may see a PEP or child and how they reach it (pep's
`access`), and takes the PEP's approve and return actions through pep, so pep's lifecycle stays the one truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from shared.authz import not_found, sees_qa
from shared.internal_auth import Claims
from shared.service import SETTINGS
from shared.web import REQUEST_ID, ServiceClient, client_session

PEP = web.AppKey("pep", ServiceClient)


async def pep_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pep_url: str = settings.pep_url  # type: ignore[attr-defined]  # qa's Settings has it
    session = client_session()
    app[PEP] = ServiceClient("pep", pep_url, settings.internal_signer(), session)
    yield
    await session.close()


async def ask(request: web.Request, method: str, path: str, claims: Claims, body: Any = None) -> Any:
    return await request.app[PEP].call(method, path, claims, json_body=body, request_id=request[REQUEST_ID])


async def child_seen_with_qa(request: web.Request, claims: Claims, child_id: str, what: str) -> dict[str, Any]:
    """pep's view of the child for this caller; 404 (pep's, or ours) unless they are someone who sees QA."""
    child = await ask(request, "GET", f"/children/{child_id}", claims)
    if not sees_qa(child.get("access")):  # the one rule (shared.authz): never carers or setting staff
        raise not_found(what)
    return dict(child)
