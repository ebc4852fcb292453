"""A Postgres cluster and a RabbitMQ node of the chaos run's own, on free ports: the run restarts them, and the
machine's shared Postgres and RabbitMQ (which others are using) are never touched.

Both run as their own system users when started by root (Postgres refuses to run as root; Debian's
rabbitmq-server switches to the rabbitmq user itself), with trust authentication on 127.0.0.1 only. Those
users may not be able to enter the clone (a home directory under /root is mode 700), so each server's files
(data, configuration, sockets, logs) live in a directory of its own outside the clone: made for the run under
/var/tmp, owned by the server's user, mode 700, and removed when the run ends, after its logs are copied to
the clone's var/chaos/<pg|rabbit>/. The clone's var/chaos/<pg|rabbit>/private-dir names that directory while
it exists, so the next run removes what a killed run left behind. Run by any other user, the servers run as
that user, in the same kind of directory under its temporary directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local.system import free_port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(check: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f}s")
        time.sleep(0.2)


def _as_user(user: str, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)
        for sub in path.rglob("*"):
            shutil.chown(sub, user, user)


PREFIX = "epep-chaos-"
RECORD = "private-dir"


def _base() -> Path:
    # Root's TMPDIR may be inside /root, which the servers' users cannot enter; /var/tmp is open to all (1777).
    return Path("/var/tmp") if os.geteuid() == 0 and Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())


def private_dir(record: Path, user: str) -> Path:
    """A new directory, outside the clone, that `user` owns alone (mode 700); its path is written in `record`
    (a directory in the clone, emptied first) so that the next run can remove it if this one cannot."""
    clear(record)
    record.mkdir(parents=True)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{record.name}-", dir=_base()))  # mode 700
    (record / RECORD).write_text(f"{path}\n")
    _own(path, user)
    if os.geteuid() == 0 and subprocess.run(_as_user(user, ["test", "-w", str(path)]), check=False).returncode:
        raise RuntimeError(f"the {user} user cannot write to {path}, made for its files: is {path.parent} "
                           "open to every user (mode 1777)?")
    return path


def clear(record: Path) -> None:
    """Remove `record` (a server's directory in the clone's var/chaos) and the private directory it names, if
    that is still there and is one of ours."""
    with contextlib.suppress(OSError):
        named = Path((record / RECORD).read_text().strip())
        if named.name.startswith(PREFIX) and named.parent == _base() and named.is_dir() and not named.is_symlink():
            shutil.rmtree(named, ignore_errors=True)
    shutil.rmtree(record, ignore_errors=True)


def _keep_logs(home: Path, record: Path, names: list[str]) -> None:
    """Copy the server's logs from its private directory to the clone before that directory goes."""
    record.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = home / name
        with contextlib.suppress(OSError):
            if source.is_dir():
                shutil.copytree(source, record / name, dirs_exist_ok=True)
            elif source.exists():
                shutil.copyfile(source, record / name)


@dataclass
class PrivatePostgres:
    root: Path  # in the clone: where the private directory is recorded and the server's log is kept at the end
    port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.home = self.data = Path("/nonexistent")  # made by the first start
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not bindirs:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = bindirs[-1]

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self.home = private_dir(self.root, "postgres")
            self.data = self.home / "data"
            initdb = subprocess.run(_as_user("postgres", [str(self.bin / "initdb"), "-D", str(self.data), "-U",
                                                          "postgres", "-A", "trust", "--no-sync"]),
                                    capture_output=True, text=True, check=False)
            if initdb.returncode:
                raise RuntimeError(f"initdb in {self.data} failed: {initdb.stderr.strip()[-500:]}")
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.home / "server.log"), "-o",
                     f"-h 127.0.0.1 -p {self.port} -k {self.home} -c max_connections=300 -c fsync=off "
                     "-c full_page_writes=off -c shared_buffers=64MB")
        _wait(lambda: _port_open(self.port), "private Postgres not listening", 60)

    def running(self) -> bool:
        return _port_open(self.port)

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as the database knows: it recovers from its WAL on the next start."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def restart(self, mode: str) -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        """After stop(): the server's log goes to the clone, its private directory goes."""
        if self.home.is_dir():
            _keep_logs(self.home, self.root, ["server.log"])
            shutil.rmtree(self.home, ignore_errors=True)
            (self.root / RECORD).unlink(missing_ok=True)

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(_as_user("postgres", [str(self.bin / "pg_ctl"), "-D", str(self.data), *args]), check=True,
                       capture_output=True, timeout=120)


@dataclass
class PrivateRabbit:
    root: Path  # in the clone: where the private directory is recorded and the node's logs are kept at the end
    port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.dist_port = free_port()
        # rabbitmqctl takes a distribution port from 35672-35682, shared by every CLI call on the machine: when
        # others' calls hang there, ours would too. It gets a range of its own.
        self.cli_ports = free_port()
        self.node = f"epep-chaos-{self.port}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.home = Path("/nonexistent")  # made by prepare()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        # Every file the node reads or writes is in its private directory: Debian's rabbitmq-server runs it as
        # the rabbitmq user, who may not be able to enter the clone.
        return {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
                "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"), "RABBITMQ_LOG_BASE": str(self.home / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.home / "rabbit.pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_CTL_DIST_PORT_MIN": str(self.cli_ports),
                "RABBITMQ_CTL_DIST_PORT_MAX": str(self.cli_ports + 10)}

    def prepare(self) -> None:
        """The node's private directory and configuration, unless they are there already (a restart)."""
        if (self.home / "rabbitmq.conf").exists():
            return
        self.home = private_dir(self.root, "rabbitmq")
        for sub in ("mnesia", "log"):
            (self.home / sub).mkdir()
        # The machine's rabbitmq.conf names port 5672: this node has a configuration of its own.
        (self.home / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                                                 "loopback_users.guest = true\n")
        (self.home / "rabbitmq-env.conf").write_text("")
        (self.home / "enabled_plugins").write_text("[].\n")
        _own(self.home, "rabbitmq")

    def start(self) -> None:
        self.prepare()
        log = open(self.home / "server.out", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(["rabbitmq-server"], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        _wait(lambda: _port_open(self.port), "private RabbitMQ not listening", 120)

    def ctl(self, *args: str, timeout: float = 120, tries: int = 3) -> str:
        """rabbitmqctl on this node; a call that fails is tried again (the CLI itself is flaky under load)."""
        for attempt in range(tries):
            result = subprocess.run(["rabbitmqctl", "-q", "-n", self.node, *args], env=self.env(),
                                    capture_output=True, text=True, timeout=timeout)
            if result.returncode == 0:
                return result.stdout
            time.sleep(2.0 * (attempt + 1))
        raise RuntimeError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()[-500:]}")

    def restart_app(self) -> None:
        """The broker stops (every connection dropped, every queue down) and starts again in the same VM."""
        self.ctl("stop_app")
        time.sleep(1.0)
        self.ctl("start_app")
        _wait(lambda: _port_open(self.port), "private RabbitMQ not back", 120)

    def restart_node(self) -> None:
        """The whole node stops and a new one boots from disk: durable queues and their messages survive."""
        self.stop()
        self.start()

    def running(self) -> bool:
        return _port_open(self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.ctl("stop", timeout=30)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.running():  # the CLI could not reach it: end the VM itself (it runs as another user)
            with contextlib.suppress(OSError, ValueError):
                os.kill(int((self.home / "rabbit.pid").read_text().strip()), signal.SIGKILL)
        self.process = None
        _wait(lambda: not self.running(), "private RabbitMQ still listening", 30)

    def remove(self) -> None:
        """After stop(): the node's logs go to the clone, its private directory goes."""
        if self.home.is_dir():
            _keep_logs(self.home, self.root, ["server.out", "log"])
            shutil.rmtree(self.home, ignore_errors=True)
            (self.root / RECORD).unlink(missing_ok=True)

    def queues(self) -> list[tuple[str, int, int]]:
        """(name, messages, consumers) of every queue on the node's default vhost."""
        out = []
        for line in self.ctl("list_queues", "name", "messages", "consumers", "--no-table-headers").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit():
                out.append((parts[0], int(parts[1]), int(parts[2])))
        return out
