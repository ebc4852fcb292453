"""Getting an account and looking after it: registration from an invitation, accepting an invitation with an
existing account, forgotten password, change of password or email, and your own sessions."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web
from pydantic import Field

from services.identity import audit, codes_store
from services.identity import store as sign_in_store
from services.identity.accounts import publish_user
from services.identity.domain import passwords
from services.identity.domain.emails import normalise_email
from services.identity.domain.password_policy import problems as password_problems
from services.identity.membership import add_membership
from services.identity.problems import INVITATION_NOT_FOUND, invalid_fields, throttled
from services.identity.session_events import access_changed, session_ended
from services.identity.settings import IdentitySettings
from shared.api import identity as api
from shared.api.identity import (
    AcceptInvitation,
    EmailChange,
    EmailChangeCode,
    EmailChangeStarted,
    InvitationAccepted,
    InvitationPreview,
    MySession,
    PasswordChange,
    Registration,
    RegistrationCode,
    RegistrationResend,
    RegistrationStarted,
    ResetStarted,
)
from shared.authz import require_service, require_user
from shared.bus import add_event
from shared.contracts import AccountChanged
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, serves

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


class PasswordResetRequest(api.PasswordResetRequest):
    client_address: str = Field(default="unknown", max_length=64)  # set by the gateway, never by the browser


class PasswordResetComplete(api.PasswordResetComplete):
    client_address: str = Field(default="unknown", max_length=64)


def _settings(request: web.Request) -> IdentitySettings:
    settings = request.app[SETTINGS]
    assert isinstance(settings, IdentitySettings)
    return settings


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _policy_errors(settings: IdentitySettings, field: str, password: str, given: str, family: str,
                   email: str) -> list[tuple[str, str]]:
    return [(field, message) for message in password_problems(
        password, given_name=given, family_name=family, email=email, policy=settings.password_policy,
        min_length=settings.password_min_length)]


async def open_invitation(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT i.*, o.name AS organisation_name, o.type AS organisation_type FROM invitations i "
        "JOIN organisations o ON o.id = i.organisation_id WHERE i.token_hash = $1 AND i.accepted_at IS NULL "
        "AND i.revoked_at IS NULL AND i.expires_at > now()" + (" FOR UPDATE OF i" if lock else ""),
        hashlib.sha256(token.encode()).digest())
    if row is None:
        raise INVITATION_NOT_FOUND
    return row


async def accept_invitation(conn: asyncpg.Connection, invitation: asyncpg.Record, user_id: uuid.UUID) -> None:
    await add_membership(conn, user_id, invitation["organisation_id"], invitation["role"],
                         by=invitation["invited_by"])
    await conn.execute("UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1",
                       invitation["id"], user_id)
    await audit.record(conn, "invitation_accepted", actor_id=user_id, subject_user_id=user_id,
                       organisation_id=invitation["organisation_id"], details={"role": invitation["role"]})
    await publish_user(conn, user_id)


# ---- invitations and registration -----------------------------------------------------------------


@serves(routes, api.LOOKUP_INVITATION)
async def lookup_invitation(request: web.Request) -> InvitationPreview:
    """What the emailed link's page shows: who invites you to what. Not the name or email: you type those."""
    require_service(request[CLAIMS])
    token = request.query.get("token", "")
    if not 20 <= len(token) <= 100:
        raise INVITATION_NOT_FOUND
    async with request.app[POOL].acquire() as conn:
        inv = await open_invitation(conn, token)
    return InvitationPreview(organisation_name=inv["organisation_name"], organisation_type=inv["organisation_type"],
                             role=inv["role"], expires_at=inv["expires_at"])




@serves(routes, api.REGISTER)
async def register(request: web.Request) -> RegistrationStarted:
    require_service(request[CLAIMS])
    body = await parse_body(request, Registration)
    settings = _settings(request)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        inv = await open_invitation(conn, body.token)
        errors = []
        if not _same_name(body.given_name, inv["given_name"]):
            errors.append(("given_name", "The given name does not match the invitation"))
        if not _same_name(body.family_name, inv["family_name"]):
            errors.append(("family_name", "The family name does not match the invitation"))
        if normalise_email(body.email) != inv["email_normalised"]:
            errors.append(("email", "The email address does not match the invitation"))
        elif await sign_in_store.user_by_email(conn, inv["email_normalised"]):  # type: ignore[arg-type]
            errors.append(("email", "You already have an account with this email address. Sign in, then open "
                                    "the invitation link again to accept it"))
        errors += _policy_errors(settings, "password", body.password, inv["given_name"], inv["family_name"],
                                 inv["email"])
        if errors:
            raise invalid_fields(*errors)
    password_hash = await passwords.hash_password(body.password)
    async with pool.acquire() as conn, conn.transaction():
        code_id = await codes_store.create(conn, "verify_registration", inv["email"], payload={
            "invitation_id": str(inv["id"]), "password_hash": password_hash})
        await codes_store.send(conn, settings, code_id, inv["given_name"], request[REQUEST_ID])
    return RegistrationStarted(registration_id=code_id, email=inv["email"])






@serves(routes, api.VERIFY_REGISTRATION)
async def verify_registration(request: web.Request) -> None:
    """The right code proves the address: the account is created and the invitation accepted, at once."""
    require_service(request[CLAIMS])
    body = await parse_body(request, RegistrationCode)

    async def create_account(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        inv = await conn.fetchrow(
            "SELECT * FROM invitations WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL "
            "AND expires_at > now() FOR UPDATE", uuid.UUID(row["payload"]["invitation_id"]))
        if inv is None:
            raise INVITATION_NOT_FOUND
        user_id = uuid.uuid4()
        created = await conn.fetchval(
            "INSERT INTO users (id, email, email_normalised, given_name, family_name, password_hash, "
            "email_verified_at) VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT DO NOTHING RETURNING 1",
            user_id, inv["email"], inv["email_normalised"], " ".join(inv["given_name"].split()),
            " ".join(inv["family_name"].split()), row["payload"]["password_hash"])
        if not created:
            raise invalid_fields(("email", "You already have an account with this email address. Sign in, then "
                                           "open the invitation link again to accept it"))
        await audit.record(conn, "registered", actor_id=user_id, subject_user_id=user_id,
                           organisation_id=inv["organisation_id"])
        await accept_invitation(conn, inv, user_id)

    await codes_store.use(request.app[POOL], _settings(request), body.registration_id, "verify_registration",
                          body.code, create_account)


@serves(routes, api.RESEND_REGISTRATION_CODE)
async def resend_registration_code(request: web.Request) -> RegistrationResend:
    require_service(request[CLAIMS])
    body = await parse_body(request, RegistrationResend)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await codes_store.find(conn, body.registration_id, "verify_registration")
        if row is not None and row["used_at"] is None:
            given = await conn.fetchval("SELECT given_name FROM invitations WHERE id = $1",
                                        uuid.UUID(row["payload"]["invitation_id"]))
            await codes_store.send(conn, _settings(request), row["id"], given, request[REQUEST_ID])
    return RegistrationResend(registration_id=body.registration_id)




@serves(routes, api.ACCEPT_INVITATION)
async def accept_with_existing_account(request: web.Request) -> InvitationAccepted:
    """One login across LAs and settings: a signed-in person accepts an invitation sent to their address."""
    user_id = uuid.UUID(require_user(request[CLAIMS]))
    body = await parse_body(request, AcceptInvitation)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        inv = await open_invitation(conn, body.token, lock=True)
        email = await conn.fetchval("SELECT email_normalised FROM users WHERE id = $1", user_id)
        if email != inv["email_normalised"]:
            raise Problem(403, "This invitation is for someone else",
                          "Sign in with the email address the invitation was sent to.", code="invitation_not_yours")
        await accept_invitation(conn, inv, user_id)
    return InvitationAccepted(organisation_id=inv["organisation_id"], role=inv["role"])


# ---- forgotten password ---------------------------------------------------------------------------






@serves(routes, api.REQUEST_PASSWORD_RESET)
async def request_password_reset(request: web.Request) -> ResetStarted:
    """Same answer whether or not the address has an account; a code is emailed only if it does."""
    require_service(request[CLAIMS])
    body = await parse_body(request, PasswordResetRequest)
    settings = _settings(request)
    email = normalise_email(body.email)
    async with request.app[POOL].acquire() as conn:
        if wait := await sign_in_store.blocked_for(conn, [f"account:{email}", f"address:{body.client_address}"]):
            raise throttled(wait)
        async with conn.transaction():
            user = await sign_in_store.user_by_email(conn, email)
            code_id = await codes_store.create(conn, "reset_password", user["email"] if user else email,
                                               user_id=user["id"] if user else None)
            recent = user and await conn.fetchval(
                "SELECT count(*) FROM email_codes WHERE user_id = $1 AND purpose = 'reset_password' "
                "AND created_at > now() - interval '1 hour'", user["id"])
            # A few an hour at most, so nobody can fill a person's inbox by asking for resets.
            if user and recent <= settings.password_resets_per_hour:
                await codes_store.send(conn, settings, code_id, user["given_name"], request[REQUEST_ID])
                await audit.record(conn, "password_reset_requested", subject_user_id=user["id"],
                                   client_address=body.client_address)
            else:  # no account, or over the limit: a decoy that expires and locks as a sent code does
                await codes_store.decoy(conn, settings, code_id)
    return ResetStarted(attempt_id=code_id)


@serves(routes, api.COMPLETE_PASSWORD_RESET)
async def complete_password_reset(request: web.Request) -> None:
    require_service(request[CLAIMS])
    body = await parse_body(request, PasswordResetComplete)
    settings = _settings(request)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        if wait := await sign_in_store.blocked_for(conn, [f"address:{body.client_address}"]):
            raise throttled(wait)
    # Before the code, only the rules that need nobody's name: checking "not your name" against the account
    # before the code is right told a stranger whose account it was. Neither check uses the code up.
    if errors := _policy_errors(settings, "new_password", body.new_password, "", "", ""):
        raise invalid_fields(*errors)
    password_hash = await passwords.hash_password(body.new_password)

    async def set_password(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        user = await conn.fetchrow("SELECT given_name, family_name, email FROM users WHERE id = $1", row["user_id"])
        if errors := _policy_errors(settings, "new_password", body.new_password, user["given_name"],
                                    user["family_name"], user["email"]):
            raise invalid_fields(*errors)  # rolls the code's use back: the person keeps it for a better password
        await _replace_password(conn, row["user_id"], password_hash, keep_session=None)
        await sign_in_store.clear_failures(conn, [f"account:{normalise_email(row['email'])}"])
        await audit.record(conn, "password_reset", subject_user_id=row["user_id"], actor_id=row["user_id"],
                           client_address=body.client_address)

    try:
        await codes_store.use(pool, settings, body.attempt_id, "reset_password", body.code, set_password,
                              needs_user=True)
    except Problem as problem:
        if problem.status == 422:
            raise  # the right code, a password with their name in it: not a failure to guess a code
        async with pool.acquire() as conn:
            await sign_in_store.record_failure(conn, f"address:{body.client_address}",
                                               settings.throttle_free_failures_address,
                                               settings.throttle_max_delay_seconds)
        raise


async def _check_current_password(pool: asyncpg.Pool, settings: IdentitySettings, user: asyncpg.Record,
                                  claims: Claims, password: str, field: str, message: str) -> None:
    """The current password, asked again before a change: throttled as sign-in is, per account and per address, so a
    session left open is not a way to guess it."""
    keys = (f"account:{user['email_normalised']}", f"address:{claims.address or 'unknown'}")
    async with pool.acquire() as conn:
        if wait := await sign_in_store.blocked_for(conn, list(keys)):
            raise throttled(wait)
    if await passwords.verify(user["password_hash"], password):
        return
    async with pool.acquire() as conn, conn.transaction():
        for key, free in zip(keys, (settings.throttle_free_failures_account, settings.throttle_free_failures_address),
                             strict=True):
            await sign_in_store.record_failure(conn, key, free, settings.throttle_max_delay_seconds)
    raise invalid_fields((field, message))


async def _replace_password(conn: asyncpg.Connection, user_id: uuid.UUID, password_hash: str,
                            keep_session: uuid.UUID | None) -> None:
    user = await conn.fetchrow(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1 RETURNING email, given_name",
        user_id, password_hash)
    await conn.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL "
                       "AND id IS DISTINCT FROM $2", user_id, keep_session)
    await access_changed(conn, user_id, "password_changed")
    await add_event(conn, "identity", AccountChanged(
        user_id=user_id, change="password_changed", email=user["email"], given_name=user["given_name"],
        changed_at=datetime.now(UTC)))


# ---- my account -----------------------------------------------------------------------------------




@serves(routes, api.CHANGE_PASSWORD)
async def change_password(request: web.Request) -> None:
    claims = request[CLAIMS]
    user_id = uuid.UUID(require_user(claims))
    body = await parse_body(request, PasswordChange)
    settings = _settings(request)
    pool = request.app[POOL]
    user = await pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    await _check_current_password(pool, settings, user, claims, body.current_password, "current_password",
                                  "Your current password is not right")
    if errors := _policy_errors(settings, "new_password", body.new_password, user["given_name"],
                                user["family_name"], user["email"]):
        raise invalid_fields(*errors)
    password_hash = await passwords.hash_password(body.new_password)
    async with pool.acquire() as conn, conn.transaction():
        await _replace_password(conn, user_id, password_hash,
                                keep_session=uuid.UUID(claims.session_id) if claims.session_id else None)
        await audit.record(conn, "password_changed", actor_id=user_id, subject_user_id=user_id)






@serves(routes, api.CHANGE_EMAIL)
async def start_email_change(request: web.Request) -> EmailChangeStarted:
    """The new address is verified with a code before it replaces the old one."""
    user_id = uuid.UUID(require_user(request[CLAIMS]))
    body = await parse_body(request, EmailChange)
    settings = _settings(request)
    pool = request.app[POOL]
    user = await pool.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    await _check_current_password(pool, settings, user, request[CLAIMS], body.password, "password",
                                  "Your password is not right")
    new = normalise_email(str(body.new_email))
    if new == user["email_normalised"]:
        raise invalid_fields(("new_email", "This is already your email address"))
    if await pool.fetchval("SELECT 1 FROM users WHERE email_normalised = $1", new):
        raise invalid_fields(("new_email", "Another account uses this email address"))
    async with pool.acquire() as conn, conn.transaction():
        code_id = await codes_store.create(conn, "change_email", str(body.new_email).strip(), user_id=user_id)
        await codes_store.send(conn, settings, code_id, user["given_name"], request[REQUEST_ID])
    return EmailChangeStarted(change_id=code_id)


@serves(routes, api.VERIFY_EMAIL_CHANGE)
async def finish_email_change(request: web.Request) -> None:
    user_id = uuid.UUID(require_user(request[CLAIMS]))
    body = await parse_body(request, EmailChangeCode)

    async def change(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        old = await conn.fetchrow("SELECT email, given_name FROM users WHERE id = $1", user_id)
        try:
            await conn.execute("UPDATE users SET email = $2, email_normalised = $3, updated_at = now() WHERE id = $1",
                               user_id, row["email"], normalise_email(row["email"]))
        except asyncpg.UniqueViolationError:
            raise invalid_fields(("new_email", "Another account uses this email address")) from None
        await add_event(conn, "identity", AccountChanged(
            user_id=user_id, change="email_changed", email=row["email"], previous_email=old["email"],
            given_name=old["given_name"], changed_at=datetime.now(UTC)))
        await audit.record(conn, "email_changed", actor_id=user_id, subject_user_id=user_id)
        await publish_user(conn, user_id)

    await codes_store.use(request.app[POOL], _settings(request), body.change_id, "change_email", body.code, change,
                          owner=user_id)


@serves(routes, api.LIST_MY_SESSIONS)
async def my_sessions(request: web.Request) -> list[MySession]:
    claims = request[CLAIMS]
    user_id = uuid.UUID(require_user(claims))
    settings = _settings(request)
    rows = await request.app[POOL].fetch(
        "SELECT s.id, s.created_at, s.last_seen_at FROM sessions s "
        "CROSS JOIN LATERAL session_rule_of(s.user_id, $2, $3, $4) r WHERE s.user_id = $1 AND s.revoked_at IS NULL "
        "AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => r.idle_seconds) "
        "ORDER BY s.last_seen_at DESC", user_id, *settings.session_rule_defaults.args())
    return [MySession(id=r["id"], created_at=r["created_at"], last_seen_at=r["last_seen_at"],
                      current=str(r["id"]) == claims.session_id) for r in rows]


@serves(routes, api.END_MY_SESSION)
async def end_my_session(request: web.Request) -> None:
    user_id = uuid.UUID(require_user(request[CLAIMS]))
    try:
        session_id = uuid.UUID(request.match_info["session_id"])
    except ValueError:
        raise Problem(404, "Not found", code="not_found") from None
    async with request.app[POOL].acquire() as conn, conn.transaction():
        ended = await conn.fetchval("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 "
                                    "AND revoked_at IS NULL RETURNING 1", session_id, user_id)
        if not ended:
            raise Problem(404, "Not found", "That session has already ended.", code="not_found")
        await session_ended(conn, user_id, session_id)
        await audit.record(conn, "session_ended", actor_id=user_id, subject_user_id=user_id)
