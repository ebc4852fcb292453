"""A file upload through the gateway (downloads are streamed by services/gateway/forwarding.py).

An upload is read here up to the attachment limit (plus room for the form around the file) and passed to pep as it
came, boundary and all: pep sniffs and decides. The app-wide client_max_size (1 MiB) stays as it is: this route
reads its own body, in chunks, and stops at its cap.
"""

from __future__ import annotations

from aiohttp import web

from services.gateway.bound import answers
from services.gateway.forwarding import target
from services.gateway.handlers import CLIENTS, authenticate
from services.gateway.settings import GatewaySettings
from shared.api import attachments
from shared.api.attachments import ATTACHMENT_MAX_BYTES, AttachmentOut
from shared.errors import FieldError, Problem
from shared.service import SETTINGS
from shared.web import REQUEST_ID

CHUNK = 64 * 1024
FORM_ROOM = 1024 * 1024  # the multipart framing and the other fields around the file
TIMEOUT = 120.0  # a 20 MB file takes longer than the usual JSON call


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


@answers(attachments.UPLOAD_ATTACHMENT)
async def upload(request: web.Request) -> web.Response:
    path = target(attachments.UPLOAD_ATTACHMENT, request)
    claims = await authenticate(request)
    if request.content_type != "multipart/form-data":
        raise Problem(415, "Send the file as multipart/form-data", code="unsupported_media_type")
    body = await read_capped(request, _cap(request))
    if body is None:
        raise _too_large(request)
    async with request.app[CLIENTS]["pep"].raw(
            "POST", path, claims, data=body, request_id=request[REQUEST_ID],
            headers={"Content-Type": request.headers["Content-Type"]}, timeout=TIMEOUT) as upstream:
        created = AttachmentOut.model_validate(await upstream.json())
    return web.Response(text=created.model_dump_json(), status=201, content_type="application/json")
