"""Files through the gateway: attachment uploads and downloads, PEP exports, blank forms.

`forwarding.forward()` carries JSON; these carry bytes. An upload is read here up to the attachment limit (plus
room for the form around the file) and passed to pep as it came, boundary and all: pep sniffs and decides. The
app-wide client_max_size (1 MiB) stays as it is: this route reads its own body, in chunks, and stops at its cap.
A download is streamed back with the headers pep set (type, attachment disposition, nosniff, no-store).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from services.gateway.forwarding import forward
from services.gateway.handlers import CLIENTS, authenticate
from services.gateway.openapi import Operation, ProblemDocument, operation
from services.gateway.settings import GatewaySettings
from shared.api.attachments import ATTACHMENT_MAX_BYTES, AttachmentOut
from shared.errors import FieldError, Problem
from shared.service import SETTINGS
from shared.web import REQUEST_ID

routes = web.RouteTableDef()
CHUNK = 64 * 1024
FORM_ROOM = 1024 * 1024  # the multipart framing and the other fields around the file
TIMEOUT = 120.0  # a 20 MB file or a long PEP's PDF takes longer than the usual JSON call
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Disposition", "X-Content-Type-Options",
                  "Cache-Control", "Content-Security-Policy")
tags = ["attachments"]
_errors: dict[int, type[BaseModel] | None] = {401: ProblemDocument, 404: ProblemDocument}

forward("get", "/children/{child_id}/attachments", "A child's files (query: pep_id to narrow to one PEP)",
        response=AttachmentOut, many=True, service="pep", tags=tuple(tags))
forward("get", "/attachments/{attachment_id}", "A file's details, deleted or not, with its audit trail for those "
        "who may change the child's files", response=AttachmentOut, service="pep", tags=tuple(tags))
forward("delete", "/attachments/{attachment_id}", "Delete a file: its content goes, who uploaded and deleted it "
        "stays", status=204, service="pep", tags=tuple(tags))
operation(Operation("post", "/api/v1/children/{child_id}/attachments",
                    "Upload a file as multipart/form-data: file (PDF, Word, JPG, PNG, GIF or WebP; 20 MB unless "
                    "configured otherwise), kind (ehcp, support_plan, sdq, photo, award, other), optional pep_id",
                    None, {201: AttachmentOut, 403: ProblemDocument, 413: ProblemDocument, 415: ProblemDocument,
                           422: ProblemDocument, **_errors}, tags=tags))


def _cap(request: web.Request) -> int:
    settings = request.app[SETTINGS]
    limit = settings.attachment_max_bytes if isinstance(settings, GatewaySettings) else ATTACHMENT_MAX_BYTES
    return limit + FORM_ROOM


def _too_large(request: web.Request) -> Problem:
    megabytes = (_cap(request) - FORM_ROOM) / (1024 * 1024)
    message = f"The selected file must be smaller than {megabytes:g} MB"
    return Problem(413, "The file was not uploaded", message, code="file_too_large",
                   errors=[FieldError(field="file", message=message)])


async def read_capped(request: web.Request, cap: int) -> bytes | None:
    """The request body, or None as soon as it is longer than `cap` (nothing past the cap is kept)."""
    if request.content_length is not None and request.content_length > cap:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@routes.post("/api/v1/children/{child_id}/attachments")
async def upload(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    if request.content_type != "multipart/form-data":
        raise Problem(415, "Send the file as multipart/form-data", code="unsupported_media_type")
    body = await read_capped(request, _cap(request))
    if body is None:
        raise _too_large(request)
    async with request.app[CLIENTS]["pep"].raw(
            "POST", request.path.removeprefix("/api/v1"), claims, data=body, request_id=request[REQUEST_ID],
            headers={"Content-Type": request.headers["Content-Type"]}, timeout=TIMEOUT) as upstream:
        created = AttachmentOut.model_validate(await upstream.json())
    return web.Response(text=created.model_dump_json(), status=201, content_type="application/json")


async def _stream(request: web.Request) -> web.StreamResponse:
    """Pass a download from pep to the browser as it arrives, with pep's headers and never sniffed."""
    claims = await authenticate(request)
    target = request.path.removeprefix("/api/v1") + (f"?{request.query_string}" if request.query_string else "")
    async with request.app[CLIENTS]["pep"].raw("GET", target, claims, request_id=request[REQUEST_ID],
                                               timeout=TIMEOUT) as upstream:
        response = web.StreamResponse(status=upstream.status)
        for name in PASSED_HEADERS:
            if name in upstream.headers:
                response.headers[name] = upstream.headers[name]
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Request-Id"] = request[REQUEST_ID]
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK):
            await response.write(chunk)
        await response.write_eof()
    return response


_downloads = [
    ("/attachments/{attachment_id}/content", "Download a file (always as an attachment, in its sniffed type)",
     tags),
    ("/peps/{pep_id}/export.pdf", "The PEP as PDF (query: variant=termly, the default, or full: the Full PEP, "
     "with quality assurance, for those who may see it)", ["peps"]),
    ("/peps/{pep_id}/export.json", "The PEP as JSON: its template version and the answers you may see", ["peps"]),
    ("/templates/{key}/blank.pdf", "A national default template as a blank printable form (early-years, "
     "school-age, post-16)", ["templates"]),
]
for path, summary, path_tags in _downloads:
    operation(Operation("get", f"/api/v1{path}", summary, None, {200: None, **_errors}, tags=list(path_tags)))
    routes.get(f"/api/v1{path}")(_stream)
