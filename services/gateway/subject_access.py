"""A subject access export of everything held about a child, from every service that holds something, as JSON
and as PDF (the child's LA's VS admin only).

pep answers first and decides: it holds the child's record, says who may export it (anyone else gets its 404 or
403), and records the export in the child's access log. Then delegation, qa and notify each give their own part
(tasks and their history, QA reviews and PP+ funding, emails sent about the child), asked with the caller's own
claims, so each still reads only its own schema and only its VS admin's LAs. Accounts are identity's and stay
out: they are the staff's data, not the child's. Should any part fail the whole export fails, rather than
hand over an incomplete one as if it were complete."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import TypeAdapter

from services.gateway.bound import answers
from services.gateway.forwarding import parameters
from services.gateway.handlers import CLIENTS, authenticate
from services.gateway.subject_access_pdf import render_pdf
from shared.api import children
from shared.api.children import SubjectAccess
from shared.web import REQUEST_ID

log = logging.getLogger(__name__)
OTHERS = ("delegation", "qa", "notify")
_ADAPTER = TypeAdapter(SubjectAccess)

async def gather(request: web.Request) -> dict[str, Any]:
    child_id = parameters(children.SUBJECT_ACCESS, request)["child_id"]
    claims = await authenticate(request)
    clients, request_id = request.app[CLIENTS], request[REQUEST_ID]
    export = await clients["pep"].call("GET", f"/children/{child_id}/subject-access", claims, request_id=request_id)
    query = urlencode([("pep_id", p["id"]) for p in export.get("peps", [])])
    parts = await asyncio.gather(*(clients[s].call("GET", f"/children/{child_id}/subject-access?{query}", claims,
                                                   request_id=request_id) for s in OTHERS))
    export["held_by_others"] = dict(zip(OTHERS, parts, strict=True))
    export["held_elsewhere"] = ["the accounts of the staff involved (identity): theirs, not the child's"]
    return _ADAPTER.dump_python(_ADAPTER.validate_python(export), mode="json")


@answers(children.SUBJECT_ACCESS)
async def subject_access(request: web.Request) -> web.Response:
    return web.json_response(await gather(request), headers={"Cache-Control": "no-store"})


@answers(children.SUBJECT_ACCESS_PDF)
async def subject_access_pdf(request: web.Request) -> web.Response:
    export = await gather(request)
    body = await asyncio.to_thread(render_pdf, export)  # blocking work off the event loop
    return web.Response(body=body, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{export["child"]["id"]}.pdf"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
