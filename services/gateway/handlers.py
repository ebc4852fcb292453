"""The one public API. It knows who is asking (the session cookie, checked with identity) and passes the
request on with a short-lived signed token carrying their claims; services authorise on their own data."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from services.gateway.openapi import Operation, ProblemDocument, document, operation
from services.gateway.settings import GatewaySettings
from shared.errors import Problem
from shared.internal_auth import Claims, Membership
from shared.service import SETTINGS
from shared.web import REQUEST_ID, ServiceClient, json_model, parse_body

IDENTITY = web.AppKey("identity_client", ServiceClient)
CLIENTS = web.AppKey("service_clients", dict[str, ServiceClient])
GATEWAY = Claims(sub="service:gateway")
routes = web.RouteTableDef()


# ---- models (they are the OpenAPI document) -------------------------------------------------------


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="The address the account was registered with")
    password: str = Field(min_length=1, max_length=1024)


class SignInStarted(BaseModel):
    attempt_id: uuid.UUID = Field(description="Send it back with the emailed code. Returned whether or not the "
                                              "email and password were right; a code is emailed only if they were.")


class VerifyCode(BaseModel):
    attempt_id: uuid.UUID
    code: str = Field(min_length=1, max_length=32, description="8 digits, with or without the space: 1234 5678")


class ResendCode(BaseModel):
    attempt_id: uuid.UUID


class SignedIn(BaseModel):
    user_id: uuid.UUID
    expires_at: datetime
    idle_expires_at: datetime


class MembershipOut(BaseModel):
    organisation_id: uuid.UUID
    organisation_name: str
    organisation_type: str
    role: str


class Me(BaseModel):
    id: uuid.UUID
    email: str
    given_name: str
    family_name: str
    memberships: list[MembershipOut]


_bad = {422: ProblemDocument, 429: ProblemDocument}
operation(Operation("post", "/api/v1/auth/sign-in", "Start signing in with email and password", SignIn,
                    {202: SignInStarted, **_bad}, authenticated=False, tags=["auth"]))
operation(Operation("post", "/api/v1/auth/sign-in/verify", "Finish signing in with the emailed code; sets the "
                    "session cookie", VerifyCode, {200: SignedIn, 400: ProblemDocument, **_bad},
                    authenticated=False, tags=["auth"]))
operation(Operation("post", "/api/v1/auth/sign-in/resend", "Email a new code (the old one stops working)",
                    ResendCode, {202: SignInStarted, **_bad}, authenticated=False, tags=["auth"]))
operation(Operation("get", "/api/v1/me", "The signed-in user and their organisations and roles", None,
                    {200: Me, 401: ProblemDocument}, tags=["auth"]))
operation(Operation("post", "/api/v1/auth/sign-out", "Sign out of this session", None, {204: None},
                    authenticated=False, tags=["auth"]))
operation(Operation("post", "/api/v1/auth/sign-out-everywhere", "Sign out of every session of this user", None,
                    {204: None, 401: ProblemDocument}, tags=["auth"]))
operation(Operation("get", "/api/v1/openapi.json", "This document", None, {200: None}, authenticated=False,
                    tags=["meta"]))


# ---- helpers --------------------------------------------------------------------------------------


def _settings(request: web.Request) -> GatewaySettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, GatewaySettings)
    return settings


def client_address(request: web.Request) -> str:
    """The browser's address: from X-Forwarded-For only when the peer is a trusted proxy (the portal)."""
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _trusted(peer, _settings(request)):
        # The right-most address is the one our own proxy saw; anything left of it the client could forge.
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return peer


def _trusted(peer: str, settings: GatewaySettings) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxies)


async def authenticate(request: web.Request) -> Claims:
    """Who holds this session cookie (401 if nobody)."""
    token = request.cookies.get(_settings(request).session_cookie)
    if not token or len(token) > 128:
        raise Problem(401, "Not signed in", "Sign in to continue.", code="not_signed_in")
    session = await request.app[IDENTITY].call("POST", "/sessions/resolve", GATEWAY,
                                               json_body={"session_token": token}, request_id=request[REQUEST_ID])
    return Claims(sub=session["user_id"], session_id=session["session_id"],
                  memberships=[Membership(**m) for m in session["memberships"]], address=client_address(request))


def _set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(settings.session_cookie, token, httponly=True, samesite="Lax", path="/",
                        secure=settings.secure_cookies)


# ---- handlers -------------------------------------------------------------------------------------


@routes.post("/api/v1/auth/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    body = await parse_body(request, SignIn)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in", GATEWAY, request_id=request[REQUEST_ID],
        json_body={**body.model_dump(), "client_address": client_address(request)})
    return json_model(SignInStarted(**result), status=202)


@routes.post("/api/v1/auth/sign-in/resend")
async def resend(request: web.Request) -> web.Response:
    body = await parse_body(request, ResendCode)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in/resend", GATEWAY, request_id=request[REQUEST_ID],
        json_body={"attempt_id": str(body.attempt_id), "client_address": client_address(request)})
    return json_model(SignInStarted(**result), status=202)


@routes.post("/api/v1/auth/sign-in/verify")
async def verify(request: web.Request) -> web.Response:
    body = await parse_body(request, VerifyCode)
    result = await request.app[IDENTITY].call(
        "POST", "/sign-in/verify", GATEWAY, request_id=request[REQUEST_ID],
        json_body={"attempt_id": str(body.attempt_id), "code": body.code, "client_address": client_address(request)})
    response = json_model(SignedIn(**result))
    _set_session_cookie(request, response, result["session_token"])
    return response


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    user = await request.app[IDENTITY].call("GET", "/users/me", claims, request_id=request[REQUEST_ID])
    return json_model(Me(**user))


@routes.post("/api/v1/auth/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    settings = _settings(request)
    token = request.cookies.get(settings.session_cookie)
    if token and len(token) <= 128:
        await request.app[IDENTITY].call("POST", "/sessions/revoke", GATEWAY, request_id=request[REQUEST_ID],
                                         json_body={"session_token": token})
    response = web.Response(status=204)
    response.del_cookie(settings.session_cookie, path="/")
    return response


@routes.post("/api/v1/auth/sign-out-everywhere")
async def sign_out_everywhere(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    await request.app[IDENTITY].call("POST", "/users/me/sessions/revoke-all", claims, request_id=request[REQUEST_ID])
    response = web.Response(status=204)
    response.del_cookie(_settings(request).session_cookie, path="/")
    return response


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
