"""Email previews, for Virtual School admins: every kind of email the service sends, made from sample values,
with its subject and plain text on one page, and each HTML version on a page of its own.

The gateway (and notify behind it) decides who may: anyone but a VS admin gets 404, shown as "Page not found".
The HTML version is the email exactly as sent, so it is served under a CSP of its own that allows its inline
styles and nothing else: no scripts, no images or fonts from anywhere, no forms, no framing, in a sandbox.
The portal's own CSP (`style-src 'self'`, `frame-ancestors 'none'`) rules out showing it in an iframe here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.portal.gateway_client import SESSION_COOKIE, NotSignedIn
from services.portal.pagekit import caller, gateway, optional_uuid, render_signed_in
from shared.api.notifications import EMAIL_PREVIEWS, EmailPreview

routes = web.RouteTableDef()

EMAIL_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; font-src 'none'; form-action 'none'; "
             "base-uri 'none'; frame-ancestors 'none'; sandbox")


async def _previews(request: web.Request) -> list[EmailPreview]:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    found = await gateway(request).call(EMAIL_PREVIEWS, caller(request, signed_in=True))
    return list(found.items)


def paragraphs(text: str) -> list[list[str]]:
    """Plain text as paragraphs of lines, so the page wraps it as the recipient's mail program would."""
    return [[line.rstrip() for line in block.strip("\n").split("\n")] for block in text.split("\n\n") if block.strip()]


@routes.get("/email-previews")
async def email_previews(request: web.Request) -> web.Response:
    found = await _previews(request)
    la_id = optional_uuid(request.query.get("la_id", ""))
    context: dict[str, Any] = {"previews": [{"email": p, "paragraphs": paragraphs(p.text)} for p in found],
                               "back": f"/organisations/{la_id}/deliveries" if la_id else "/"}
    return await render_signed_in(request, "email_previews.html", context)


@routes.get("/email-previews/{template}")
async def email_preview_html(request: web.Request) -> web.Response:
    template = request.match_info["template"]
    found = next((p for p in await _previews(request) if p.template == template), None)
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(text=found.html, content_type="text/html", headers={"Content-Security-Policy": EMAIL_CSP})
