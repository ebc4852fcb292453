"""A child's record as the caller may reach it: every endpoint about a child starts here.

Whether a caller reaches a child at all is `domain.access.access_to`, the one rule; a child they don't
reach answers 404 exactly as a child that does not exist. Changing core data is narrower: the child's
LA's Virtual School (admin, caseworker) or the allocated social worker. Someone who can read a child but
not change its core data gets 403, since they already know the child is there.
"""

from __future__ import annotations

import uuid

import asyncpg

from services.pep import children_store, reached
from services.pep.domain.access import Access, ChildRef, access_to
from shared.authz import not_found, roles_at
from shared.errors import Problem
from shared.internal_auth import Claims

CORE_DATA_EDITORS = frozenset({"vs_admin", "vs_caseworker"})


def ref_of(row: asyncpg.Record) -> ChildRef:
    return ChildRef(id=str(row["id"]), la_id=str(row["la_id"]),
                    setting_id=str(row["setting_id"]) if row["setting_id"] else None,
                    social_worker_id=str(row["social_worker_id"]) if row["social_worker_id"] else None,
                    iro_id=str(row["iro_id"]) if row["iro_id"] else None,
                    carer_ids=frozenset(str(c) for c in row["carer_ids"] or ()))


def as_uuid(value: uuid.UUID | str, what: str = "child") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(what) from None


async def child_or_404(conn: asyncpg.Connection, claims: Claims, child_id: uuid.UUID | str,
                       *, lock: bool = False) -> tuple[asyncpg.Record, Access]:
    """The child's row and how the caller reaches it; 404 if the child is not there or not theirs.
    `lock` takes the row lock (FOR UPDATE) for a change; use it inside a transaction."""
    return reach(claims, await children_store.child(conn, as_uuid(child_id), lock=lock))


def reach(claims: Claims, row: asyncpg.Record | None) -> tuple[asyncpg.Record, Access]:
    """How the caller reaches this child's row, read by whatever query (None: not there); 404 if they don't."""
    access = access_to(claims, ref_of(row)) if row is not None else None
    if row is None or access is None:
        raise not_found("child")
    reached.note(row, access.via)
    return row, access


def may_edit_core_data(claims: Claims, row: asyncpg.Record) -> bool:
    if claims.is_service:
        return False
    if roles_at(claims, str(row["la_id"])) & CORE_DATA_EDITORS:
        return True
    return row["social_worker_id"] is not None and str(row["social_worker_id"]) == claims.sub \
        and "social_worker" in roles_at(claims, str(row["la_id"]))


def may_move(claims: Claims, row: asyncpg.Record) -> bool:
    """Changing a child's school, placement and the people allocated is the LA's Virtual School's (admin,
    caseworker): it moves the child between settings' Designated Teachers."""
    return not claims.is_service and bool(roles_at(claims, str(row["la_id"])) & CORE_DATA_EDITORS)


async def movable_child_or_404(conn: asyncpg.Connection, claims: Claims, child_id: uuid.UUID | str,
                               *, lock: bool = True) -> tuple[asyncpg.Record, Access]:
    """As child_or_404, and the caller may move the child (403 if they may only read the record)."""
    row, access = await child_or_404(conn, claims, child_id, lock=lock)
    if not may_move(claims, row):
        raise Problem(403, "You cannot change this child's school or placement", "Ask the child's Virtual School "
                      "to make the change.", code="forbidden")
    return row, access


async def editable_child_or_404(conn: asyncpg.Connection, claims: Claims, child_id: uuid.UUID | str,
                                *, lock: bool = True) -> tuple[asyncpg.Record, Access]:
    """As child_or_404, and the caller may change the child's core data (403 if they may only read it)."""
    row, access = await child_or_404(conn, claims, child_id, lock=lock)
    if not may_edit_core_data(claims, row):
        raise Problem(403, "You cannot change this child's record", "Ask the child's Virtual School or social "
                      "worker to make the change.", code="forbidden")
    return row, access
