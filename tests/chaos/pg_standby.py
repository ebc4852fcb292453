"""A Postgres primary and a synchronous streaming standby of the chaos run's own, on two free ports, that can fail
over and be rebuilt: what an operator runs instead of a single database node.

Each node is a PrivatePostgres (tests/chaos/infra.py): its files in a private directory outside the clone, run as
the postgres user. The standby is a `pg_basebackup` of the primary streaming through a physical replication slot;
the primary names it in `synchronous_standby_names` (with `synchronous_commit = on`), so a commit is acknowledged
only once the standby has flushed its WAL: an acknowledged write survives the loss of the primary.

While the standby is away (being rebuilt after a failover) the primary writes alone, as CloudNativePG does with
`dataDurability: preferred` (its self-healing synchronous replication): `synchronous_standby_names` is emptied so
writes go on instead of hanging until the standby returns, and set again as soon as the standby streams. The price
is paid by failover, not by writes: `failover()` refuses to promote a standby that is not streaming synchronously,
so a write acknowledged while the primary was alone can never be lost to a promotion. (A restart of the primary
leaves the setting alone: its standby reconnects within a second, and commits wait for it meanwhile.)

Services connect with both addresses and `target_session_attrs=read-write` (`admin_dsn`, EPEP_PG_HOSTS), so they
find whichever node is the primary with no change to their configuration.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg

from tests.chaos.infra import PrivatePostgres, _as_user, _wait, private_dir

# A standby reconnects this soon after its primary restarts (the default 5 s would hold every commit that long).
RETRY_INTERVAL = "500ms"


def _sql(port: int, query: str, *args: object) -> object:
    """One statement on one node, as the superuser; the first column of the first row."""
    async def run() -> object:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", timeout=10)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


class PostgresPair:
    """Two PrivatePostgres under `root` (root/node1, root/node2): node1 starts as the primary."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes = [PrivatePostgres(root / "node1"), PrivatePostgres(root / "node2")]
        self._primary = 0
        self.failovers = 0

    # ---- who is what ----------------------------------------------------------------------------

    @property
    def primary(self) -> PrivatePostgres:
        return self.nodes[self._primary]

    @property
    def standby(self) -> PrivatePostgres:
        return self.nodes[1 - self._primary]

    @property
    def hosts(self) -> list[tuple[str, int]]:
        """Both nodes' addresses, the current primary first."""
        return [("127.0.0.1", self.primary.port), ("127.0.0.1", self.standby.port)]

    def hosts_setting(self) -> str:
        """The value for EPEP_PG_HOSTS: both nodes in a fixed order (node1 first), whichever is the primary."""
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def admin_dsn(self, database: str) -> str:
        """A superuser address that reaches the current primary, whichever node it is."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.hosts)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def running(self) -> bool:
        return self.primary.running()

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """The primary (initdb on the first start), then the standby built from it, streaming synchronously.
        Starts only what is not running, so it also brings the pair back after a fault that went wrong half way
        (a standby with no data, say, is built again)."""
        if not self.primary.running():
            self.primary.start()
        if not self.standby.running():
            if not (self.standby.data / "PG_VERSION").exists():
                self._set_synchronous(False)
                self._build_standby()
            self.standby.start()
        self.await_streaming()

    def stop(self) -> None:
        # The standby first: a primary stopping fast waits for its walsenders, not the other way round.
        self._set_synchronous(False)
        for node in (self.standby, self.primary):
            node.stop()

    def remove(self) -> None:
        for node in self.nodes:
            node.remove()

    def restart(self, mode: str) -> None:
        """The postgres_restart fault, on whichever node is the primary now."""
        self.primary.restart(mode)

    def await_streaming(self, timeout: float = 60.0) -> None:
        """Until the standby streams from the primary as its synchronous standby (turning synchronous
        replication on once it does)."""
        name = self._name(self.standby)
        _wait(lambda: _sql(self.primary.port, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 "
                                              "AND state = 'streaming'", name) == 1,
              f"standby {name} not streaming from the primary", timeout)
        self._set_synchronous(True)
        _wait(lambda: _sql(self.primary.port, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1",
                           name) == "sync", f"standby {name} not synchronous", timeout)

    def failover(self) -> str:
        """Promote the standby and make the old primary its standby. The old primary is stopped first, so two
        writable primaries never exist at once (a promote-then-stop order would split the brain for a moment);
        with synchronous commit every acknowledged write is already on the standby. Returns what happened."""
        began = time.monotonic()
        self.await_streaming(timeout=30)  # never promote a standby that may be missing an acknowledged write
        old, new = self.primary, self.standby
        old.stop("fast")  # fenced: its walsenders send all WAL to the standby before it stops
        stopped = time.monotonic()
        self._pg_ctl(new, "promote", "-w", "-t", "60")
        _wait(lambda: _sql(new.port, "SELECT NOT pg_is_in_recovery()") is True, "promoted standby still in recovery",
              60)
        self._primary = 1 - self._primary
        promoted = time.monotonic()
        self._set_synchronous(False)  # alone while its new standby is rebuilt (see the class docstring)
        shutil.rmtree(old.data)
        self._build_standby()
        old.start()
        self.await_streaming()
        self.failovers += 1
        return (f"{self._name(new)} promoted {promoted - stopped:.1f}s after {self._name(old)} stopped; "
                f"{self._name(old)} rebuilt as its standby; {time.monotonic() - began:.1f}s in all")

    # ---- building a standby ---------------------------------------------------------------------

    def _build_standby(self) -> None:
        """pg_basebackup of the primary into the standby's data directory (its private directory made first if
        it has none), through a replication slot of the standby's name, with the recovery settings pg_basebackup -R
        would write plus the standby's name, so the primary can name it as its synchronous standby."""
        node, name = self.standby, self._name(self.standby)
        if not node.home.is_dir():
            node.home = private_dir(node.root, "postgres")
            node.data = node.home / "data"
        _sql(self.primary.port, "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
                                "WHERE slot_name = $1", name)
        result = subprocess.run(_as_user("postgres", [
            str(node.bin / "pg_basebackup"), "-D", str(node.data), "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-X", "stream", "-C", "-S", name, "-c", "fast", "--no-sync"]),
            capture_output=True, text=True, timeout=600, check=False)
        if result.returncode:
            raise RuntimeError(f"pg_basebackup into {node.data} failed: {result.stderr.strip()[-500:]}")
        auto = node.data / "postgresql.auto.conf"
        # The primary's synchronous_standby_names came along in the copy: a standby promoted with it would wait for
        # a standby of its own before acknowledging anything.
        kept = [line for line in auto.read_text().splitlines() if not line.startswith("synchronous_standby_names")]
        kept += [f"primary_conninfo = 'host=127.0.0.1 port={self.primary.port} user=postgres "
                 f"application_name={name}'",
                 f"primary_slot_name = '{name}'", f"wal_retrieve_retry_interval = '{RETRY_INTERVAL}'"]
        auto.write_text("\n".join(kept) + "\n")
        (node.data / "standby.signal").touch()
        if os.geteuid() == 0:  # the server, run as postgres, reads them
            for path in (auto, node.data / "standby.signal"):
                shutil.chown(path, "postgres", "postgres")

    def _set_synchronous(self, on: bool) -> None:
        """The primary waits for its standby's flush on each commit (on), or writes alone (off)."""
        if not self.primary.running():
            return
        value = self._name(self.standby) if on else ""
        current = _sql(self.primary.port, "SELECT current_setting('synchronous_standby_names')")
        if current != value:
            _sql(self.primary.port, f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
            _sql(self.primary.port, "SELECT pg_reload_conf()")
            _wait(lambda: _sql(self.primary.port, "SELECT current_setting('synchronous_standby_names')") == value,
                  "synchronous_standby_names not reloaded", 10)

    def _name(self, node: PrivatePostgres) -> str:
        return f"node{self.nodes.index(node) + 1}"

    def _pg_ctl(self, node: PrivatePostgres, *args: str) -> None:
        subprocess.run(_as_user("postgres", [str(node.bin / "pg_ctl"), "-D", str(node.data), *args]), check=True,
                       capture_output=True, timeout=120)
