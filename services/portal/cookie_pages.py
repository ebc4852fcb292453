"""The cookies page: every cookie the portal sets, what it is for and how long it lasts.

All of them are essential (signing in, protecting forms, carrying a journey between its pages): no analytics,
nothing shared, so no consent banner. The list is made from the cookies' own names and lifetimes, and a test
checks that every cookie name in the portal's code is on it."""

from __future__ import annotations

from aiohttp import web

from services.portal.account_pages import EMAIL_CHANGE, RESET
from services.portal.gateway_client import SESSION_COOKIE
from services.portal.pagekit import portal_settings, render
from services.portal.pages import SIGN_IN
from services.portal.registration_pages import REGISTRATION
from services.portal.security import CSRF_COOKIE, RETURN_COOKIE, RETURN_SECONDS
from services.portal.settings import PortalSettings
from services.portal.views_pages import VIEWS_COOKIE

routes = web.RouteTableDef()


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} minutes"


def essential_cookies(settings: PortalSettings) -> list[tuple[str, str, str]]:
    """(name, purpose, when it expires) of every cookie the portal sets."""
    journey = _minutes(settings.journey_seconds)
    return [
        (SESSION_COOKIE, "Keeps you signed in",
         f"When you sign out, or after {settings.idle_timeout_minutes} minutes without using the service, or the "
         "time your local authority has chosen (12 hours at most)"),
        (CSRF_COOKIE, "Makes sure the forms you send come from this service and not from another website",
         "When you close your browser"),
        (SIGN_IN.cookie, "Remembers your sign-in between your password and the emailed code",
         _minutes(settings.sign_in_attempt_seconds)),
        (RETURN_COOKIE, "Takes you back to the page you were on when you sign in again", _minutes(RETURN_SECONDS)),
        (REGISTRATION.cookie, "Remembers your new account between the steps of creating it", journey),
        (RESET.cookie, "Remembers a password reset between its steps", journey),
        (EMAIL_CHANGE.cookie, "Remembers a change of email address between its steps", journey),
        (VIEWS_COOKIE, "Keeps a child or carer signed in while they give their views for a PEP",
         "When the invitation to give views closes"),
    ]


@routes.get("/cookies")
async def cookies(request: web.Request) -> web.Response:
    rows = [[{"text": name}, {"text": purpose}, {"text": expires}]
            for name, purpose, expires in essential_cookies(portal_settings(request))]
    return render(request, "cookies.html", {"cookies": rows})
