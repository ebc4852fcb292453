"""`make chaos` works from a clone in a private directory (a home directory under /root is mode 700): the
private Postgres and RabbitMQ keep their files where the users they run as can reach them, outside the clone,
and the run's record and logs still end up in the clone's var/chaos. Fast: Postgres is started and stopped
once, RabbitMQ is only prepared (its boot is what `make chaos` itself shows)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.chaos.infra import PrivatePostgres, PrivateRabbit, clear

pytestmark = pytest.mark.skipif(not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")),
                                reason="no PostgreSQL server binaries on this machine")


def private_clone(tmp_path: Path) -> Path:
    """var/chaos of a clone whose home only its owner may enter."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    var = home / "epep" / "var" / "chaos"
    var.mkdir(parents=True)
    return var


def reachable(user: str, test: str, path: Path) -> bool:
    """What `user` (the server's user when this runs as root; otherwise whoever runs it) may do to `path`."""
    argv = ["test", test, str(path)]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, check=False).returncode == 0


def test_private_postgres_runs_from_a_clone_in_a_private_directory(tmp_path: Path) -> None:
    var = private_clone(tmp_path)
    pg = PrivatePostgres(var / "pg")
    try:
        pg.start()
        assert pg.running()
        assert var not in pg.home.parents, "the data are outside the clone"
        assert pg.home.stat().st_mode & 0o777 == 0o700
        if os.geteuid() == 0:
            assert pg.home.owner() == "postgres" and pg.data.owner() == "postgres"
        assert asyncio.run(_select_one(pg.port)) == 1
        pg.restart("immediate")  # as the run does: a crash, then recovery from the same files
        assert asyncio.run(_select_one(pg.port)) == 1
    finally:
        pg.stop()
        pg.remove()
    assert not pg.home.exists(), "the private directory goes when the run ends"
    assert "database system is ready" in (var / "pg" / "server.log").read_text(), "its log is kept in the clone"


async def _select_one(port: int) -> int:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def test_private_rabbit_files_are_where_the_rabbitmq_user_reaches_them(tmp_path: Path) -> None:
    var = private_clone(tmp_path)
    rabbit = PrivateRabbit(var / "rabbit")
    try:
        rabbit.prepare()
        env = rabbit.env()
        for name in ("RABBITMQ_CONFIG_FILE", "RABBITMQ_CONF_ENV_FILE", "RABBITMQ_ENABLED_PLUGINS_FILE"):
            assert reachable("rabbitmq", "-r", Path(env[name])), f"{name} {env[name]} unreadable by rabbitmq"
        for name in ("RABBITMQ_MNESIA_BASE", "RABBITMQ_LOG_BASE"):
            assert reachable("rabbitmq", "-w", Path(env[name])), f"{name} {env[name]} unwritable by rabbitmq"
        assert reachable("rabbitmq", "-w", Path(env["RABBITMQ_PID_FILE"]).parent)
        assert all(var not in Path(env[name]).parents for name in env if name.startswith("RABBITMQ_") and "/" in
                   env[name]), "nothing of the node's is inside the clone"
    finally:
        rabbit.remove()
    assert not rabbit.home.exists()


def test_a_run_killed_half_way_leaves_nothing_behind_for_long(tmp_path: Path) -> None:
    """The next run of the same clone removes the private directories a killed run could not."""
    var = private_clone(tmp_path)
    rabbit = PrivateRabbit(var / "rabbit")
    rabbit.prepare()  # and the run is killed: remove() never comes
    assert rabbit.home.exists()
    clear(var / "rabbit")
    assert not rabbit.home.exists() and not (var / "rabbit").exists()
