"""CSRF protection for the API's cookie-authenticated calls. The session cookie is SameSite=Lax, so another site's
page cannot make the browser send it with a POST; this refuses what Lax lets through, a state-changing call
from another origin of the same site (a sibling subdomain), by the browser's own word for where the call came
from: Sec-Fetch-Site, and Origin where it is sent. Calls from programs and from the portal's server carry
neither and go on as before; a JSON body from another origin also needs a CORS preflight, which the gateway
never grants."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from shared.errors import Problem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def from_elsewhere(request: web.Request) -> bool:
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host  # "null" has no host at all


@web.middleware
async def cross_site_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in SAFE_METHODS and from_elsewhere(request):
        raise Problem(403, "Refused", "This request came from another site.", code="cross_site")
    return await handler(request)
