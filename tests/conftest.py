"""The test system: every service as a real process on real Postgres and RabbitMQ.

Each run gets its own database and RabbitMQ vhost (or, without rabbitmqctl, a name prefix) and free ports,
so runs never collide with each other or with a developer's `make run`. Services reach RabbitMQ through a
proxy the tests can cut, to show what happens when the broker goes away. The SMTP server is our own
development mail sink, the stand-in for the outside world's mail servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from deploy.local.system import DEFAULT_PORTS, LocalSystem, free_port
from tests.support.mailbox import Mailbox
from tests.support.tcp_proxy import TcpProxy

PG_HOST = os.environ.get("EPEP_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("EPEP_PG_PORT", "5432"))
AMQP_HOST, AMQP_PORT = "127.0.0.1", int(os.environ.get("EPEP_AMQP_PORT", "5672"))
RUN_ID = secrets.token_hex(4)
# Short retry delays, so tests of a mail server or broker being away finish in seconds.
FAST_RETRIES = "[0.2, 0.5, 1, 1, 2, 2, 3, 3, 5, 5, 5, 5]"


def _rabbitmqctl(*args: str) -> bool:
    if not shutil.which("rabbitmqctl"):
        return False
    # A broker whose vhost operations are wedged (seen with many test sessions on one RabbitMQ 3.10 creating and
    # deleting vhosts at once) must not hang the session for ever: a session without its own vhost uses a prefix.
    try:
        return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass
class RunningSystem:
    local: LocalSystem
    proxy: TcpProxy
    mailbox: Mailbox
    admin_dsn: str

    @property
    def gateway_url(self) -> str:
        return self.local.url("gateway")

    @property
    def portal_url(self) -> str:
        return self.local.url("portal")

    def admin_sql(self, sql: str, *args: Any) -> Any:
        async def run() -> Any:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                return await conn.fetch(sql, *args)
            finally:
                await conn.close()
        return asyncio.run(run())

    def sign_in(self, email: str, password: str = "demo-pass-2026") -> str:
        """Sign in through the API with the emailed code; the session cookie to send back."""
        since = time.time()
        status, body, _ = self.api("POST", "/api/v1/auth/sign-in", {"email": email, "password": password})
        assert status == 202, body
        code = self.mailbox.wait_for_code(email, since)
        status, body, headers = self.api("POST", "/api/v1/auth/sign-in/verify",
                                         {"attempt_id": body["attempt_id"], "code": code})
        assert status == 200, body
        return headers["Set-Cookie"].split(";")[0]

    def api(self, method: str, path: str, body: Any = None, cookie: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {}), **(headers or {})}
        req = urllib.request.Request(self.gateway_url + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None, dict(exc.headers)


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    var = tmp_path_factory.mktemp("var")
    proxy = TcpProxy(AMQP_HOST, AMQP_PORT).start()
    vhost = f"epep_test_{RUN_ID}"
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        amqp_url, prefix = f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}", ""
    else:
        vhost, amqp_url, prefix = "", f"amqp://guest:guest@127.0.0.1:{proxy.port}/", f"t{RUN_ID}."
    local = LocalSystem(
        var=var, ports={name: free_port() for name in DEFAULT_PORTS}, database=f"epep_test_{RUN_ID}",
        pg_host=PG_HOST, pg_port=PG_PORT, amqp_url=amqp_url, bus_prefix=prefix, environment="test",
        # Small pools: a test run shares Postgres's connections with anything else on the machine.
        extra_env={"EPEP_DB_POOL_MAX": "4"},
        # Delegation's PEP clock prompts on the real clock only as it starts, not every few minutes: emails about
        # the children other tests make (10,000 of them for the dashboard) would otherwise arrive in the middle of
        # their counts. Prompt tests run replicas on a clock file with their own interval (test_prompts.py).
        service_env={"notify": {"EPEP_BUS_RETRY_DELAYS": FAST_RETRIES},
                     "delegation": {"EPEP_PROMPT_INTERVAL_SECONDS": "86400"}})
    admin = f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}"
    try:
        local.migrate()
        local.seed_demo()
        local.start_all()
        yield RunningSystem(local, proxy, Mailbox(local.maildir), f"{admin}/{local.database}")
    finally:
        local.stop_all()
        proxy.close()
        asyncio.run(drop_database(f"{admin}/postgres", local.database))
        if vhost:
            _rabbitmqctl("delete_vhost", vhost)


async def drop_database(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def module_database(prefix: str) -> Any:
    """A fixture naming a database of the module's own (`<prefix>_<run id>`), dropped after its last test:
    `database = module_database("epep_life")` in the module."""
    @pytest.fixture(scope="module")
    def database() -> Iterator[str]:
        name = f"{prefix}_{RUN_ID}"
        yield name
        asyncio.run(drop_database(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres", name))
    return database


@pytest.fixture
def now() -> float:
    """Unix time at the start of a test, to find only the emails it caused."""
    return time.time()
