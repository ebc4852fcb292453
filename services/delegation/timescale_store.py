"""An LA's timescale configuration in delegation's schema: one row per version, never changed once written."""

from __future__ import annotations

import uuid
from dataclasses import asdict

import asyncpg

from services.delegation.domain.timescales import Change, Timescales, from_json, to_json

_WITH_NAME = ("SELECT v.*, nullif(trim(coalesce(u.given_name, '') || ' ' || coalesce(u.family_name, '')), '') "
              "AS changed_by_name FROM timescale_versions v LEFT JOIN users u ON u.id = v.changed_by ")


class VersionConflict(Exception):
    """Someone saved a newer version first."""


async def current(conn: asyncpg.Connection, la_id: uuid.UUID) -> tuple[Timescales, asyncpg.Record | None]:
    """The LA's configuration now, and its row (None while the LA keeps the defaults)."""
    row = await conn.fetchrow(_WITH_NAME + "WHERE v.la_id = $1 ORDER BY v.version DESC LIMIT 1", la_id)
    if row is None:
        return Timescales(), None
    return from_json(row["config"]), row


async def history(conn: asyncpg.Connection, la_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(_WITH_NAME + "WHERE v.la_id = $1 ORDER BY v.version DESC", la_id)


async def save(conn: asyncpg.Connection, la_id: uuid.UUID, config: Timescales, changes: list[Change],
               by: uuid.UUID, note: str | None) -> None:
    """Insert `config` as its version; VersionConflict if that version exists already."""
    try:
        await conn.execute(
            "INSERT INTO timescale_versions (la_id, version, config, changes, note, changed_by) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            la_id, config.version, to_json(config), [asdict(c) for c in changes], note, by)
    except asyncpg.UniqueViolationError:
        raise VersionConflict from None
