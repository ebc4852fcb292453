"""Files: a PEP's exports (Termly and Full PDF, JSON), blank forms, and a child's attachments (list, upload,
download, delete).

The bytes come from the gateway and are passed on as they arrive, with its type and attachment disposition, never
sniffed and never cached. pep decides who may see, upload and delete what: a refusal is its page (404 for what
someone may not see), and an upload it refuses is shown in the error summary.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
from aiohttp import web

from services.portal import pep_words
from services.portal.children_pages import ensure_signed_in
from services.portal.gateway_client import GatewayProblem
from services.portal.pagekit import gateway, optional_uuid, redirect, render_signed_in, require_uuid
from shared.api import attachments, children, peps
from shared.api.children import ChildProfile
from shared.api.operations import InvalidParameter, Operation
from shared.api.peps import PepSummary

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CHUNK = 64 * 1024
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Disposition")
TEMPLATE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KINDS = pep_words.ATTACHMENT_KINDS


async def _pass_on(request: web.Request, op: Operation, query: dict[str, str] | None = None,
                   **params: str) -> web.StreamResponse:
    """The file `op` answers with (its path from the operation, never written by hand), passed on as it comes."""
    who = ensure_signed_in(request)
    try:
        path = op.bind(op.path, **params)
    except InvalidParameter:
        raise web.HTTPNotFound() from None
    async with gateway(request).download(who, path, query) as upstream:
        response = web.StreamResponse(status=200)
        for name in PASSED_HEADERS:
            if name in upstream.headers:
                response.headers[name] = upstream.headers[name]
        response.headers.setdefault("Content-Disposition", "attachment")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)
        await response.write_eof()
    return response


# ---- a PEP's exports and blank forms ---------------------------------------------------------------------------


@routes.get("/peps/{pep_id}/download/termly.pdf")
async def termly_pdf(request: web.Request) -> web.StreamResponse:
    return await _pass_on(request, peps.EXPORT_PDF, {"variant": "termly"}, pep_id=require_uuid(request, "pep_id"))


@routes.get("/peps/{pep_id}/download/full.pdf")
async def full_pdf(request: web.Request) -> web.StreamResponse:
    return await _pass_on(request, peps.EXPORT_PDF, {"variant": "full"}, pep_id=require_uuid(request, "pep_id"))


@routes.get("/peps/{pep_id}/download/pep.json")
async def pep_json(request: web.Request) -> web.StreamResponse:
    return await _pass_on(request, peps.EXPORT_JSON, pep_id=require_uuid(request, "pep_id"))


@routes.get("/forms/{key}/blank.pdf")
async def blank_form(request: web.Request) -> web.StreamResponse:
    key = request.match_info.get("key", "")
    if not TEMPLATE_KEY.match(key):
        raise web.HTTPNotFound()
    return await _pass_on(request, peps.BLANK_FORM, key=key)


# ---- a child's attachments -----------------------------------------------------------------------------------


@routes.get("/attachments/{attachment_id}/download")
async def download_attachment(request: web.Request) -> web.StreamResponse:
    return await _pass_on(request, attachments.DOWNLOAD_ATTACHMENT,
                          attachment_id=require_uuid(request, "attachment_id"))


def _upload_context(child: ChildProfile, peps: list[PepSummary], values: dict[str, str],
                    errors: dict[str, str]) -> dict[str, Any]:
    return {
        "current_page": "children", "child": child, "errors": errors, "values": values,
        "kind_items": [{"value": k, "text": v, "checked": values.get("kind") == k} for k, v in KINDS.items()],
        "pep_items": [{"value": "", "text": "Not for a particular PEP"}] + [
            {"value": str(p.id), "text": pep_words.pep_title(p.kind, p.term, p.academic_year),
             "selected": values.get("pep_id") == str(p.id)}
            for p in peps if p.status != "cancelled"],
    }


@routes.get("/children/{child_id}/attachments/new")
async def upload_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    child = await gateway(request).call(children.GET_CHILD, who, child_id=child_id)
    found = await gateway(request).call(peps.LIST_CHILD_PEPS, who, child_id=child_id)
    values = {"kind": "", "pep_id": optional_uuid(request.query.get("pep", ""))}
    return await render_signed_in(request, "attachment_upload.html", _upload_context(child, found, values, {}))


@routes.post("/children/{child_id}/attachments/new")
async def upload(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    child_id = require_uuid(request, "child_id")
    data = await request.post()  # read (and capped) by the CSRF check already
    values = {"kind": str(data.get("kind", "")), "pep_id": optional_uuid(str(data.get("pep_id", "")))}
    errors: dict[str, str] = {}
    chosen = data.get("file")
    if not isinstance(chosen, web.FileField) or not chosen.filename:
        errors["file"] = "Select a file"
    if values["kind"] not in KINDS:
        errors["kind"] = "Select what kind of file this is"
    if not errors and isinstance(chosen, web.FileField):
        form = aiohttp.FormData(quote_fields=False)  # the filename as chosen, not percent-encoded
        form.add_field("file", chosen.file.read(), filename=chosen.filename,
                       content_type=chosen.content_type or "application/octet-stream")
        form.add_field("kind", values["kind"])
        if values["pep_id"]:
            form.add_field("pep_id", values["pep_id"])
        try:
            await gateway(request).upload(attachments.UPLOAD_ATTACHMENT, who, form, child_id=child_id)
        except GatewayProblem as p:
            if p.status == 404:
                raise
            log.info("upload refused", extra={"status": p.status, "code": p.code})
            found = p.field_errors()
            errors["file"] = found.get("file") or found.get("kind") or p.message
        else:
            return redirect(f"/children/{child_id}?done=uploaded#files")
    child = await gateway(request).call(children.GET_CHILD, who, child_id=child_id)
    found = await gateway(request).call(peps.LIST_CHILD_PEPS, who, child_id=child_id)
    return await render_signed_in(request, "attachment_upload.html", _upload_context(child, found, values, errors))


@routes.get("/attachments/{attachment_id}/delete")
async def delete_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    found = await gateway(request).call(attachments.GET_ATTACHMENT, who,
                                        attachment_id=require_uuid(request, "attachment_id"))
    child = await gateway(request).call(children.GET_CHILD, who, child_id=found.child_id)
    return await render_signed_in(request, "attachment_delete.html", {
        "current_page": "children", "child": child, "file": found, "kind": KINDS.get(found.kind, found.kind)})


@routes.post("/attachments/{attachment_id}/delete")
async def delete(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    attachment_id = require_uuid(request, "attachment_id")
    found = await gateway(request).call(attachments.GET_ATTACHMENT, who, attachment_id=attachment_id)
    await gateway(request).call(attachments.DELETE_ATTACHMENT, who, attachment_id=attachment_id)
    return redirect(f"/children/{found.child_id}?done=deleted#files")
