"""How many emails a second one notify process gets into the local mail sink. Not part of `make test`.

    .venv/bin/python -m tests.bench.notify_throughput [--emails 1000]

notify runs as a real process (`python -m services.notify serve`) on a database and RabbitMQ vhost (or name
prefix) of its own, sending to the development mail sink (another process). The bench publishes that many
new-sign-in events to the exchange at once, then times from the first publish until every email is in the
sink's Maildir, so the figure covers the consumer, its delivery rows and status guard, rendering and SMTP.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from deploy.local.system import DEFAULT_PORTS, LocalSystem, free_port
from services.notify.consumers import subscriptions_for
from services.notify.settings import NotifySettings
from shared.bus import Bus, delete_topology
from shared.contracts import Envelope, SignedIn
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, drop_database


def _rabbitmqctl(*args: str) -> bool:
    return bool(shutil.which("rabbitmqctl")) and subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True).returncode == 0


async def _publish(settings: NotifySettings, count: int) -> float:
    bus = Bus(settings, "bench")
    await bus.connect()
    try:
        envelopes = [Envelope(event_type="identity.session.started", version=1, producer="identity",
                              data=SignedIn(user_id=uuid.uuid4(), email=f"bench.{n}@example.test", given_name="Bo",
                                            session_id=uuid.uuid4(), signed_in_at=datetime.now(UTC)
                                            ).model_dump(mode="json")) for n in range(count)]
        started = time.monotonic()
        for chunk in range(0, count, 100):
            await asyncio.gather(*(bus.publish(e.model_dump(mode="json"), e.routing_key, {})
                                   for e in envelopes[chunk:chunk + 100]))
        return started
    finally:
        await bus.close()


def _delivered(maildir: Path) -> int:
    return sum(1 for sub in ("new", "cur") if (maildir / sub).exists() for _ in (maildir / sub).iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    args = parser.parse_args()
    run = secrets.token_hex(4)
    vhost = f"epep_bench_{run}"
    if _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        amqp_url, prefix = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}", ""
    else:
        vhost, amqp_url, prefix = "", f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/", f"b{run}."
    var = Path(tempfile.mkdtemp(prefix="epep-bench-"))
    local = LocalSystem(var=var, ports={name: free_port() for name in DEFAULT_PORTS}, database=f"epep_bench_{run}",
                        pg_host=PG_HOST, pg_port=PG_PORT, amqp_url=amqp_url, bus_prefix=prefix, environment="test")
    settings = NotifySettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=local.database, amqp_url=amqp_url,
                              bus_prefix=prefix, environment="test")
    try:
        local.migrate()
        local.start_mailsink()
        local.start("notify")
        local.wait_ready(["notify"])
        started = asyncio.run(_publish(settings, args.emails))
        while (done := _delivered(local.maildir)) < args.emails:
            if time.monotonic() - started > 600:
                raise SystemExit(f"only {done} of {args.emails} emails arrived in 10 minutes")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        print(f"{args.emails} emails in {seconds:.1f} s: {args.emails / seconds:.0f} emails/second "
              f"(one notify process, local mail sink)")
    finally:
        local.stop_all()
        asyncio.run(drop_database(f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}/postgres", local.database))
        if vhost:
            _rabbitmqctl("delete_vhost", vhost)
        else:
            asyncio.run(delete_topology(settings, [s.name for s in subscriptions_for(settings)]))
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
