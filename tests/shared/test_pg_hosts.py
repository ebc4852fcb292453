"""EPEP_PG_HOSTS, the multi-host database address: parsed and checked at start, turned into addresses that take the
node accepting writes, and the errors a failover shows a request answered 503 with Retry-After. Real Postgres (the
machine's, a primary) and real aiohttp servers; the failover itself is tests/system/test_pg_failover.py."""

from __future__ import annotations

import contextlib

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from deploy.local.system import free_port
from shared.settings import ServiceSettings, parse_hosts
from shared.web import problem_middleware, request_id_middleware
from tests.conftest import PG_HOST, PG_PORT


def test_one_host_is_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPEP_PG_HOSTS", raising=False)
    monkeypatch.setenv("EPEP_PG_HOST", "db.internal")
    monkeypatch.setenv("EPEP_PG_PORT", "6543")
    settings = ServiceSettings()
    assert settings.service_dsn("pep") == "postgresql://epep_pep:epep_pep-dev@db.internal:6543/epep"
    assert settings.admin_dsn("postgres") == "postgresql://postgres@db.internal:6543/postgres"


def test_several_hosts_take_the_one_that_accepts_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPEP_PG_HOSTS", " 10.0.0.5:5432, pg-b.internal:5433 ,[::1]:5434")
    monkeypatch.setenv("EPEP_PG_HOST", "ignored.internal")
    settings = ServiceSettings()
    hosts = "10.0.0.5:5432,pg-b.internal:5433,[::1]:5434"
    assert settings.service_dsn("qa") == \
        f"postgresql://epep_qa:epep_qa-dev@{hosts}/epep?target_session_attrs=read-write"
    assert settings.admin_dsn() == f"postgresql://postgres@{hosts}/epep?target_session_attrs=read-write"
    assert parse_hosts(settings.pg_hosts) == [("10.0.0.5", 5432), ("pg-b.internal", 5433), ("[::1]", 5434)]


@pytest.mark.parametrize("value", ["10.0.0.5", "10.0.0.5:", ":5432", "10.0.0.5:0", "10.0.0.5:70000", "a:5432,,b:5432",
                                   "::1:5432", "10.0.0.5:54x", "user@10.0.0.5:5432", "10.0.0.5:5432/epep"])
def test_a_malformed_list_stops_the_service_naming_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EPEP_PG_HOSTS", value)
    with pytest.raises(ValidationError, match="EPEP_PG_HOSTS must be host:port pairs"):
        ServiceSettings()


async def test_a_host_that_is_down_is_passed_over() -> None:
    """The first host refuses connections (a stopped primary); the address still reaches the one that is up."""
    settings = ServiceSettings(pg_hosts=f"127.0.0.1:{free_port()},{PG_HOST}:{PG_PORT}")
    conn = await asyncpg.connect(settings.admin_dsn("postgres"))
    try:
        assert await conn.fetchval("SELECT NOT pg_is_in_recovery()") is True
    finally:
        await conn.close()


def _app(queries: list[str], dsn: str, *, in_transaction: bool = False) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction() if in_transaction else contextlib.nullcontext():
                for query in queries:
                    await conn.execute(query)
        finally:
            await conn.close()
        return web.json_response({})

    app = web.Application(middlewares=[request_id_middleware, problem_middleware])
    app.router.add_post("/save", handler)
    return app


ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres"


@pytest.mark.parametrize(("queries", "dsn"), [
    # A node that is read-only for a moment (a standby not yet promoted, a node being demoted).
    (["SET default_transaction_read_only = on", "CREATE SCHEMA epep_never_made"], ADMIN),
    # No host takes writes yet (only a standby answers): asyncpg's own error for it, from a real connection.
    (["SELECT 1"], f"{ADMIN}?target_session_attrs=read-only"),
], ids=["read-only node", "no primary yet"])
async def test_a_failover_in_progress_is_a_503_to_try_again(queries: list[str], dsn: str) -> None:
    async with TestClient(TestServer(_app(queries, dsn))) as client:
        resp = await client.post("/save")
        body = await resp.json()
    assert resp.status == 503 and body["code"] == "unavailable"
    assert resp.headers["Retry-After"] == "1"


async def test_the_primary_stopping_mid_transaction_is_a_503_not_a_500() -> None:
    """The server ends the connection inside a transaction (as a primary stopping for a failover does): the
    transaction's exit cannot roll back on the closed connection and asyncpg raises InterfaceError in place of the
    real error; that too is the database away."""
    app = _app(["SELECT pg_terminate_backend(pg_backend_pid())"], ADMIN, in_transaction=True)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/save")
        body = await resp.json()
    assert resp.status == 503 and body["code"] == "unavailable"
    assert resp.headers["Retry-After"] == "1"
