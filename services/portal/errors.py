"""Whatever goes wrong, a person sees a GOV.UK-style page, never a stack trace or problem+json."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from services.portal.gateway_client import SESSION_COOKIE, GatewayProblem, GatewayUnavailable, NotSignedIn
from services.portal.security import (
    RETURN_COOKIE,
    RETURN_SECONDS,
    CsrfFailed,
    Handler,
    clear_cookie,
    is_return_path,
    set_cookie,
)
from services.portal.settings import PortalSettings
from shared.service import SETTINGS
from shared.telemetry import redact
from shared.web import REQUEST_ID

log = logging.getLogger(__name__)
VIEWS_PAGES = "/your-views/"  # the invited person's pages (views_pages.VIEWS_PATH)

NOT_FOUND = {
    "heading": "Page not found",
    "paragraphs": ["If you typed the web address, check it is correct.",
                   "If you pasted the web address, check you copied the entire address."],
    "link": {"href": "/", "text": "Go to the start page"},
}
PROBLEM = {
    "heading": "Sorry, there is a problem with the service",
    "paragraphs": ["Try again later."],
    "link": {"href": "/", "text": "Go to the start page"},
}
UNAVAILABLE = {
    "heading": "Sorry, the service is unavailable",
    "paragraphs": ["Try again in a few minutes."],
    "link": None,
}
FORBIDDEN = {
    "heading": "You cannot use this page",
    "paragraphs": ["Your account does not allow it. If you think it should, contact your Virtual School."],
    "link": {"href": "/home", "text": "Go to your home page"},
}
BAD_REQUEST = {
    "heading": "Sorry, there is a problem with your request",
    "paragraphs": ["This can happen if a page was open for a long time, or if your browser blocks cookies.",
                   "Go back, refresh the page and try again."],
    "link": {"href": "/", "text": "Go to the start page"},
}


def _page(request: web.Request, page: dict[str, Any], status: int) -> web.Response:
    from services.portal.pagekit import render  # pagekit imports this module's neighbours; avoid a cycle

    if request.path.startswith(VIEWS_PAGES):
        # An invited young person or carer has no use for the staff start page: no link, and a header without one.
        page = {**page, "link": None, "views_page": True}
    try:
        return render(request, "message.html", page, status=status)
    except Exception:
        # Even the template failed: plain text, still no trace.
        log.exception("error page failed", extra={"request_id": request.get(REQUEST_ID)})
        return web.Response(status=status, text=page["heading"], content_type="text/plain")


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status in (404, 405):
            return _page(request, NOT_FOUND, exc.status)
        if exc.status < 500:
            return _page(request, BAD_REQUEST, exc.status)
        return _page(request, PROBLEM, exc.status)
    except CsrfFailed:
        log.info("form without a valid csrf token", extra={"path": redact(request.path)})
        return _page(request, BAD_REQUEST, 400)
    except NotSignedIn as exc:
        settings = request.app[SETTINGS]
        assert isinstance(settings, PortalSettings)
        # A session they had has ended (idle, too old, or signed out elsewhere): the sign-in page says so.
        ended = exc.code == "session_ended" and SESSION_COOKIE in request.cookies
        response = web.Response(status=303, headers={"Location": "/sign-in?reason=session-ended" if ended
                                                     else "/sign-in"})
        clear_cookie(response, settings, SESSION_COOKIE)
        if request.method == "GET" and is_return_path(request.path_qs):
            # An emailed link (a task) or a bookmark: back there after signing in, never around sign-in.
            set_cookie(response, settings, RETURN_COOKIE, request.path_qs, max_age=RETURN_SECONDS)
        return response
    except GatewayProblem as problem:
        # A page that did not expect this answer. Another organisation's things answer 404 (never 403),
        # so a link to something the person may not see looks like a page that does not exist.
        log.info("gateway problem not handled by the page",
                 extra={"path": redact(request.path), "status": problem.status, "code": problem.code})
        if problem.status in (404, 410):
            return _page(request, NOT_FOUND, 404)
        if problem.status == 403:
            return _page(request, FORBIDDEN, 403)
        if problem.status < 500:
            return _page(request, BAD_REQUEST, 400)
        return _page(request, PROBLEM, 500)
    except GatewayUnavailable:
        return _page(request, UNAVAILABLE, 503)
    except Exception as exc:
        log.error("unhandled error", extra={"path": redact(request.path), "error": type(exc).__name__,
                                            "request_id": request.get(REQUEST_ID)}, exc_info=True)
        return _page(request, PROBLEM, 500)
