"""identity's internal HTTP API (reached only through the gateway, with its signed token)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, Field

from services.identity import audit, store
from services.identity.domain import codes, passwords
from services.identity.domain.emails import normalise_email
from services.identity.problems import code_problem, throttled
from services.identity.settings import IdentitySettings
from shared.api.sessions import RESOLVE_PATH, TOUCH_PATH, ResolvedSession, SessionTouches
from shared.bus import add_event
from shared.contracts import SignedIn, SignInCodeIssued
from shared.errors import Problem
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, json_model, parse_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class SignInRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    client_address: str = Field(default="unknown", max_length=64)


class AttemptResponse(BaseModel):
    attempt_id: uuid.UUID


class VerifyRequest(BaseModel):
    attempt_id: uuid.UUID
    code: str = Field(max_length=32)
    client_address: str = Field(default="unknown", max_length=64)


class ResendRequest(BaseModel):
    attempt_id: uuid.UUID
    client_address: str = Field(default="unknown", max_length=64)


class SessionCreated(BaseModel):
    session_token: str
    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    idle_expires_at: datetime


class TokenRequest(BaseModel):
    session_token: str = Field(max_length=128)
    # Absent (the gateway's check on every request): restart the idle clock if it is session_touch_seconds old.
    # True ("Stay signed in"): restart it now. False: look without restarting it (the timeout warning asks this way).
    touch: bool | None = None


def _settings(request: web.Request) -> IdentitySettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, IdentitySettings)
    return settings


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _require_service(request: web.Request) -> None:
    if not request[CLAIMS].is_service:
        raise Problem(403, "Forbidden", code="forbidden")


async def _issue_code(conn, request: web.Request, attempt_id: uuid.UUID, user) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(request)
    code = codes.new_code()
    key_id, code_hmac = codes.digest(settings.code_hmac_keys, attempt_id, code)
    expires_at = await store.store_code(conn, attempt_id, key_id, code_hmac, settings.code_ttl_seconds)
    await add_event(conn, "identity", SignInCodeIssued(
        attempt_id=attempt_id, user_id=user["user_id"], email=user["email"], given_name=user["given_name"],
        code=codes.display(code), expires_at=expires_at), correlation_id=request[REQUEST_ID])


async def _issue_decoy(conn, request: web.Request, attempt_id: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    """A wrong password's attempt gets a code too, which nobody is sent: its tries, expiry and resends then run
    exactly as a real attempt's do, so no later answer tells a right password from a wrong one."""
    settings = _settings(request)
    key_id, code_hmac = codes.digest(settings.code_hmac_keys, attempt_id, codes.new_code())
    await store.store_code(conn, attempt_id, key_id, code_hmac, settings.code_ttl_seconds)


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    """Email and password. The answer is the same whether or not they are right: an attempt id.

    Only when both are right is a code issued (and emailed by notify)."""
    _require_service(request)
    body = await parse_body(request, SignInRequest)
    settings = _settings(request)
    email = normalise_email(body.email)
    account_key, address_key = f"account:{email}", f"address:{body.client_address}"
    pool = request.app[POOL]
    wait = await store.blocked_for(pool, [account_key, address_key])  # type: ignore[arg-type]
    if wait:
        raise throttled(wait)
    user = await store.user_by_email(pool, email)  # type: ignore[arg-type]
    ok = await passwords.verify(user["password_hash"] if user else None, body.password)
    # A hash made with older parameters is replaced while the password is at hand (once per person).
    new_hash = (await passwords.hash_password(body.password)
                if ok and user and passwords.needs_rehash(user["password_hash"]) else None)
    async with pool.acquire() as conn, conn.transaction():
        attempt_id = await store.create_attempt(conn, user["id"] if ok and user else None, email)
        if ok and user:
            if new_hash is not None:
                await store.upgrade_password_hash(conn, user["id"], user["password_hash"], new_hash)
            await _issue_code(conn, request, attempt_id, {"user_id": user["id"], "email": user["email"],
                                                          "given_name": user["given_name"]})
            await audit.record(conn, "sign_in_code_issued", subject_user_id=user["id"],
                               client_address=body.client_address)
        else:
            await _issue_decoy(conn, request, attempt_id)
            if user:
                await audit.record(conn, "sign_in", "wrong_password", subject_user_id=user["id"],
                                   client_address=body.client_address)
            await store.record_failure(conn, account_key, settings.throttle_free_failures_account,
                                       settings.throttle_max_delay_seconds)
            await store.record_failure(conn, address_key, settings.throttle_free_failures_address,
                                       settings.throttle_max_delay_seconds)
    log.info("sign-in attempt", extra={"attempt_id": str(attempt_id), "credentials_ok": ok})
    return json_model(AttemptResponse(attempt_id=attempt_id), status=202)


@routes.post("/sign-in/resend")
async def resend_code(request: web.Request) -> web.Response:
    """'Send me a new code': the old code stops working. Always 202, whatever the attempt was, so the answer says
    nothing about the password: a wrong password's attempt gets a new decoy (same counters, same limit), and past
    codes_per_attempt, or past the address's allowance of resends, nothing more is sent to anyone."""
    _require_service(request)
    body = await parse_body(request, ResendRequest)
    settings = _settings(request)
    resend_key = f"resend:{body.client_address}"
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if await store.blocked_for(conn, [resend_key]):
            return json_model(AttemptResponse(attempt_id=body.attempt_id), status=202)
        await store.record_failure(conn, resend_key, settings.throttle_free_failures_address,
                                   settings.throttle_max_delay_seconds)
        attempt = await store.attempt_for_update(conn, body.attempt_id)
        if attempt is not None and attempt["used_at"] is None and attempt["codes_sent"] < settings.codes_per_attempt:
            if attempt["user_id"]:
                await _issue_code(conn, request, body.attempt_id, attempt)
            else:
                await _issue_decoy(conn, request, body.attempt_id)
    return json_model(AttemptResponse(attempt_id=body.attempt_id), status=202)


@routes.post("/sign-in/verify")
async def verify_code(request: web.Request) -> web.Response:
    _require_service(request)
    body = await parse_body(request, VerifyRequest)
    settings = _settings(request)
    address_key = f"address:{body.client_address}"
    async with request.app[POOL].acquire() as conn:
        if wait := await store.blocked_for(conn, [address_key]):
            raise throttled(wait)
        async with conn.transaction():
            attempt = await store.attempt_for_update(conn, body.attempt_id)
            # Right password or wrong, guessing an attempt's code throttles the account it named.
            account_key = f"account:{attempt['account_email']}" if attempt and attempt["account_email"] else None
            if account_key and (wait := await store.blocked_for(conn, [account_key])):
                raise throttled(wait)
            outcome = codes.Outcome.INVALID if attempt is None else codes.judge(
                settings.code_hmac_keys, attempt["id"], body.code, key_id=attempt["code_key_id"],
                stored=attempt["code_hmac"], tries=attempt["code_tries"], max_tries=settings.code_max_tries,
                expired=attempt["expired"], used=attempt["used_at"] is not None, usable=attempt["user_id"] is not None)
            if outcome is codes.Outcome.INVALID and attempt is not None and attempt["code_hmac"] is not None:
                await store.count_wrong_code(conn, attempt["id"])
            if outcome is codes.Outcome.ACCEPTED and await store.use_code(conn, attempt["id"]):
                token = secrets.token_urlsafe(32)
                session = await store.create_session(conn, attempt["user_id"], _token_hash(token),
                                                     settings.session_absolute_seconds)
                rule = await store.session_rule(conn, attempt["user_id"], settings.session_rule_defaults)
                await store.clear_failures(conn, [k for k in (account_key, address_key, f"resend:{body.client_address}")
                                                  if k])
                await audit.record(conn, "sign_in", subject_user_id=attempt["user_id"],
                                   actor_id=attempt["user_id"], client_address=body.client_address)
                await add_event(conn, "identity", SignedIn(
                    user_id=attempt["user_id"], email=attempt["email"], given_name=attempt["given_name"],
                    session_id=session["id"], signed_in_at=session["created_at"]), correlation_id=request[REQUEST_ID])
            elif outcome is codes.Outcome.ACCEPTED:
                outcome = codes.Outcome.INVALID  # another request used it a moment ago
        if outcome is not codes.Outcome.ACCEPTED:
            async with conn.transaction():
                for key, free in ((account_key, settings.throttle_free_failures_account),
                                  (address_key, settings.throttle_free_failures_address)):
                    if key:
                        await store.record_failure(conn, key, free, settings.throttle_max_delay_seconds)
                if attempt is not None and attempt["user_id"] is not None:
                    await audit.record(conn, "sign_in", f"code_{outcome.value}", subject_user_id=attempt["user_id"],
                                       client_address=body.client_address)
            raise code_problem(outcome)
    log.info("signed in", extra={"user_id": str(attempt["user_id"]), "session_id": str(session["id"])})
    return json_model(SessionCreated(
        session_token=token, session_id=session["id"], user_id=attempt["user_id"], expires_at=session["expires_at"],
        idle_expires_at=session["last_seen_at"] + timedelta(seconds=rule["idle_seconds"])))


@routes.post(RESOLVE_PATH)
async def resolve_session(request: web.Request) -> web.Response:
    """The gateway asks who holds this cookie when it does not hold the session itself (at most every 30 seconds
    per session and gateway process); this also restarts the idle clock (at most once every
    session_touch_seconds, unless asked to now)."""
    _require_service(request)
    body = await parse_body(request, TokenRequest)
    settings = _settings(request)
    touch_after = {None: float(settings.session_touch_seconds), True: 0.0, False: None}[body.touch]
    async with request.app[POOL].acquire() as conn:
        # The person's own rule (their LAs' strictest): a session idle past it is refused here, for every request.
        session = await store.resolve_session(conn, _token_hash(body.session_token), settings.session_rule_defaults,
                                              touch_after)
        if session is None:
            raise Problem(401, "Not signed in", "Your session has ended. Sign in again.", code="session_ended")
        memberships = await store.memberships_of(conn, session["user_id"])
    return json_model(ResolvedSession(
        session_id=session["id"], user_id=session["user_id"], expires_at=session["expires_at"],
        idle_expires_at=session["idle_expires_at"], idle_timeout_seconds=session["idle_seconds"],
        warning_seconds=session["warning_seconds"], memberships=memberships,
        touch_after_seconds=min(float(settings.session_touch_seconds), session["idle_seconds"] / 20)))


@routes.post(TOUCH_PATH)
async def touch_sessions(request: web.Request) -> web.Response:
    """A gateway process reports, every second or so, when the sessions it served from what it held were last
    used: their idle clocks restart as the gateway's own requests would have restarted them, so whichever gateway
    process asks next sees the person as active."""
    _require_service(request)
    body = await parse_body(request, SessionTouches)
    settings = _settings(request)
    async with request.app[POOL].acquire() as conn:
        await store.touch_sessions(conn, [(t.session_id, t.at) for t in body.touches], settings.session_rule_defaults,
                                   float(settings.session_touch_seconds))
    return web.Response(status=204)


@routes.post("/sessions/revoke")
async def revoke_session(request: web.Request) -> web.Response:
    _require_service(request)
    body = await parse_body(request, TokenRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await store.revoke_session(conn, _token_hash(body.session_token))
    return web.Response(status=204)


@routes.post("/users/me/sessions/revoke-all")
async def revoke_all(request: web.Request) -> web.Response:
    """Sign out everywhere: every session of the user asking."""
    claims = request[CLAIMS]
    if claims.is_service:
        raise Problem(403, "Forbidden", code="forbidden")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        count = await store.revoke_all_sessions(conn, uuid.UUID(claims.sub))
    log.info("signed out everywhere", extra={"user_id": claims.sub, "sessions": count})
    return web.Response(status=204)


@routes.get("/users/me")
async def me(request: web.Request) -> web.Response:
    claims = request[CLAIMS]
    if claims.is_service:
        raise Problem(403, "Forbidden", code="forbidden")
    async with request.app[POOL].acquire() as conn:
        user = await store.user_with_memberships(conn, uuid.UUID(claims.sub))
    if user is None:
        raise Problem(404, "Not found", code="not_found")
    return web.json_response({
        "id": str(user["id"]), "email": user["email"], "given_name": user["given_name"],
        "family_name": user["family_name"],
        "memberships": [{**m, "organisation_id": str(m["organisation_id"])} for m in user["memberships"]]})
