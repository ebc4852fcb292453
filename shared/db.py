"""Postgres: a pool per service, connected as the service's own role to its own schema."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

import asyncpg

from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# The database went away under us (a restart, a failover, a dropped connection): worth trying again in a moment.
# During a failover a connection may also find no host that takes writes (the old primary stopped, the standby
# not yet promoted: TargetServerAttributeNotMatched) or, for a moment, land on a node that is read-only
# (ReadOnlySQLTransactionError): the primary is on its way, so these too are "try again", never a 500.
DATABASE_AWAY = (asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
                 asyncpg.exceptions.TooManyConnectionsError, asyncpg.exceptions.InternalClientError,
                 asyncpg.exceptions.TargetServerAttributeNotMatched, asyncpg.exceptions.ReadOnlySQLTransactionError,
                 ConnectionError)
# ...and the same seen from a connection or transaction already closed by it.
DATABASE_AWAY_OR_CLOSED = (*DATABASE_AWAY, asyncpg.InterfaceError)


def database_away(exc: BaseException) -> bool:
    """Whether a request failed because the database went away: one of DATABASE_AWAY, or asyncpg's complaint that
    the connection it left is closed. The second is what a request sees when the primary stops mid-transaction
    (a failover, a restart): `async with conn.transaction()` cannot roll back on the dropped connection and raises
    InterfaceError in place of the real error, which is kept as its context."""
    if isinstance(exc, DATABASE_AWAY):
        return True
    if not isinstance(exc, asyncpg.InterfaceError):
        return False
    cause = exc.__cause__ or exc.__context__
    return "connection is closed" in str(exc) or (cause is not None and database_away(cause))


async def until_database_back(work: Callable[[], Awaitable[T]], what: str, fields: dict[str, object], *,
                              retry_on: tuple[type[BaseException], ...] = DATABASE_AWAY_OR_CLOSED,
                              patience: float = 60.0) -> T:
    """`work` again and again (backing off to 5 s) while the database is away, for up to `patience` seconds:
    for recording something that has already happened elsewhere (an email sent, an action another service took),
    which must not be lost to a Postgres restart."""
    deadline, delay = time.monotonic() + patience, 0.2
    while True:
        try:
            return await work()
        except retry_on as exc:
            if time.monotonic() > deadline:
                raise
            log.warning(f"{what} not yet recorded; trying again", extra={**fields, "error": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class Statements:
    """How many statements (round trips to Postgres) one request has made so far, on any of its connections."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


STATEMENTS: ContextVar[Statements | None] = ContextVar("epep_db_statements", default=None)
POOLED: list[bool] = []  # holds True once this process has a pool (the gateway and portal never do)


def _count_statement(_: object) -> None:
    # asyncpg calls query loggers with call_soon, in a copy of the context the statement ran in: the request's.
    counted = STATEMENTS.get()
    if counted is not None:
        counted.n += 1


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    conn.add_query_logger(_count_statement)


async def create_pool(settings: ServiceSettings, service: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.service_dsn(service),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        max_inactive_connection_lifetime=settings.db_pool_idle_seconds,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"search_path": service, "application_name": f"epep-{service}"},
    )
    assert pool is not None
    POOLED[:] = [True]
    return pool


START_PATIENCE = 180.0  # longer than a Postgres restart or failover on a busy machine


async def create_pool_when_up(settings: ServiceSettings, service: str, patience: float = START_PATIENCE
                              ) -> asyncpg.Pool:
    """The pool, once the database answers. A replica started while Postgres restarts or fails over (a rolling
    deploy meeting a maintenance window; make chaos: a replica exited 1 when its first connection was refused)
    waits for it, not for someone to start it again; after `patience` seconds it gives up with the error."""
    deadline, delay = time.monotonic() + patience, 0.2
    while True:
        try:
            return await create_pool(settings, service)
        except (OSError, *DATABASE_AWAY_OR_CLOSED) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("database away while starting; trying again", extra={
                "service": service, "error": type(exc).__name__})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool, so no round trip for it (asyncpg's default sends
    `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after every use: one statement in two of
    a simple read's). The rule that makes this safe: pool connections keep no session state. Settings are `SET
    LOCAL`, advisory locks `pg_advisory_xact_lock`, cursors live in their transaction, and LISTEN has a connection
    of its own (`connect` below). An open transaction is still rolled back by the pool itself before this runs."""


async def connect(settings: ServiceSettings, service: str) -> asyncpg.Connection:
    """A single connection as the service's role (LISTEN, one-off commands)."""
    conn = await asyncpg.connect(
        settings.service_dsn(service),
        server_settings={"search_path": service, "application_name": f"epep-{service}-single"},
    )
    await _init_connection(conn)
    return conn
