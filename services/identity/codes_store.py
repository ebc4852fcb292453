"""Codes emailed to prove an address (registration, a new email, a password reset), with one rule for all."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.identity.domain import codes
from services.identity.problems import code_problem
from services.identity.settings import IdentitySettings
from shared.bus import add_event
from shared.contracts import EmailCodeIssued
from shared.errors import Problem


async def create(conn: asyncpg.Connection, purpose: str, email: str, *, user_id: uuid.UUID | None = None,
                 payload: dict[str, Any] | None = None) -> uuid.UUID:
    code_id = uuid.uuid4()
    await conn.execute("INSERT INTO email_codes (id, purpose, user_id, email, payload) VALUES ($1, $2, $3, $4, $5)",
                       code_id, purpose, user_id, email, payload or {})
    return code_id


async def send(conn: asyncpg.Connection, settings: IdentitySettings, code_id: uuid.UUID, given_name: str,
               correlation_id: str | None = None) -> None:
    """A new code for this row (the previous one stops working), emailed by notify."""
    row = await conn.fetchrow("SELECT purpose, email, codes_sent FROM email_codes WHERE id = $1", code_id)
    if row["codes_sent"] >= settings.codes_per_attempt:
        raise Problem(429, "Too many codes requested", "Start again from the beginning.", code="too_many_codes")
    code = codes.new_code()
    key_id, code_hmac = codes.digest(settings.code_hmac_keys, code_id, code)
    expires_at = await conn.fetchval(
        "UPDATE email_codes SET code_hmac = $2, code_key_id = $3, code_tries = 0, codes_sent = codes_sent + 1, "
        "code_expires_at = now() + make_interval(secs => $4) WHERE id = $1 RETURNING code_expires_at",
        code_id, code_hmac, key_id, float(settings.code_ttl_seconds))
    await add_event(conn, "identity", EmailCodeIssued(
        code_id=code_id, purpose=row["purpose"], email=row["email"], given_name=given_name,
        code=codes.display(code), expires_at=expires_at), correlation_id=correlation_id)


async def decoy(conn: asyncpg.Connection, settings: IdentitySettings, code_id: uuid.UUID) -> None:
    """What send does, for a row nobody may use (an address with no account, a person over their hourly limit): a
    code nobody is sent, with the same tries and expiry, so the row locks and expires as a real one does."""
    code = codes.new_code()
    key_id, code_hmac = codes.digest(settings.code_hmac_keys, code_id, code)
    await conn.execute(
        "UPDATE email_codes SET code_hmac = $2, code_key_id = $3, code_tries = 0, codes_sent = codes_sent + 1, "
        "code_expires_at = now() + make_interval(secs => $4) WHERE id = $1",
        code_id, code_hmac, key_id, float(settings.code_ttl_seconds))


async def find(conn: asyncpg.Connection, code_id: uuid.UUID, purpose: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM email_codes WHERE id = $1 AND purpose = $2", code_id, purpose)


async def use(pool: asyncpg.Pool, settings: IdentitySettings, code_id: uuid.UUID, purpose: str, entered: str,
              effect: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]],
              *, owner: uuid.UUID | None = None, needs_user: bool = False) -> asyncpg.Record:
    """Check the code and, if it is right, run `effect` in the same transaction that uses it up.

    A wrong try is counted even though the answer is an error, so it is committed before raising."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            row = await conn.fetchrow(
                "SELECT *, code_expires_at <= now() AS expired FROM email_codes WHERE id = $1 AND purpose = $2 "
                "FOR UPDATE", code_id, purpose)
            if row is not None and owner is not None and row["user_id"] != owner:
                row = None  # someone else's: as if it did not exist, and their tries are not spent
            # A row without an account (a password reset for an unknown address) holds a decoy: judged alike.
            usable = row is not None and (not needs_user or row["user_id"] is not None)
            outcome = codes.Outcome.INVALID if row is None else codes.judge(
                settings.code_hmac_keys, row["id"], entered, key_id=row["code_key_id"], stored=row["code_hmac"],
                tries=row["code_tries"], max_tries=settings.code_max_tries, expired=row["expired"],
                used=row["used_at"] is not None, usable=usable)
            if outcome is codes.Outcome.INVALID and row is not None and row["code_hmac"] is not None:
                await conn.execute("UPDATE email_codes SET code_tries = code_tries + 1 WHERE id = $1", code_id)
            if outcome is codes.Outcome.ACCEPTED:
                await conn.execute("UPDATE email_codes SET used_at = now() WHERE id = $1", code_id)
                await effect(conn, row)
    if outcome is not codes.Outcome.ACCEPTED:
        raise code_problem(outcome)
    return row
