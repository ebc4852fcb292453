"""`make run`: the whole system on this machine with demo data. Ctrl-C or SIGTERM stops every process.

REPLICAS=delegation=3,notify=2 runs that many processes of those services: the gateway sends HTTP to them in
turn, they compete for the bus's messages, and their relays and schedulers share the work through Postgres."""

from __future__ import annotations

import os
import signal
import sys
import time

from deploy.local.system import DB_SERVICES, LocalSystem
from shared.demo import ACCOUNTS, DEMO_PASSWORD, ROLE_WORDS


def parse_replicas(text: str) -> dict[str, int]:
    """`delegation=3,notify=2` as {"delegation": 3, "notify": 2}; anything else is refused, naming what."""
    replicas: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        service, _, count = item.partition("=")
        if service.strip() not in DB_SERVICES or not count.strip().isdigit() or not 1 <= int(count) <= 16:
            raise SystemExit(f"REPLICAS: '{item}' is not <service>=<1-16> with a service of {', '.join(DB_SERVICES)}")
        replicas[service.strip()] = int(count)
    return replicas


def main() -> None:
    system = LocalSystem(replicas=parse_replicas(os.environ.get("REPLICAS", "")))
    system.reset_var()
    print("Applying migrations…", flush=True)
    system.migrate()
    print("Loading demo data…", flush=True)
    system.seed_demo()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Starting services…", flush=True)
        system.start_all()
        scaled = ", ".join(f"{s} ×{n}" for s, n in system.replicas.items() if n > 1)
        print(f"""
ePEP is running.{f"  Replicas: {scaled}" if scaled else ""}
  Portal:     {system.url('portal')}
  Gateway:    {system.url('gateway')}/api/v1  (OpenAPI: {system.url('gateway')}/api/v1/openapi.json)
  Mail sink:  {system.url('mail_http')}  (messages also in {system.maildir}/)
  Logs:       {system.var}/log/   Traces: {system.var}/traces/

Demo accounts (password for all: {DEMO_PASSWORD}; the sign-in code arrives in the mail sink):""", flush=True)
        for _, email, given, family, memberships in ACCOUNTS:
            roles = ", ".join(ROLE_WORDS[role] for _, role in memberships)
            print(f"  {email:<22} {given} {family} ({roles})", flush=True)
        print("\nPress Ctrl-C to stop.", flush=True)
        while not stopping:
            for name, proc in list(system.processes.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {system.var}/log/{name}.log", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        system.stop_all()


if __name__ == "__main__":
    main()
