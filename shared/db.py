"""Postgres: a pool per service, connected as the service's own role to its own schema."""

from __future__ import annotations

import json

import asyncpg

from shared.settings import ServiceSettings


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: ServiceSettings, service: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.service_dsn(service),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        max_inactive_connection_lifetime=settings.db_pool_idle_seconds,
        init=_init_connection,
        server_settings={"search_path": service, "application_name": f"epep-{service}"},
    )
    assert pool is not None
    return pool


async def connect(settings: ServiceSettings, service: str) -> asyncpg.Connection:
    """A single connection as the service's role (LISTEN, one-off commands)."""
    conn = await asyncpg.connect(
        settings.service_dsn(service),
        server_settings={"search_path": service, "application_name": f"epep-{service}-single"},
    )
    await _init_connection(conn)
    return conn
