"""Browser-facing protections: security headers on every response, CSRF on every form, cookie helpers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from http.cookies import Morsel

from aiohttp import web

from services.portal import tokens
from services.portal.settings import PortalSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSRF_COOKIE = "epep_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
BROWSER_SECRET = web.RequestKey("browser_secret", str)
NEW_BROWSER_SECRET = web.RequestKey("new_browser_secret", bool)
CSP_NONCE = web.RequestKey("csp_nonce", str)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Exception):
    """A form arrived without the token this browser was given: shown as a friendly 400 page."""


def csp_nonce(request: web.Request) -> str:
    """This response's CSP nonce: new for every request, so a script injected into a page cannot guess it.
    Templates put it on their inline scripts (GOV.UK Frontend's page template reads `cspNonce`)."""
    nonce = request.get(CSP_NONCE)
    if nonce is None:
        nonce = request[CSP_NONCE] = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(settings: PortalSettings) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An on_response_prepare hook, so even error and static responses carry the headers."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if settings.session_cookie_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        # A response that set its own (an email preview, stricter still) keeps it.
        response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(request)))
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.get(NEW_BROWSER_SECRET):
            # Here rather than in the middleware, so redirects and error pages hand it out too. Headers
            # are already built when this hook runs, so the cookie goes in as a header of its own.
            response.headers.add("Set-Cookie", _cookie_header(settings, CSRF_COOKIE, request[BROWSER_SECRET]))
        if "Cache-Control" not in response.headers:
            # Static files revalidate (they are not fingerprinted); pages may hold personal data and
            # must not come back from the cache after signing out.
            static = request.path.startswith("/static/")
            response.headers["Cache-Control"] = "no-cache" if static else "no-store"

    return on_prepare


def set_cookie(response: web.StreamResponse, settings: PortalSettings, name: str, value: str, *,
               max_age: int | None = None, path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Lax",
                        secure=bool(settings.session_cookie_secure))


def _cookie_header(settings: PortalSettings, name: str, value: str, path: str = "/") -> str:
    morsel: Morsel[str] = Morsel()
    morsel.set(name, value, value)
    morsel["path"], morsel["samesite"] = path, "Lax"
    morsel["httponly"] = True  # type: ignore[assignment]  # Morsel flags take booleans
    if settings.session_cookie_secure:
        morsel["secure"] = True  # type: ignore[assignment]
    return morsel.OutputString()


RETURN_COOKIE, RETURN_SECONDS = "epep_return", 15 * 60
_NOT_RETURNED_TO = ("/sign-in", "/sign-out", "/static/", "/register", "/invitations/", "/reset-password")


def is_return_path(path: str) -> bool:
    """A page of this portal someone may be sent back to after signing in: a local path (no scheme, host, or
    '//' that a browser would read as one), not a sign-in or registration page, and not absurdly long."""
    return (path.startswith("/") and not path.startswith("//") and "\\" not in path and len(path) <= 500
            and path not in ("/", "/home") and not path.startswith(_NOT_RETURNED_TO)
            and all(ord(c) > 32 for c in path))


def clear_cookie(response: web.StreamResponse, settings: PortalSettings, name: str, path: str = "/") -> None:
    response.del_cookie(name, path=path, httponly=True, samesite="Lax",
                        secure=bool(settings.session_cookie_secure))


def csrf_middleware(settings: PortalSettings,
                    before_body: Callable[[web.Request], Awaitable[web.StreamResponse | None]] | None = None,
                    ) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """CSRF on every form. `before_body` runs before a form's body is read and may answer instead (the session is
    checked there, so an anonymous visitor's megabyte is never parsed for a page that needs signing in)."""
    key = settings.csrf_key.get_secret_value()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/") or request.path in ("/healthz", "/readyz"):
            return await handler(request)
        secret = request.cookies.get(CSRF_COOKIE, "")
        fresh = len(secret) < 32
        # Set before checking, so even the "problem with your request" page can carry a valid form.
        request[BROWSER_SECRET] = tokens.new_browser_secret() if fresh else secret
        request[NEW_BROWSER_SECRET] = fresh
        if request.method not in SAFE_METHODS:
            if before_body is not None and (early := await before_body(request)) is not None:
                return early
            form = await request.post()
            # Forms send the token as a field; scripts may send it as a header instead.
            token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
            if not tokens.csrf_token_ok(key, secret, token if isinstance(token, str) else None):
                raise CsrfFailed()
        return await handler(request)

    return middleware


def renew_browser_secret(request: web.Request) -> None:
    """A new CSRF secret (and so new tokens) when someone signs in or out, so no token outlives it."""
    request[BROWSER_SECRET] = tokens.new_browser_secret()
    request[NEW_BROWSER_SECRET] = True


def csrf_token_for(request: web.Request, settings: PortalSettings) -> str:
    return tokens.csrf_token(settings.csrf_key.get_secret_value(), request[BROWSER_SECRET])
