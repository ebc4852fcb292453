"""The whole system as local processes: migrations, demo data, a mail sink and every service.

`make run` uses it with the standard ports; the tests use it with free ports, their own database and their
own RabbitMQ vhost (or name prefix), so a test run never touches a developer's running system.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_SERVICES = ["identity", "pep", "delegation", "notify", "qa"]
SERVICES = [*DB_SERVICES, "gateway", "portal"]
DEFAULT_PORTS = {"identity": 8101, "pep": 8102, "delegation": 8103, "notify": 8104, "qa": 8105,
                 "gateway": 8000, "portal": 8080, "smtp": 1025, "mail_http": 8025}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalSystem:
    var: Path = ROOT / "var"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    database: str = "epep"
    pg_host: str = os.environ.get("EPEP_PG_HOST", "127.0.0.1")
    pg_port: int = int(os.environ.get("EPEP_PG_PORT", "5432"))
    # A primary and its standbys, "host:port,host:port" (EPEP_PG_HOSTS): when set, the services and migrations
    # connect to whichever takes writes, and pg_host/pg_port are not used.
    pg_hosts: str = os.environ.get("EPEP_PG_HOSTS", "")
    pg_admin_user: str = os.environ.get("EPEP_PG_ADMIN_USER", "postgres")
    amqp_url: str = os.environ.get("EPEP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    bus_prefix: str = ""
    environment: str = "development"
    extra_env: dict[str, str] = field(default_factory=dict)
    # Per-service overrides, e.g. {"notify": {"EPEP_BUS_RETRY_DELAYS": "[0.5]"}}
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    quiet: bool = False
    # How many processes of a service start_all runs, e.g. {"delegation": 3, "notify": 2}; one when not named.
    replicas: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The ports of a service's further replicas (the first is on ports[service]), once started.
    replica_ports: dict[str, list[int]] = field(default_factory=dict)

    @property
    def maildir(self) -> Path:
        return self.var / "mail"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def urls(self, service: str) -> str:
        """Every replica of `service`, comma-separated, as a caller's setting names them."""
        ports = [self.ports[service], *self.replica_ports.get(service, [])]
        return ",".join(f"http://127.0.0.1:{port}" for port in ports)

    def replica_names(self, service: str) -> list[str]:
        """The process names of a service's replicas: `delegation`, then `delegation-2`, `delegation-3`…"""
        return [service, *(f"{service}-{n}" for n in range(2, self.replicas.get(service, 1) + 1))]

    # ---- environment ------------------------------------------------------------------------------

    def env_for(self, service: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPEP_")}
        env.update({
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "EPEP_ENVIRONMENT": self.environment,
            "EPEP_PG_HOST": self.pg_host, "EPEP_PG_PORT": str(self.pg_port), "EPEP_PG_DATABASE": self.database,
            "EPEP_PG_ADMIN_USER": self.pg_admin_user, "EPEP_PG_HOSTS": self.pg_hosts,
            "EPEP_AMQP_URL": self.amqp_url, "EPEP_BUS_PREFIX": self.bus_prefix,
            "EPEP_TRACES_EXPORTER": "file", "EPEP_TRACE_DIR": str(self.var / "traces"),
            # Every trace recorded (tests read whole traces); deploy/ records a tenth, and the bench does as deploy/
            # does through extra_env.
            "EPEP_TRACES_SAMPLE_RATIO": "1.0",
        })
        if service in self.ports:
            env["EPEP_PORT"] = str(self.ports[service])
        if service == "gateway":
            env.update({f"EPEP_{s.upper()}_URL": self.urls(s) for s in DB_SERVICES})
        if service in ("delegation", "qa"):
            env["EPEP_PEP_URL"] = self.urls("pep")
        if service == "portal":
            env["EPEP_GATEWAY_URL"] = self.url("gateway")
        if service == "notify":
            env.update({"EPEP_SMTP_HOST": "127.0.0.1", "EPEP_SMTP_PORT": str(self.ports["smtp"]),
                        "EPEP_PORTAL_URL": self.url("portal")})
        env.update(self.extra_env)
        env.update(self.service_env.get(service, {}))
        return env

    def _run(self, service: str, *args: str) -> None:
        result = subprocess.run([sys.executable, "-m", f"services.{service}", *args], cwd=ROOT,
                                env=self.env_for(service), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{service} {' '.join(args)} failed:\n{result.stderr[-4000:]}")

    # ---- lifecycle --------------------------------------------------------------------------------

    def migrate(self) -> None:
        for service in DB_SERVICES:
            self._run(service, "migrate")

    def seed_demo(self) -> None:
        for service in ("identity", "pep"):
            self._run(service, "seed-demo")

    def start_mailsink(self) -> None:
        self._spawn("mailsink", [sys.executable, "-m", "deploy.local.mailsink", "--smtp-port",
                                 str(self.ports["smtp"]), "--http-port", str(self.ports["mail_http"]),
                                 "--maildir", str(self.maildir)], self.env_for("mailsink"))
        self._wait_port(self.ports["smtp"], "mailsink")

    def start(self, service: str) -> None:
        self._spawn(service, [sys.executable, "-m", f"services.{service}", "serve"], self.env_for(service))

    def start_replica(self, service: str, name: str, env: dict[str, str] | None = None) -> int:
        """Another process of a service, on a port of its own, under `name`: as an operator scales out.
        Returns its port; stop it with stop(name)."""
        port = free_port()
        self._spawn(name, [sys.executable, "-m", f"services.{service}", "serve"],
                    {**self.env_for(service), "EPEP_PORT": str(port), **(env or {})})
        self._wait_port(port, name, timeout=30)
        return port

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        (self.var / "log").mkdir(parents=True, exist_ok=True)
        log = open(self.var / "log" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        log.close()

    def start_all(self, services: list[str] = SERVICES) -> None:
        self.start_mailsink()
        for service in services:
            self.start(service)
            # Further replicas of a back-end service before anything that calls it: the gateway (and
            # delegation and qa for pep) learn every replica's address when they start.
            extra = self.replica_names(service)[1:]
            if extra and service not in DB_SERVICES:
                raise ValueError(f"{service} runs as one process here; replicas are for {', '.join(DB_SERVICES)}")
            self.replica_ports[service] = [free_port() for _ in extra]
            for name, port in zip(extra, self.replica_ports[service], strict=True):
                self._spawn(name, [sys.executable, "-m", f"services.{service}", "serve"],
                            {**self.env_for(service), "EPEP_PORT": str(port)})
        self.wait_ready(services)

    def restart(self, name: str) -> None:
        """Start a process that has stopped (or was killed) again under its name, on its port."""
        if name == "mailsink":
            self.start_mailsink()
            return
        service, _, n = name.partition("-")
        port = self.replica_ports[service][int(n) - 2] if n else self.ports[service]
        self._spawn(name, [sys.executable, "-m", f"services.{service}", "serve"],
                    {**self.env_for(service), "EPEP_PORT": str(port)})

    def wait_ready(self, services: list[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for service in services:
            ports = [self.ports[service], *self.replica_ports.get(service, [])]
            for name, port in zip(self.replica_names(service), ports, strict=False):
                while True:
                    proc = self.processes.get(name)
                    if proc is not None and proc.poll() is not None:
                        raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.var}/log/{name}.log")
                    if self.ready(service, port):
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} not ready after {timeout}s; see {self.var}/log/{name}.log")
                    time.sleep(0.1)

    def ready(self, service: str, port: int | None = None) -> bool:
        url = f"http://127.0.0.1:{port}" if port else self.url(service)
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def readiness(self, service: str) -> dict[str, object]:
        try:
            with urllib.request.urlopen(f"{self.url(service)}/readyz", timeout=2) as resp:
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def kill(self, name: str) -> None:
        self.stop(name, signal.SIGKILL)

    def stop_all(self) -> None:
        # Front to back, so nothing is left calling a service that has gone.
        for name in ["portal", "gateway", *(n for s in reversed(DB_SERVICES) for n in self.replica_names(s)),
                     "mailsink"]:
            self.stop(name)
        for name in list(self.processes):
            self.stop(name)

    def _wait_port(self, port: int, name: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{name} did not open port {port}")

    def reset_var(self) -> None:
        for sub in ("traces", "log"):
            shutil.rmtree(self.var / sub, ignore_errors=True)
