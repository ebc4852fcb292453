"""SQL for identity's own schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.identity.domain.session_rules import RuleDefaults
from services.identity.domain.throttle import delay_after, max_delay_for
from services.identity.session_events import session_ended

# An account can sign in, and its sessions live, only while it has a membership no LA has deactivated.
ACTIVE_ACCOUNT = ("users.disabled_at IS NULL AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id "
                  "AND m.disabled_at IS NULL)")


async def user_by_email(conn: asyncpg.Connection, email_normalised: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, given_name, family_name, password_hash FROM users "
        f"WHERE email_normalised = $1 AND {ACTIVE_ACCOUNT}", email_normalised)


async def upgrade_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
    """The same password hashed with today's parameters; not if the password changed meanwhile. No event: the hash
    is identity's alone, and the password is the same."""
    return bool(await conn.fetchval(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2 RETURNING 1",
        user_id, old_hash, new_hash))


async def user_with_memberships(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    user = await conn.fetchrow("SELECT id, email, given_name, family_name FROM users "
                               f"WHERE id = $1 AND {ACTIVE_ACCOUNT}", user_id)
    if user is None:
        return None
    rows = await conn.fetch(
        "SELECT m.organisation_id, o.name AS organisation_name, o.type AS organisation_type, m.role "
        "FROM memberships m JOIN organisations o ON o.id = m.organisation_id "
        "WHERE m.user_id = $1 AND m.disabled_at IS NULL ORDER BY o.name, m.role", user_id)
    return {**dict(user), "memberships": [dict(r) for r in rows]}


async def blocked_for(conn: asyncpg.Connection, keys: list[str]) -> int:
    """Seconds until every one of these throttle keys allows another try (0: now)."""
    wait = await conn.fetchval(
        "SELECT ceil(extract(epoch FROM max(blocked_until) - now())) FROM throttle "
        "WHERE key = ANY($1::text[]) AND blocked_until > now()", keys)
    return int(wait or 0)


async def record_failure(conn: asyncpg.Connection, key: str, free_failures: int, max_delay: int) -> None:
    failures = await conn.fetchval(
        "INSERT INTO throttle (key, failures) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE "
        "SET failures = throttle.failures + 1, last_failure_at = now() RETURNING failures", key)
    delay = delay_after(failures, free_failures, max_delay_for(key, max_delay))
    if delay:
        await conn.execute("UPDATE throttle SET blocked_until = now() + make_interval(secs => $2) WHERE key = $1",
                           key, float(delay))


async def clear_failures(conn: asyncpg.Connection, keys: list[str]) -> None:
    await conn.execute("DELETE FROM throttle WHERE key = ANY($1::text[])", keys)


async def create_attempt(conn: asyncpg.Connection, user_id: uuid.UUID | None,
                         email_normalised: str | None = None) -> uuid.UUID:
    """Every attempt remembers the address typed, right password or not, so each throttles its account alike."""
    attempt_id = uuid.uuid4()
    await conn.execute("INSERT INTO sign_in_attempts (id, user_id, email_normalised) VALUES ($1, $2, $3)",
                       attempt_id, user_id, email_normalised)
    return attempt_id


async def store_code(conn: asyncpg.Connection, attempt_id: uuid.UUID, key_id: str, code_hmac: bytes,
                     ttl_seconds: int) -> datetime:
    """A new code replaces the old one (which stops working) and gets a fresh set of tries."""
    return await conn.fetchval(
        "UPDATE sign_in_attempts SET code_hmac = $2, code_key_id = $3, code_tries = 0, "
        "codes_sent = codes_sent + 1, code_expires_at = now() + make_interval(secs => $4) "
        "WHERE id = $1 RETURNING code_expires_at", attempt_id, code_hmac, key_id, float(ttl_seconds))


async def attempt_for_update(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.*, a.code_expires_at <= now() AS expired, coalesce(u.email_normalised, a.email_normalised) "
        "AS account_email, u.email, u.given_name FROM sign_in_attempts a LEFT JOIN users u ON u.id = a.user_id "
        "WHERE a.id = $1 FOR UPDATE OF a", attempt_id)


async def count_wrong_code(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> None:
    await conn.execute("UPDATE sign_in_attempts SET code_tries = code_tries + 1 WHERE id = $1", attempt_id)


async def use_code(conn: asyncpg.Connection, attempt_id: uuid.UUID) -> bool:
    """Atomic: only one request can ever use an attempt's code."""
    return bool(await conn.fetchval(
        "UPDATE sign_in_attempts SET used_at = now() WHERE id = $1 AND used_at IS NULL RETURNING 1", attempt_id))


async def create_session(conn: asyncpg.Connection, user_id: uuid.UUID, token_hash: bytes,
                         absolute_seconds: int) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO sessions (id, token_hash, user_id, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING id, created_at, last_seen_at, expires_at",
        uuid.uuid4(), token_hash, user_id, float(absolute_seconds))


async def resolve_session(conn: asyncpg.Connection, token_hash: bytes, rule: RuleDefaults,
                          touch_after: float | None = 0) -> asyncpg.Record | None:
    """The live session for this token; None if unknown, revoked, idle, expired, or its user deactivated.

    Idle means idle past the person's own rule (session_rule_of: their LAs' strictest, or `rule`'s default), which
    the row also carries (idle_seconds, warning_seconds). Its idle clock is restarted if it was last restarted
    `touch_after` seconds ago or a twentieth of that idle timeout, whichever is less (0: always; None: never).
    Ordinary requests pass a threshold so that most of them only read: a write per request was a WAL flush on every
    read of the whole system. One round trip either way; the UPDATE writes (and flushes) only when due."""
    return await conn.fetchrow(
        "WITH live AS (SELECT s.id, s.user_id, s.expires_at, s.last_seen_at, r.idle_seconds, r.warning_seconds "
        "FROM sessions s CROSS JOIN LATERAL session_rule_of(s.user_id, $2, $3, $4) r WHERE s.token_hash = $1 "
        "AND s.revoked_at IS NULL AND s.expires_at > now() "
        "AND s.last_seen_at > now() - make_interval(secs => r.idle_seconds) "
        f"AND s.user_id IN (SELECT id FROM users WHERE {ACTIVE_ACCOUNT})), "
        "touched AS (UPDATE sessions s SET last_seen_at = now() FROM live WHERE s.id = live.id "
        "AND $5::float8 IS NOT NULL "
        "AND live.last_seen_at <= now() - make_interval(secs => least($5::float8, live.idle_seconds / 20.0)) "
        "RETURNING s.id, s.last_seen_at) "
        "SELECT live.id, live.user_id, live.expires_at, live.idle_seconds, live.warning_seconds, "
        "coalesce(touched.last_seen_at, live.last_seen_at) + make_interval(secs => live.idle_seconds) "
        "AS idle_expires_at FROM live LEFT JOIN touched USING (id)",
        token_hash, *rule.args(), None if touch_after is None else float(touch_after))


async def touch_sessions(conn: asyncpg.Connection, touches: list[tuple[uuid.UUID, datetime]], rule: RuleDefaults,
                         touch_after: float) -> int:
    """Restart the idle clocks of sessions the gateways served from what they held: each to the time of its
    latest request (never later than now), by the rule resolve_session follows, so a person active through one
    gateway process is not signed out by another. A touch never revives a session: one revoked, past its absolute
    limit, or idle at the time of the request is left as it is. Rows are locked in id order, so two gateways'
    batches cannot deadlock. The number of sessions written."""
    if not touches:
        return 0
    result = await conn.execute(
        "WITH t AS (SELECT id, least(max(at), now()) AS at FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) "
        "GROUP BY id), "
        "due AS (SELECT s.id, t.at FROM sessions s JOIN t ON t.id = s.id "
        "CROSS JOIN LATERAL session_rule_of(s.user_id, $3, $4, $5) r "
        "WHERE s.revoked_at IS NULL AND s.expires_at > t.at "
        "AND s.last_seen_at > t.at - make_interval(secs => r.idle_seconds) "
        "AND s.last_seen_at <= t.at - make_interval(secs => least($6::float8, r.idle_seconds / 20.0)) "
        "ORDER BY s.id FOR UPDATE OF s) "
        "UPDATE sessions s SET last_seen_at = due.at FROM due WHERE s.id = due.id",
        [t[0] for t in touches], [t[1] for t in touches], *rule.args(), float(touch_after))
    return int(result.split()[-1])


async def session_rule(conn: asyncpg.Connection, user_id: uuid.UUID, rule: RuleDefaults) -> asyncpg.Record:
    """The rule this person's sessions follow now: idle_seconds and warning_seconds."""
    return await conn.fetchrow("SELECT idle_seconds, warning_seconds FROM session_rule_of($1, $2, $3, $4)",
                               user_id, *rule.args())


async def revoke_session(conn: asyncpg.Connection, token_hash: bytes) -> uuid.UUID | None:
    """Sign out: the session ends, and the gateways are told (call it in a transaction)."""
    row = await conn.fetchrow(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, user_id",
        token_hash)
    if row is None:
        return None
    await session_ended(conn, row["user_id"], row["id"])
    return row["user_id"]


async def revoke_all_sessions(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    """Sign out everywhere: every session ends, and the gateways are told (call it in a transaction)."""
    result = await conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id)
    await session_ended(conn, user_id)
    return int(result.split()[-1])


async def memberships_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT m.organisation_id::text, o.type AS organisation_type, m.role, a.children::text[], a.sections, "
        "a.user_id IS NOT NULL AS has_access "
        "FROM memberships m JOIN organisations o ON o.id = m.organisation_id "
        "LEFT JOIN staff_access a ON a.setting_id = m.organisation_id AND a.user_id = m.user_id "
        "AND m.role = 'setting_staff' WHERE m.user_id = $1 AND m.disabled_at IS NULL", user_id)
    return [staff_default(dict(r), has_access=r["has_access"]) for r in rows]


def staff_default(membership: dict[str, Any], *, has_access: bool) -> dict[str, Any]:
    """A setting's staff member sees what their DT granted: nothing until a grant exists (a new member, or a DT
    replaced and kept on as staff). In a grant, None is everything; other roles carry neither key."""
    membership.pop("has_access", None)
    if membership["role"] != "setting_staff":
        return {k: v for k, v in membership.items() if k not in ("children", "sections")}
    if not has_access:
        return {**membership, "children": [], "sections": []}
    return membership
