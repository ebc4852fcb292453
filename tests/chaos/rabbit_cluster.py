"""A RabbitMQ cluster of the run's own: three nodes on this machine, each in a network namespace of its own, so
that a node can be cut off from the others (a partition) as well as killed.

Each node lives in its netns (`<tag>-r<i>`), joined by a veth to a bridge (`<tag>b`) in the root namespace that
holds the first address of a private /24 chosen for the run; node i has the address .(i + 2) and listens on
5672 there (its own epmd and distribution port, in its own namespace). Nodes are named by address with long
names (`rabbit@10.x.y.z`), so no /etc/hosts entry is needed, share an Erlang cookie of the run's own, form the
cluster by classic config peer discovery, pause when in a minority (`pause_minority`) and spread new queues'
leaders over the nodes (`queue_leader_locator = balanced`).

A partition blackholes, inside the namespaces, the routes between node i and the other two; the bridge still
reaches node i, so clients could still reach it, but it pauses (pause_minority) and closes its listener: they
are refused there and fail over to the majority.

Needs root (namespaces, veths, a bridge). Like infra.PrivateRabbit, the nodes' files live in a private
directory under /var/tmp owned by rabbitmq, and their logs are copied to `root` by remove(). Every namespace
and link made is recorded in `root`/network first, so the next run removes what a killed run left behind.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.chaos.infra import RECORD, _keep_logs, _own, _wait, clear, private_dir

NETWORK_RECORD = "network"
PORT = 5672
_SEQ = itertools.count()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _ip("netns", "exec", ns, "ip", *args, check=check)


def _port_open(host: str, port: int = PORT, timeout: float = 1.0) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = _ip("-4", "route", "show", "table", "all", check=False).stdout + _ip("-4", "-o", "addr").stdout
    nets = []
    for word in out.split():
        with contextlib.suppress(ValueError):
            if "/" in word or word.count(".") == 3:
                nets.append(ipaddress.ip_network(word, strict=False))
    return [n for n in nets if isinstance(n, ipaddress.IPv4Network)]


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no route or address on the machine touches (another run's cluster included)."""
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{random.randint(100, 254)}.{random.randint(0, 254)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise RuntimeError("no free private /24 for the RabbitMQ cluster")


def remove_network(record: Path) -> None:
    """End the processes in, and delete, every namespace and link a run recorded in `record`/network."""
    with contextlib.suppress(OSError):
        for line in (record / NETWORK_RECORD).read_text().splitlines():
            kind, _, name = line.partition(" ")
            if kind == "netns":
                _kill_all_in(name)
                _ip("netns", "del", name, check=False)
            elif kind == "link":
                _ip("link", "del", name, check=False)
        (record / NETWORK_RECORD).unlink()


def _kill_all_in(ns: str) -> None:
    """SIGKILL each process in the namespace, by its id (the node's VM, its epmd, their wrappers)."""
    for pid in _ip("netns", "pids", ns, check=False).stdout.split():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


class RabbitCluster:
    """Three (`size`) RabbitMQ nodes, clustered, each in a network namespace of its own."""

    def __init__(self, root: Path, size: int = 3) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("the RabbitMQ cluster needs root: it makes network namespaces, veths and a bridge")
        self.root, self.size = root, size
        self.tag = f"ep{os.getpid()}{chr(ord('a') + next(_SEQ) % 26)}"  # + "r9": at most 15 characters
        self.bridge = f"{self.tag}b"
        self.namespaces = [f"{self.tag}-r{i + 1}" for i in range(size)]
        self.subnet: ipaddress.IPv4Network | None = None
        self.hosts: list[str] = []
        self.home = Path("/nonexistent")
        self.cookie = secrets.token_hex(20)
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * size
        self._cut: set[int] = set()

    # ---- what clients and the chaos run see ---------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        return [f"rabbit@{host}" for host in self.hosts]

    @property
    def urls(self) -> list[str]:
        return [f"amqp://guest:guest@{host}:{PORT}/" for host in self.hosts]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: what EPEP_AMQP_URL holds for a client that fails over."""
        return ",".join(self.urls)

    def running(self, i: int) -> bool:
        """Node i accepts AMQP connections (a paused minority node does not)."""
        return bool(self.hosts) and _port_open(self.hosts[i])

    # ---- life cycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Make the network and start the nodes: the first alone, then the others, which find it and join."""
        remove_network(self.root)  # a killed run's namespaces, links and nodes
        self.home = private_dir(self.root, "rabbitmq")
        self._make_network()
        for i in range(self.size):
            self._prepare(i)
        _own(self.home, "rabbitmq")
        self.start_node(0)
        for i in range(1, self.size):
            self._spawn(i)
        for i in range(1, self.size):
            _wait(lambda i=i: self.running(i), f"RabbitMQ node {self.nodes[i]} not listening", 120)
        _wait(self._clustered, "RabbitMQ nodes not clustered", 120)

    def stop(self) -> None:
        """Stop every node, then remove the namespaces, veths and bridge (even if a node will not stop)."""
        for i in range(self.size):
            if self.processes[i] is not None:
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self.ctl(i, "stop", timeout=30, tries=1)
        for i in range(self.size):
            self._reap(i)
        remove_network(self.root)

    def remove(self) -> None:
        """After stop(): the nodes' logs go to `root`, their private directory goes."""
        if self.home.is_dir():
            for i in range(self.size):
                _keep_logs(self.home / f"r{i + 1}", self.root / f"r{i + 1}", ["server.out", "log"])
            shutil.rmtree(self.home, ignore_errors=True)
            (self.root / RECORD).unlink(missing_ok=True)

    def kill_node(self, i: int) -> None:
        """SIGKILL node i's VM: a lost node. Its quorum queues elect leaders on the others."""
        _kill_all_in(self.namespaces[i])
        self._reap(i)
        _wait(lambda: not self.running(i), f"{self.nodes[i]} still listening after SIGKILL", 30)

    def start_node(self, i: int) -> None:
        """Boot node i (again): from its own data it rejoins the cluster and its queue members catch up."""
        self._spawn(i)
        _wait(lambda: self.running(i), f"RabbitMQ node {self.nodes[i]} not listening", 120)

    def restart_app(self, i: int) -> None:
        """The broker on node i stops and starts again in the same VM (connections dropped, members restart)."""
        self.ctl(i, "stop_app")
        time.sleep(1.0)
        self.ctl(i, "start_app")
        _wait(lambda: self.running(i), f"{self.nodes[i]} not back after start_app", 120)

    def partition(self, i: int) -> None:
        """Cut node i off from the other nodes (not from clients): it pauses, being the minority, and refuses
        clients until heal(i); the others carry on."""
        self._cut.add(i)
        for j in range(self.size):
            if j != i:
                _in_ns(self.namespaces[i], "route", "replace", "blackhole", f"{self.hosts[j]}/32")
                _in_ns(self.namespaces[j], "route", "replace", "blackhole", f"{self.hosts[i]}/32")

    def heal(self, i: int) -> None:
        """Undo partition(i): node i sees the majority again and resumes by itself (pause_minority)."""
        for j in range(self.size):
            if j != i:
                _in_ns(self.namespaces[i], "route", "del", "blackhole", f"{self.hosts[j]}/32", check=False)
                _in_ns(self.namespaces[j], "route", "del", "blackhole", f"{self.hosts[i]}/32", check=False)
        self._cut.discard(i)

    def await_healthy(self, timeout: float = 180) -> None:
        """Until every node runs, in one cluster with no partition, and every quorum queue has all its members
        online."""
        _wait(self._healthy, "RabbitMQ cluster not healthy", timeout)

    # ---- looking inside -------------------------------------------------------------------------------

    def ctl(self, i: int, *args: str, timeout: float = 120, tries: int = 3) -> str:
        """rabbitmqctl against node i, run inside its namespace as the rabbitmq user with the run's cookie."""
        argv = ["ip", "netns", "exec", self.namespaces[i], "runuser", "-u", "rabbitmq", "--", "env",
                *self._env(i), "/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "--longnames", "-n", self.nodes[i], *args]
        for attempt in range(tries):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/")
            if result.returncode == 0:
                return result.stdout
            if attempt + 1 < tries:
                time.sleep(2.0 * (attempt + 1))
        raise RuntimeError(f"rabbitmqctl {args[0]} on {self.nodes[i]} failed: {result.stderr.strip()[-500:]}")

    def queues(self) -> list[tuple[str, int, int]]:
        """(name, messages, consumers) of every queue on the default vhost, asked of any running node."""
        return [(q["name"], int(q.get("messages") or 0), int(q.get("consumers") or 0))
                for q in self._list_queues("name", "messages", "consumers")]

    def leaders(self) -> dict[str, str]:
        """Each quorum queue's leader node."""
        return {q["name"]: q["leader"] for q in self._list_queues("name", "type", "leader")
                if q.get("type") == "quorum"}

    def queue_info(self) -> list[dict[str, Any]]:
        """name, type, leader, members and online of every queue (as rabbitmqctl's JSON gives them)."""
        return self._list_queues("name", "type", "leader", "members", "online")

    # ---- inner workings -------------------------------------------------------------------------------

    def _list_queues(self, *items: str) -> list[dict[str, Any]]:
        last: Exception = RuntimeError("no RabbitMQ node running")
        for i in range(self.size):
            if i in self._cut or not self.running(i):
                continue
            try:
                out = self.ctl(i, "list_queues", *items, "--formatter", "json", timeout=60, tries=1)
                return list(json.loads(out or "[]"))
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
                last = exc
        raise last

    def _cluster_status(self, i: int) -> dict[str, Any]:
        return dict(json.loads(self.ctl(i, "cluster_status", "--formatter", "json", timeout=30, tries=1)))

    def _clustered(self) -> bool:
        try:
            status = self._cluster_status(0)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            return False
        return sorted(status.get("running_nodes", [])) == sorted(self.nodes)

    def _healthy(self) -> bool:
        """Two CLI calls, each a whole Erlang VM (seconds on a busy machine): the cluster's status as one node
        sees it (every node running, no partition), then the quorum queues' members."""
        if self._cut or not all(self.running(i) for i in range(self.size)):
            return False
        try:
            status = self._cluster_status(0)
            if status.get("partitions") or sorted(status.get("running_nodes", [])) != sorted(self.nodes):
                return False
            queues = self.queue_info()
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            return False
        return all(sorted(q.get("online") or []) == sorted(q.get("members") or [])
                   for q in queues if q.get("type") == "quorum")

    def _record(self, kind: str, name: str) -> None:
        with (self.root / NETWORK_RECORD).open("a") as f:
            f.write(f"{kind} {name}\n")

    def _make_network(self) -> None:
        self.subnet = _free_subnet()
        addresses = list(self.subnet.hosts())
        gateway, self.hosts = str(addresses[0]), [str(a) for a in addresses[1:self.size + 1]]
        self._record("link", self.bridge)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, ns in enumerate(self.namespaces):
            veth = f"{self.tag}r{i + 1}"
            self._record("netns", ns)
            self._record("link", veth)
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _in_ns(ns, "link", "set", "lo", "up")
            _in_ns(ns, "addr", "add", f"{self.hosts[i]}/24", "dev", "eth0")
            _in_ns(ns, "link", "set", "eth0", "up")

    def _node_home(self, i: int) -> Path:
        return self.home / f"r{i + 1}"

    def _env(self, i: int) -> list[str]:
        home = self._node_home(i)
        return [f"HOME={home}", f"RABBITMQ_NODENAME={self.nodes[i]}", "RABBITMQ_USE_LONGNAME=true",
                f"RABBITMQ_CONFIG_FILE={home / 'rabbitmq.conf'}",
                f"RABBITMQ_ADVANCED_CONFIG_FILE={home / 'advanced.config'}",
                f"RABBITMQ_CONF_ENV_FILE={home / 'rabbitmq-env.conf'}",
                f"RABBITMQ_MNESIA_BASE={home / 'mnesia'}", f"RABBITMQ_LOG_BASE={home / 'log'}",
                f"RABBITMQ_ENABLED_PLUGINS_FILE={home / 'enabled_plugins'}",
                f"RABBITMQ_PID_FILE={home / 'rabbit.pid'}"]

    def _prepare(self, i: int) -> None:
        home = self._node_home(i)
        for sub in ("", "mnesia", "log"):
            (home / sub).mkdir(exist_ok=True)
        peers = "".join(f"cluster_formation.classic_config.nodes.{n + 1} = {node}\n"
                        for n, node in enumerate(self.nodes))
        (home / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.hosts[i]}:{PORT}\n"
            "loopback_users = none\n"  # clients reach the nodes over the bridge, as guest
            "cluster_partition_handling = pause_minority\n"
            "queue_leader_locator = balanced\n"
            "cluster_formation.peer_discovery_backend = classic_config\n" + peers)
        # A partition is noticed within 10 s (net_ticktime), not the default 60.
        (home / "advanced.config").write_text("[{kernel, [{net_ticktime, 10}]}].\n")
        (home / "rabbitmq-env.conf").write_text("")
        (home / "enabled_plugins").write_text("[].\n")
        cookie = home / ".erlang.cookie"
        cookie.write_text(self.cookie)
        cookie.chmod(0o400)

    def _spawn(self, i: int) -> None:
        self._reap(i)
        log = open(self._node_home(i) / "server.out", "ab")  # noqa: SIM115 - the server keeps it
        self.processes[i] = subprocess.Popen(
            ["ip", "netns", "exec", self.namespaces[i], "runuser", "-u", "rabbitmq", "--", "env", *self._env(i),
             "/usr/lib/rabbitmq/bin/rabbitmq-server"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
        log.close()

    def _reap(self, i: int) -> None:
        process = self.processes[i]
        if process is None:
            return
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_all_in(self.namespaces[i])
            process.wait(timeout=30)
        self.processes[i] = None


__all__ = ["RabbitCluster", "clear", "remove_network"]
