"""Gateway CPU per forwarded read (issue 19, item 3: the gateway passes a service's JSON through).

    .venv/bin/python -m tests.bench.passthrough      # PASSTHROUGH_READS=3000 PASSTHROUGH_ROUNDS=3

A focused measurement, not `make bench`: the system as the tests start it (its own database, a RabbitMQ name
prefix, free ports, the demo data; traces sampled as deploy/ samples them), one caseworker signed in with the
emailed code, and then, per round, PASSTHROUGH_READS authenticated reads of a PEP section and as many of the
whole PEP (the largest JSON a hot path forwards), eight at a time. What is counted is the CPU time (user +
system, from /proc/<pid>/stat) of the gateway, pep and identity processes over each batch, per read. Run it on
two copies of the code that differ only in the change under test to get a before and after.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from deploy.local.system import DB_SERVICES, DEFAULT_PORTS, LocalSystem, free_port
from shared import demo
from shared.settings import ServiceSettings
from tests.bench.cpu import parse_stat
from tests.bench.run import delete_bus, production_sample_ratio
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, drop_database
from tests.support.mailbox import Mailbox

READS = int(os.environ.get("PASSTHROUGH_READS", "3000"))
ROUNDS = int(os.environ.get("PASSTHROUGH_ROUNDS", "3"))
CONCURRENCY = 8
MEASURED = ("gateway", "pep", "identity")
HZ = os.sysconf("SC_CLK_TCK")
CHILD = str(demo.CHILDREN[0]["id"])


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return parse_stat(f.read()).ticks


async def sign_in(session: aiohttp.ClientSession, base: str, mailbox: Mailbox, address: str) -> str:
    since = time.time()
    async with session.post(base + "/api/v1/auth/sign-in",
                            json={"email": address, "password": "demo-pass-2026"}) as resp:
        assert resp.status == 202, await resp.text()
        attempt = (await resp.json())["attempt_id"]
    code = await asyncio.to_thread(mailbox.wait_for_code, address, since)
    async with session.post(base + "/api/v1/auth/sign-in/verify", json={"attempt_id": attempt, "code": code}) as resp:
        assert resp.status == 200, await resp.text()
        return resp.headers["Set-Cookie"].split(";")[0]


async def a_pep(session: aiohttp.ClientSession, base: str, cookie: str) -> tuple[str, str]:
    """A PEP of the first demo child (started if it has none) and the key of its first section."""
    headers = {"Cookie": cookie}
    async with session.get(f"{base}/api/v1/children/{CHILD}/peps", headers=headers) as resp:
        peps = await resp.json()
    if not peps:
        async with session.post(f"{base}/api/v1/children/{CHILD}/peps", headers=headers, json={
                "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}) as resp:
            assert resp.status == 201, await resp.text()
        async with session.get(f"{base}/api/v1/children/{CHILD}/peps", headers=headers) as resp:
            peps = await resp.json()
    pep_id = peps[0]["id"]
    async with session.get(f"{base}/api/v1/peps/{pep_id}", headers=headers) as resp:
        pep = await resp.json()
    return pep_id, pep["sections"][0]["key"]


async def batch(session: aiohttp.ClientSession, url: str, cookie: str, n: int) -> int:
    """`n` GETs of `url`, CONCURRENCY at a time; the size of the last answer's body."""
    left, size = n, 0

    async def worker() -> None:
        nonlocal left, size
        while left > 0:
            left -= 1
            async with session.get(url, headers={"Cookie": cookie}) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:300]
                size = len(body)
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return size


async def measured(pids: dict[str, int], reads: Awaitable[int]) -> dict[str, Any]:
    """CPU milliseconds per read of each measured process over one batch of READS reads."""
    before = {name: ticks(pid) for name, pid in pids.items()}
    started = time.monotonic()
    size = await reads
    seconds = time.monotonic() - started
    after = {name: ticks(pid) for name, pid in pids.items()}
    per_read = {name: round((after[name] - before[name]) * 1000 / HZ / READS, 3) for name in pids}
    return {"cpu_ms_per_read": per_read, "reads_per_second": round(READS / seconds, 1), "body_bytes": size}


async def bench(local: LocalSystem) -> dict[str, Any]:
    base = local.url("gateway")
    pids = {name: local.processes[name].pid for name in MEASURED}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        cookie = await sign_in(session, base, Mailbox(local.maildir), "caseworker@demo.test")
        pep_id, key = await a_pep(session, base, cookie)
        reads = {"section": f"{base}/api/v1/peps/{pep_id}/sections/{key}", "pep": f"{base}/api/v1/peps/{pep_id}"}
        for url in reads.values():  # warm: connections, caches, the first-call imports
            await batch(session, url, cookie, 200)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in reads}
        for _ in range(ROUNDS):
            for name, url in reads.items():
                rounds[name].append(await measured(pids, batch(session, url, cookie, READS)))
    return {name: {"gateway_cpu_ms_per_read_median": statistics.median(r["cpu_ms_per_read"]["gateway"] for r in rs),
                   "rounds": rs} for name, rs in rounds.items()}


def main() -> None:
    """The run's own database and bus prefix, both removed at the end, whatever happens."""
    run = secrets.token_hex(4)
    var = Path(tempfile.mkdtemp(prefix="epep-passthrough-"))
    local = LocalSystem(var=var, ports={name: free_port() for name in DEFAULT_PORTS}, database=f"epep_pass_{run}",
                        pg_host=PG_HOST, pg_port=PG_PORT, amqp_url=f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/",
                        bus_prefix=f"p{run}.", environment="test",
                        extra_env={"EPEP_DB_POOL_MAX": "4", "EPEP_TRACES_SAMPLE_RATIO": str(production_sample_ratio())})
    try:
        local.migrate()
        local.seed_demo()
        local.start_all([*DB_SERVICES, "gateway"])  # no portal: the reads go to the gateway
        report = {"reads_per_round": READS, "rounds": ROUNDS, "concurrency": CONCURRENCY,
                  "traces_sample_ratio": production_sample_ratio(), "cpus": os.cpu_count(),
                  "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                  **asyncio.run(bench(local))}
        print(json.dumps(report, indent=2), flush=True)
    finally:
        local.stop_all()
        asyncio.run(drop_database(f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}/postgres", local.database))
        asyncio.run(delete_bus(ServiceSettings(amqp_url=SecretStr(local.amqp_url), bus_prefix=local.bus_prefix,
                                               environment="test")))
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
