"""What notify holds about a child. In a subject access export: the emails sent about them (to whom, which,
when, whether delivered; not the content kept for resending). When the child's retention ends: its read
models of the child and their PEPs' meetings and ratings go, waiting digest items about them go, and each
email about the child (found by the PEP or child id its kept content links to, or by the child's name in its
subject) keeps only that it was sent, to whom and when: its subject is replaced, its kept content dropped."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.contracts import ChildErased
from shared.erasure import erasure_subscription, rows, subject_access_routes

# Emails about a child: what they kept links to the child or one of their PEPs, or the subject names the child.
ABOUT = ("(EXISTS (SELECT 1 FROM unnest($2::text[]) i WHERE strpos(payload::text, i) > 0) "
         "OR ($3::text IS NOT NULL AND strpos(subject, $3) > 0))")
ERASED_SUBJECT = "(about a child whose records were erased at the end of their retention)"


async def _erase(conn: asyncpg.Connection, data: ChildErased) -> int:
    ids = [str(data.child_id), *(str(p) for p in data.pep_ids)]
    child = await conn.fetchrow("SELECT given_name, family_name FROM children WHERE id = $1", data.child_id)
    name = f"{child['given_name']} {child['family_name']}" if child else None
    emails = await conn.fetchval(
        "WITH hit AS (UPDATE deliveries SET subject = $4, payload = NULL, updated_at = now() "
        f"WHERE tenant = $1 AND {ABOUT} RETURNING 1) SELECT count(*) FROM hit",
        str(data.la_id), ids, name, ERASED_SUBJECT)
    await conn.execute('DELETE FROM digest_items WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) i '
                       'WHERE strpos("values"::text, i) > 0) '
                       'OR ($2::text IS NOT NULL AND strpos("values"::text, $2) > 0)',
                       ids, name)
    await conn.execute("DELETE FROM meeting_reminders WHERE pep_id = ANY($1::uuid[])", data.pep_ids)
    await conn.execute("DELETE FROM meeting_versions WHERE pep_id = ANY($1::uuid[]) OR child_id = $2",
                       data.pep_ids, data.child_id)
    await conn.execute("DELETE FROM pep_ratings WHERE pep_id = ANY($1::uuid[])", data.pep_ids)
    await conn.execute("DELETE FROM children WHERE id = $1", data.child_id)
    await conn.execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND (envelope -> 'data' ->> 'child_id' "
                       "= $1 OR envelope -> 'data' ->> 'pep_id' = ANY($2::text[]))", str(data.child_id), ids)
    return int(emails)


subscription = erasure_subscription("notify", _erase)


async def _held(conn: asyncpg.Connection, child_id: uuid.UUID, pep_ids: list[uuid.UUID],
                la_ids: list[uuid.UUID]) -> dict[str, Any]:
    child = await conn.fetchrow("SELECT given_name, family_name FROM children WHERE id = $1", child_id)
    name = f"{child['given_name']} {child['family_name']}" if child else None
    return {"emails": rows(await conn.fetch(
        "SELECT id, recipient, template, subject, status, attempts, created_at, sent_at FROM deliveries "
        f"WHERE tenant = ANY($1::text[]) AND {ABOUT} ORDER BY created_at",
        [str(la) for la in la_ids], [str(child_id), *(str(p) for p in pep_ids)], name))}


routes = subject_access_routes("notify", _held)
