"""The migration runner on real Postgres: each migration in a transaction unless it says `-- no-transaction` (so an
index is built CONCURRENTLY, without blocking writes), and an applied migration may be rewritten only to the same
effect, saying which text it replaces."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.migrate import (
    _ensure_role,
    ensure_database,
    migrate,
    replaced_checksums,
    runs_outside_a_transaction,
    statements,
)
from shared.settings import ServiceSettings
from tests.conftest import PG_HOST, PG_PORT, module_database

SERVICE = "migratetest"
ROOT = Path(__file__).resolve().parents[2]

database = module_database("epep_migrate")


@pytest.fixture
async def settings(database: str) -> AsyncIterator[ServiceSettings]:
    s = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=database, environment="test")
    await ensure_database(s)
    admin = await asyncpg.connect(s.admin_dsn())
    await admin.execute(f"DROP SCHEMA IF EXISTS {SERVICE} CASCADE")
    await admin.close()
    yield s


async def admin(settings: ServiceSettings) -> asyncpg.Connection:
    conn = await asyncpg.connect(settings.admin_dsn())
    await conn.execute(f"SET search_path = {SERVICE}")
    return conn


def write(folder: Path, name: str, sql: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(sql)
    return path


async def test_a_no_transaction_migration_builds_its_index_concurrently_and_is_recorded(
        settings: ServiceSettings, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "0001_items.sql", "CREATE TABLE items (id bigint PRIMARY KEY, la_id int NOT NULL);\n"
                                    "INSERT INTO items SELECT n, n % 7 FROM generate_series(1, 1000) n;\n")
    write(folder, "0002_items_index.sql", "-- no-transaction\n-- why, in a comment; a second statement follows\n"
                                          "DROP INDEX CONCURRENTLY IF EXISTS items_la;\n"
                                          "CREATE INDEX CONCURRENTLY items_la\n  ON items (la_id, id);\n")
    assert await migrate(settings, SERVICE, folder, ()) == [f"{SERVICE}/0001_items.sql",
                                                            f"{SERVICE}/0002_items_index.sql"]
    conn = await admin(settings)
    try:
        valid = await conn.fetchval("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                    "WHERE c.relname = 'items_la'")
        assert valid is True
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE source = $1", SERVICE) == 2
    finally:
        await conn.close()
    assert await migrate(settings, SERVICE, folder, ()) == []  # once only

    # The same index built inside a transaction, as every unmarked migration is: Postgres refuses it.
    write(folder, "0003_again.sql", "CREATE INDEX CONCURRENTLY items_id ON items (id);\n")
    with pytest.raises(asyncpg.ActiveSQLTransactionError):
        await migrate(settings, SERVICE, folder, ())


async def test_writes_go_on_while_a_no_transaction_migration_waits_to_build_its_index(
        settings: ServiceSettings, tmp_path: Path) -> None:
    """What 'does not lock' means: with a transaction open on the table, a concurrent build waits for it without
    taking the lock a plain CREATE INDEX takes (SHARE, which would queue every write behind it)."""
    folder = tmp_path / "migrations"
    write(folder, "0001_items.sql", "CREATE TABLE items (id bigint PRIMARY KEY, la_id int NOT NULL);\n")
    await migrate(settings, SERVICE, folder, ())
    write(folder, "0002_items_index.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY items_la ON items (la_id);\n")
    open_txn, writer = await admin(settings), await admin(settings)
    try:
        await open_txn.execute("BEGIN; INSERT INTO items VALUES (1, 1)")  # an older transaction the build waits for
        building = asyncio.create_task(migrate(settings, SERVICE, folder, ()))
        await asyncio.sleep(1)
        assert not building.done()
        # Meanwhile other writes to the table go through at once.
        await asyncio.wait_for(writer.execute("INSERT INTO items VALUES (2, 2)"), timeout=5)
        await open_txn.execute("COMMIT")
        assert await asyncio.wait_for(building, timeout=30) == [f"{SERVICE}/0002_items_index.sql"]
    finally:
        await open_txn.close()
        await writer.close()


async def test_an_applied_migration_may_be_rewritten_only_saying_which_text_it_replaces(
        settings: ServiceSettings, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    first = "CREATE TABLE items (id bigint PRIMARY KEY);\nCREATE INDEX items_id_desc ON items (id DESC);\n"
    path = write(folder, "0001_items.sql", first)
    await migrate(settings, SERVICE, folder, ())

    path.write_text(first + "-- an edit\n")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(settings, SERVICE, folder, ())

    old = hashlib.sha256(first.encode()).hexdigest()
    rewritten = (f"-- no-transaction\n-- replaces: {old}\nCREATE TABLE IF NOT EXISTS items (id bigint PRIMARY KEY);\n"
                 "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id_desc ON items (id DESC);\n")
    path.write_text(rewritten)
    assert await migrate(settings, SERVICE, folder, ()) == []  # accepted, not run again
    conn = await admin(settings)
    try:
        assert await conn.fetchval("SELECT checksum FROM schema_migrations WHERE source = $1 AND version = '0001'",
                                   SERVICE) == hashlib.sha256(rewritten.encode()).hexdigest()
    finally:
        await conn.close()
    # From now on the rewritten text is the one checked.
    path.write_text(first)
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(settings, SERVICE, folder, ())


def test_statements_are_split_at_line_ends_and_function_bodies_refused() -> None:
    sql = "-- no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS a;\n-- comment; not a statement\nCREATE INDEX\n" \
          "  CONCURRENTLY a ON t (x);  \n"
    assert runs_outside_a_transaction(sql)
    assert statements(sql) == ["DROP INDEX CONCURRENTLY IF EXISTS a", "CREATE INDEX\n  CONCURRENTLY a ON t (x)"]
    assert not runs_outside_a_transaction("CREATE TABLE t (x int);\n-- no-transaction\n")  # only at the top
    with pytest.raises(RuntimeError):
        statements("-- no-transaction\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n")


def test_qa_s_dashboard_index_is_built_concurrently_and_replaces_the_text_already_applied() -> None:
    """qa's 0010 was first a plain CREATE INDEX; where that ran, its checksum is recorded, and the rewritten file
    names it, so those deployments carry on while new ones build the index without blocking writes."""
    path = ROOT / "services" / "qa" / "migrations" / "0010_dashboard_indexes.sql"
    sql = path.read_text()
    assert runs_outside_a_transaction(sql)
    assert statements(sql) == ["DROP INDEX CONCURRENTLY IF EXISTS reviews_la_pep",
                               "CREATE INDEX CONCURRENTLY reviews_la_pep ON reviews (la_id, pep_id, id)"]
    # sha256 of the file as commit 8665c9e added it (`git show 8665c9e:<path> | sha256sum`).
    assert replaced_checksums(sql) == {"60e5cb5a346a5291a22a6eb726221b3263680d377a07518adc9b4af7bcd2766e"}


async def test_two_runs_on_one_server_set_the_shared_role_at_once_without_a_catalogue_conflict(
        settings: ServiceSettings) -> None:
    """Roles are the server's, not a database's: two test runs (or environments) migrating on one Postgres both set
    a service's role. Unserialised, Postgres refuses one of two concurrent changes to a role ("tuple concurrently
    updated"): seen when two fresh-clone runs started side by side."""
    role = settings.role_name(SERVICE)
    await asyncio.gather(*(_ensure_role(settings, role, f"{role}-dev") for _ in range(12)))
    conn = await asyncpg.connect(settings.admin_dsn("postgres"))
    try:
        assert await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role)
    finally:
        await conn.close()
