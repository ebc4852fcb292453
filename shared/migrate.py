"""Numbered SQL migrations per service, run by `python -m services.<name> migrate`.

Runs as the admin login: creates the service's role and schema where it has the rights, then applies
the shared bus migrations and the service's own, in order, each in a transaction, under an advisory
lock (so replicas starting together don't race) with a lock timeout (so a stuck lock fails loudly).
The service role gets data rights on its own schema only; it owns nothing, so it cannot alter tables.

Two marks, each a comment line at the top of a migration file:

- `-- no-transaction`: its statements run one by one outside a transaction, so that `CREATE INDEX CONCURRENTLY`
  (which Postgres refuses inside one) builds an index on a large table without blocking its writes. Plain
  statements only, each ending with `;` at the end of a line (no function bodies). A failure part-way leaves
  the statements before it done (and a concurrent index build that failed leaves an INVALID index), and the
  migration is not recorded, so it runs again whole next time: write it to be safe to repeat
  (`DROP INDEX CONCURRENTLY IF EXISTS` first, `IF NOT EXISTS`).
- `-- replaces: <sha256>`: this file was rewritten from an earlier text with that checksum, to the same effect
  (say, made concurrent). Where the earlier text was applied, the new one is accepted without running again and
  its checksum recorded; any other change to an applied migration still fails loudly.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from pathlib import Path

import asyncpg

from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_NO_TRANSACTION = "-- no-transaction"
_REPLACES = re.compile(r"^-- replaces: ([0-9a-f]{64})\s*$", re.MULTILINE)


def _header(sql: str) -> list[str]:
    """The comment lines the file starts with (its marks live there)."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.rstrip())
    return lines


def runs_outside_a_transaction(sql: str) -> bool:
    return _NO_TRANSACTION in _header(sql)


def replaced_checksums(sql: str) -> set[str]:
    return set(_REPLACES.findall("\n".join(_header(sql))))


def statements(sql: str) -> list[str]:
    """A no-transaction migration's statements: comment lines dropped, split at each `;` that ends a line (sent
    one by one: several in one query string would run in one implicit transaction)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    found = [part.strip() for part in re.split(r";[ \t]*$", body, flags=re.MULTILINE)]
    if "$$" in body:
        raise RuntimeError("a no-transaction migration holds plain statements only (no $$ bodies)")
    return [part for part in found if part]


def _migration_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob("*.sql") if _NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers in {folder}")
    return files


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a safe identifier: {name!r}")
    return f'"{name}"'


async def ensure_database(settings: ServiceSettings) -> None:
    """Create the database itself if it is missing (local runs and test runs)."""
    conn = await asyncpg.connect(settings.admin_dsn("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", settings.pg_database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process won the race
                await conn.execute(f"CREATE DATABASE {_ident(settings.pg_database)}")
    finally:
        await conn.close()


async def _ensure_role(settings: ServiceSettings, role: str, password: str) -> None:
    """The service's login role, with its password. Roles are cluster-wide: two databases on one server (two test
    runs, or two environments) share them, and Postgres refuses two concurrent changes to one role ("tuple
    concurrently updated"). An advisory lock is per database, so the lock is taken in the `postgres` database,
    which every process migrating on this server shares."""
    conn = await asyncpg.connect(settings.admin_dsn("postgres"))
    try:
        await conn.execute("SET lock_timeout = '15s'")
        digest = hashlib.sha256(f"epep-role-{role}".encode()).digest()
        lock_key = int.from_bytes(digest[:8], "big", signed=True)
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            with contextlib.suppress(asyncpg.UniqueViolationError):
                await conn.execute(
                    f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
                    f"CREATE ROLE {_ident(role)} LOGIN; END IF; END $$"
                )
            await conn.execute(f"ALTER ROLE {_ident(role)} LOGIN PASSWORD {_literal(password)}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await conn.close()


async def migrate(settings: ServiceSettings, service: str, folder: Path,
                  shared_sets: tuple[str, ...] = ("bus",)) -> list[str]:
    role, schema = settings.role_name(service), service
    password = settings.db_password.get_secret_value() or f"{role}-dev"
    conn = await asyncpg.connect(settings.admin_dsn())
    applied: list[str] = []
    try:
        await conn.execute("SET lock_timeout = '15s'")
        digest = hashlib.sha256(f"epep-migrate-{schema}".encode()).digest()
        lock_key = int.from_bytes(digest[:8], "big", signed=True)
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            can_create_roles = await conn.fetchval(
                "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
            )
            if can_create_roles:
                await _ensure_role(settings, role, password)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(schema)} FROM PUBLIC")
            await conn.execute(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {_ident(role)}")
            # No service role may touch the public schema either.
            await conn.execute(f"REVOKE ALL ON SCHEMA public FROM {_ident(role)}")
            # Tables the admin creates here give the role data rights (not ownership), so a migration can
            # still REVOKE later (an append-only audit table) and that revoke sticks.
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} "
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {_ident(role)}"
            )
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} "
                f"GRANT USAGE, SELECT ON SEQUENCES TO {_ident(role)}"
            )
            await conn.execute(f"SET search_path = {_ident(schema)}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " source text NOT NULL, version text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, version))"
            )
            await conn.execute(f"REVOKE ALL ON schema_migrations FROM {_ident(role)}")
            rows = await conn.fetch("SELECT source, version, checksum FROM schema_migrations")
            done = {(r["source"], r["version"]): r["checksum"] for r in rows}
            sources = [(f"shared/{name}", _migration_files(SHARED_MIGRATIONS / name)) for name in shared_sets]
            for source, files in [*sources, (service, _migration_files(folder))]:
                for path in files:
                    sql = path.read_text()
                    checksum = hashlib.sha256(sql.encode()).hexdigest()
                    key = (source, path.name[:4])
                    if key in done:
                        if done[key] == checksum:
                            continue
                        if done[key] not in replaced_checksums(sql):
                            raise RuntimeError(f"migration {source}/{path.name} changed after it was applied")
                        # Rewritten to the same effect (it says so): the applied text stands for it.
                        await conn.execute("UPDATE schema_migrations SET checksum = $3 "
                                           "WHERE source = $1 AND version = $2", source, path.name[:4], checksum)
                        log.info("migration rewritten, already applied", extra={
                            "service": service, "migration": path.name, "source": source})
                        continue
                    record = ("INSERT INTO schema_migrations (source, version, checksum) VALUES ($1, $2, $3)",
                              source, path.name[:4], checksum)
                    if runs_outside_a_transaction(sql):
                        for statement in statements(sql):
                            await conn.execute(statement)
                        await conn.execute(*record)
                    else:
                        async with conn.transaction():
                            await conn.execute(sql)
                            await conn.execute(*record)
                    applied.append(f"{source}/{path.name}")
                    log.info("migration applied", extra={"service": service, "migration": path.name, "source": source})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await conn.close()
    return applied


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
