"""Identity calls and CPU per authenticated read, with sessions resolved in the gateway and without (issue 19,
item 1).

    .venv/bin/python -m tests.bench.session_cache      # SESSION_BENCH_READS=3000 SESSION_BENCH_ROUNDS=3

A focused A/B, not `make bench`: the system as the tests start it (its own database, a RabbitMQ name prefix, free
ports, the demo data, traces sampled as deploy/ samples them) with two gateway processes in front of it, identical
but for EPEP_SESSION_CACHE_SECONDS: `asking` (0: identity resolves the cookie on every request, as before) and
`holding` (30, the default). Three Virtual School staff sign in with the emailed code; then, per round and per
gateway, SESSION_BENCH_READS authenticated reads of a PEP section, eight at a time, the three sessions in turn.
Counted over each batch: identity's HTTP requests (from its own /metrics: every route, so the batched idle-clock
restarts count too) per read, and the CPU time (user + system + reaped children, /proc) per read of the gateway
under test, identity and pep, and of the Postgres server (shared with anything else running on the machine, so
only a guide)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from deploy.local.system import DB_SERVICES, DEFAULT_PORTS, LocalSystem, free_port
from shared import demo
from shared.settings import ServiceSettings
from tests.bench.cpu import CpuSample, per_operation
from tests.bench.run import delete_bus, postmaster_pid, production_sample_ratio
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, drop_database
from tests.support.mailbox import Mailbox

READS = int(os.environ.get("SESSION_BENCH_READS", "3000"))
ROUNDS = int(os.environ.get("SESSION_BENCH_ROUNDS", "3"))
CONCURRENCY = 8
PEOPLE = ("caseworker@demo.test", "admin@demo.test", "approver@demo.test")
CHILD = str(demo.CHILDREN[0]["id"])
VARIANTS = {"asking": "0", "holding": "30"}  # EPEP_SESSION_CACHE_SECONDS of each gateway process


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


async def a_section(session: aiohttp.ClientSession, base: str, cookie: str) -> str:
    """The path of the first section of a PEP of the first demo child (started if it has none)."""
    headers = {"Cookie": cookie}
    async with session.get(f"{base}/api/v1/children/{CHILD}/peps", headers=headers) as resp:
        peps = await resp.json()
    if not peps:
        async with session.post(f"{base}/api/v1/children/{CHILD}/peps", headers=headers, json={
                "kind": "termly_review", "term": "spring", "academic_year": "2026/27"}) as resp:
            assert resp.status == 201, await resp.text()
        async with session.get(f"{base}/api/v1/children/{CHILD}/peps", headers=headers) as resp:
            peps = await resp.json()
    async with session.get(f"{base}/api/v1/peps/{peps[0]['id']}", headers=headers) as resp:
        pep = await resp.json()
    return f"/api/v1/peps/{pep['id']}/sections/{pep['sections'][0]['key']}"


async def batch(session: aiohttp.ClientSession, url: str, cookies: list[str], n: int) -> None:
    """`n` GETs of `url`, CONCURRENCY at a time, the sessions in turn."""
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url, headers={"Cookie": cookies[left % len(cookies)]}) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:300]
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def identity_requests(session: aiohttp.ClientSession, identity: str) -> float:
    """Every HTTP request identity has answered, from its own /metrics."""
    async with session.get(identity + "/metrics") as resp:
        text = await resp.text()
    return sum(float(m.group(1)) for m in re.finditer(r"^epep_http_request_duration_seconds_count\{.*\} (\S+)$",
                                                       text, re.MULTILINE))


async def measured(session: aiohttp.ClientSession, local: LocalSystem, gateway: str, url: str,
                   cookies: list[str], postmaster: int | None) -> dict[str, Any]:
    pids = {"gateway": local.processes[gateway].pid, "identity": local.processes["identity"].pid,
            "pep": local.processes["pep"].pid}
    asked = await identity_requests(session, local.url("identity"))
    before = CpuSample.take(pids, postmaster)
    started = time.monotonic()
    await batch(session, url, cookies, READS)
    seconds = time.monotonic() - started
    after = CpuSample.take(pids, postmaster)
    await asyncio.sleep(1.5)  # the last batch of idle-clock restarts reaches identity: it counts too
    calls = await identity_requests(session, local.url("identity")) - asked
    cpu = per_operation(before, after, READS)
    by_group: dict[str, float] = cpu["by_group_ms"]  # type: ignore[assignment]
    return {"identity_requests_per_read": round(calls / READS, 4), "reads_per_second": round(READS / seconds, 1),
            "cpu_ms_per_read": {g: by_group[g] for g in ("gateway", "identity", "pep", "postgres")},
            "gateway_plus_identity_ms": round(by_group["gateway"] + by_group["identity"], 3)}


async def bench(local: LocalSystem, bases: dict[str, str]) -> dict[str, Any]:
    postmaster = await postmaster_pid(local)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        mailbox = Mailbox(local.maildir)
        cookies = [await sign_in(session, bases["asking"], mailbox, person) for person in PEOPLE]
        path = await a_section(session, bases["asking"], cookies[0])
        for base in bases.values():  # warm: connections, the first-call imports, the held sessions
            await batch(session, base + path, cookies, 300)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in bases}
        for _ in range(ROUNDS):
            for name, base in bases.items():
                gateway = "gateway" if name == "asking" else "gateway-holding"
                rounds[name].append(await measured(session, local, gateway, base + path, cookies, postmaster))
    return {name: {"identity_requests_per_read_median": statistics.median(r["identity_requests_per_read"]
                                                                           for r in rs),
                   "gateway_plus_identity_ms_median": statistics.median(r["gateway_plus_identity_ms"] for r in rs),
                   "rounds": rs} for name, rs in rounds.items()}


def main() -> None:
    """The run's own database and bus prefix, both removed at the end, whatever happens."""
    run = secrets.token_hex(4)
    var = Path(tempfile.mkdtemp(prefix="epep-sessions-"))
    local = LocalSystem(var=var, ports={name: free_port() for name in DEFAULT_PORTS}, database=f"epep_sess_{run}",
                        pg_host=PG_HOST, pg_port=PG_PORT, amqp_url=f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/",
                        bus_prefix=f"s{run}.", environment="test",
                        extra_env={"EPEP_DB_POOL_MAX": "4", "EPEP_TRACES_SAMPLE_RATIO": str(production_sample_ratio())},
                        service_env={"gateway": {"EPEP_SESSION_CACHE_SECONDS": VARIANTS["asking"]}})
    try:
        local.migrate()
        local.seed_demo()
        local.start_all([*DB_SERVICES, "gateway"])  # no portal: the reads go to the gateway
        port = local.start_replica("gateway", "gateway-holding",
                                   env={"EPEP_SESSION_CACHE_SECONDS": VARIANTS["holding"]})
        bases = {"asking": local.url("gateway"), "holding": f"http://127.0.0.1:{port}"}
        report = {"reads_per_round": READS, "rounds": ROUNDS, "concurrency": CONCURRENCY, "sessions": len(PEOPLE),
                  "traces_sample_ratio": production_sample_ratio(), "cpus": os.cpu_count(),
                  "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                  **asyncio.run(bench(local, bases))}
        print(json.dumps(report, indent=2), flush=True)
    finally:
        local.stop_all()
        asyncio.run(drop_database(f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}/postgres", local.database))
        asyncio.run(delete_bus(ServiceSettings(amqp_url=SecretStr(local.amqp_url), bus_prefix=local.bus_prefix,
                                               environment="test")))


if __name__ == "__main__":
    main()
