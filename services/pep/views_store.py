"""Views invitations in pep's schema: the invitations, their emailed codes and sessions (kept only as hashes),
every use written to the child's access log, and the events notify sends the emails from
(pep.views_invitation.sent, pep.views_code.issued), in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.pep.domain import views as rules
from shared.bus import add_event
from shared.contracts import ViewsCodeIssued, ViewsInvitationSent

_LIST = ("SELECT v.*, v.expires_at <= now() AS expired, u.given_name || ' ' || u.family_name AS created_by_name "
         "FROM views_invitations v LEFT JOIN users u ON u.id = v.created_by ")
# An invitation with its PEP's status and who sent it, as the invited person's calls need it.
_WITH_PEP = ("SELECT v.*, v.expires_at <= now() AS expired, p.status AS pep_status, "
             "(SELECT u.given_name || ' ' || u.family_name FROM users u WHERE u.id = v.created_by) AS created_by_name ")


# ---- the inviter ---------------------------------------------------------------------------------------------


async def of_pep(conn: asyncpg.Connection, pep_id: uuid.UUID) -> list[asyncpg.Record]:
    """A PEP's invitations, newest first, with who sent each."""
    return await conn.fetch(_LIST + "WHERE v.pep_id = $1 ORDER BY v.created_at DESC", pep_id)


async def invitation(conn: asyncpg.Connection, invitation_id: uuid.UUID, pep_id: uuid.UUID | None = None, *,
                     lock: bool = False) -> asyncpg.Record | None:
    """One invitation (of this PEP, when `pep_id` is given), with who sent it; `lock` holds it."""
    return await conn.fetchrow(_LIST + "WHERE v.id = $1 AND ($2::uuid IS NULL OR v.pep_id = $2)"
                               + (" FOR UPDATE OF v" if lock else ""), invitation_id, pep_id)


async def create(conn: asyncpg.Connection, pep: asyncpg.Record, section_key: str, given_name: str, email: str,
                 question_set: str | None, days: int, by: uuid.UUID, correlation_id: str) -> uuid.UUID:
    """A new invitation, announced with its link's token so notify can email it (the token is kept hashed)."""
    token = rules.new_token()
    invitation_id = uuid.uuid4()
    row = await conn.fetchrow(
        "INSERT INTO views_invitations (id, pep_id, child_id, la_id, section_key, audience, given_name, email, "
        "question_set, token_hash, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "now() + make_interval(days => $11), $12) RETURNING *", invitation_id, pep["id"], pep["child_id"],
        pep["la_id"], section_key, rules.AUDIENCES[section_key], given_name, email, question_set,
        rules.token_hash(token), days, by)
    child = await conn.fetchrow("SELECT given_name, family_name FROM children WHERE id = $1", pep["child_id"])
    inviter = await conn.fetchval("SELECT given_name || ' ' || family_name FROM users WHERE id = $1", by)
    await add_event(conn, "pep", ViewsInvitationSent(
        invitation_id=invitation_id, pep_id=pep["id"], child_id=pep["child_id"], la_id=pep["la_id"],
        audience=row["audience"], email=row["email"], given_name=row["given_name"],
        child_name=rules.child_short_name(child["given_name"], child["family_name"]), invited_by_name=inviter or "",
        token=token, expires_at=row["expires_at"]), tenant=str(pep["la_id"]), correlation_id=correlation_id)
    return invitation_id


async def revoke(conn: asyncpg.Connection, invitation_id: uuid.UUID, by: uuid.UUID) -> None:
    """Revoked once (a second revoke keeps the first's time and person). Its sessions stop working at once (every
    session call checks its invitation is open), but are kept until they run out, so a form left open says
    plainly that the invitation has ended rather than asking for a code the link can no longer send."""
    await conn.execute("UPDATE views_invitations SET revoked_at = coalesce(revoked_at, now()), "
                       "revoked_by = coalesce(revoked_by, $2) WHERE id = $1", invitation_id, by)


# ---- the invited person -------------------------------------------------------------------------------------


async def by_token(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> asyncpg.Record | None:
    """The invitation a link's token is for, with its PEP's status."""
    return await conn.fetchrow(
        _WITH_PEP + "FROM views_invitations v JOIN peps p ON p.id = v.pep_id WHERE v.token_hash = $1"
        + (" FOR UPDATE OF v" if lock else ""), rules.token_hash(token))


async def by_session(conn: asyncpg.Connection, token: str, *, lock: bool = False) -> asyncpg.Record | None:
    """The invitation a session that has not ended is for, with its PEP's status."""
    return await conn.fetchrow(
        _WITH_PEP + "FROM views_sessions s JOIN views_invitations v ON v.id = s.invitation_id "
        "JOIN peps p ON p.id = v.pep_id WHERE s.token_hash = $1 AND s.expires_at > now()"
        + (" FOR UPDATE OF v" if lock else ""), rules.token_hash(token))


async def end_session(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """I have finished: the session ends now, on the server (its cookie opens nothing again). Returns its
    invitation, for the access log (None when the session had already ended)."""
    invitation_id = await conn.fetchval("DELETE FROM views_sessions WHERE token_hash = $1 AND expires_at > now() "
                                        "RETURNING invitation_id", rules.token_hash(token))
    if invitation_id is None:
        return None
    return await conn.fetchrow("SELECT * FROM views_invitations WHERE id = $1", invitation_id)


# Who gave this section's views by invitation (each invitation whose person saved), with their question set,
# every question they answered and when they last saved, from the section's history: first given first.
_GIVEN = ("SELECT v.given_name AS name, v.audience, v.question_set, max(h.saved_at) AS last_saved_at, "
          "array(SELECT DISTINCT k FROM section_history h2, unnest(h2.changed) k WHERE h2.pep_id = $1 "
          "AND h2.section_key = $2 AND h2.saved_by = v.id ORDER BY k) AS answered "
          "FROM section_history h JOIN views_invitations v ON v.id = h.saved_by "
          "WHERE h.pep_id = $1 AND h.section_key = $2 GROUP BY v.id")
# The same as one value inside pep_store.gathered (its $1 the PEP, $2 the section), a list of objects.
GIVEN_JSON = (f"SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY g.first_saved_at), '[]') FROM "
              f"({_GIVEN.replace(' AS answered ', ' AS answered, min(h.saved_at) AS first_saved_at ')}) g")


async def given(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str) -> list[asyncpg.Record]:
    """Who gave this section's views by invitation (_GIVEN)."""
    return await conn.fetch(_GIVEN + " ORDER BY min(h.saved_at)", pep_id, key)


async def audit(conn: asyncpg.Connection, invitation: asyncpg.Record, method: str, endpoint: str,
                request_id: str | None, address: str | None) -> None:
    """Every use of an invitation, in the child's access log: who was invited stands where a user would."""
    await conn.execute(
        "INSERT INTO access_log (user_id, via, la_id, child_id, pep_id, method, endpoint, section_key, request_id, "
        "address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", invitation["id"],
        f"invited_{invitation['audience']}", invitation["la_id"], invitation["child_id"], invitation["pep_id"],
        method, endpoint, invitation["section_key"], request_id, address)


async def in_codes_window(conn: asyncpg.Connection, invitation: asyncpg.Record) -> bool:
    """Whether the hour in which codes are counted, begun by an earlier code, is still running."""
    return invitation["codes_window_at"] is not None and bool(await conn.fetchval(
        "SELECT $1 > now() - interval '1 hour'", invitation["codes_window_at"]))


async def issue_code(conn: asyncpg.Connection, invitation: asyncpg.Record, key_id: str, code_hmac: bytes,
                     display_code: str, ttl_seconds: float, in_window: bool, correlation_id: str) -> datetime:
    """A new code replaces the old (its tries start again); counted in the hour's window; announced so notify
    emails it. Returns when it stops working."""
    expires_at: datetime = await conn.fetchval(
        "UPDATE views_invitations SET code_hmac = $2, code_key_id = $3, code_tries = 0, code_used_at = NULL, "
        "code_expires_at = now() + make_interval(secs => $4), "
        "codes_sent = CASE WHEN $5 THEN codes_sent + 1 ELSE 1 END, "
        "codes_window_at = CASE WHEN $5 THEN codes_window_at ELSE now() END WHERE id = $1 "
        "RETURNING code_expires_at", invitation["id"], code_hmac, key_id, ttl_seconds, in_window)
    await add_event(conn, "pep", ViewsCodeIssued(
        invitation_id=invitation["id"], la_id=invitation["la_id"], email=invitation["email"],
        given_name=invitation["given_name"], code=display_code, expires_at=expires_at),
        tenant=str(invitation["la_id"]), correlation_id=correlation_id)
    return expires_at


async def code_expired(conn: asyncpg.Connection, invitation: asyncpg.Record) -> bool:
    """Whether its code has run out of time, by the database's clock."""
    return invitation["code_expires_at"] is not None and bool(await conn.fetchval(
        "SELECT $1 <= now()", invitation["code_expires_at"]))


async def wrong_code(conn: asyncpg.Connection, invitation_id: uuid.UUID) -> None:
    await conn.execute("UPDATE views_invitations SET code_tries = code_tries + 1 WHERE id = $1", invitation_id)


async def start_session(conn: asyncpg.Connection, invitation: asyncpg.Record, session_token: str,
                        seconds: float) -> datetime:
    """A session for this invitation only (kept hashed), never outliving it; the code is used up."""
    expires_at: datetime = await conn.fetchval(
        "INSERT INTO views_sessions (token_hash, invitation_id, expires_at) VALUES ($1, $2, "
        "least(now() + make_interval(secs => $3), $4)) RETURNING expires_at", rules.token_hash(session_token),
        invitation["id"], seconds, invitation["expires_at"])
    await conn.execute("UPDATE views_invitations SET code_used_at = now(), last_used_at = now() WHERE id = $1",
                       invitation["id"])
    return expires_at


async def section_answers(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str) -> asyncpg.Record:
    """The section's answers, when they were last saved, its version and the carried answers still to check."""
    row = await conn.fetchrow("SELECT answers, updated_at, version, to_check FROM pep_sections WHERE pep_id = $1 AND "
                              "section_key = $2", pep_id, key)
    assert row is not None
    return row


async def answered(conn: asyncpg.Connection, invitation: asyncpg.Record, pep: asyncpg.Record) -> None:
    """After a save by invitation: the PEP is in progress, and the invitation was used now."""
    if pep["status"] == "created":
        await conn.execute("UPDATE peps SET status = 'in_progress', updated_at = now() WHERE id = $1", pep["id"])
    await conn.execute("UPDATE views_invitations SET last_used_at = now() WHERE id = $1", invitation["id"])
