"""`make bench`: does all of England fit on this machine? Not part of `make test`.

    .venv/bin/python -m tests.bench.run        # BENCH_CHILDREN=100000 BENCH_SECONDS=120 BENCH_USERS=24

1. A database and RabbitMQ vhost of its own (dropped at the end) and free ports: the system as `make run` starts
   it (deploy/local/system.py), with the development mail sink. People and organisations go in through identity
   (their events build every read model); children and three terms of PEPs are copied in (tests/bench/dataset.py).
2. Task tray and dashboard latency with a tenth of the children, then with all of them.
3. The machine's ceilings: a bare aiohttp JSON endpoint, and `pgbench -N` on a database of its own; against them
   the gateway's authenticated reads and section saves, each flat out for a few seconds.
4. The mixed workload: BENCH_USERS people each writing PEPs start to finish (sign-in with the emailed code,
   delegation, ~40 autosaves, submit, QA review, PP+ decision, finalise), while others read trays, the dashboard
   and the QA queue; the bus and emails live. RSS of every process sampled throughout.
5. var/bench/report.json and a summary on stdout. Traces are sampled as deploy/k8s/configmap.yaml sets
   EPEP_TRACES_SAMPLE_RATIO for production (BENCH_TRACES_SAMPLE_RATIO=1 for an A/B), and the report says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml
from aiohttp import web
from pydantic import SecretStr

from deploy.local.system import DB_SERVICES, DEFAULT_PORTS, ROOT, SERVICES, LocalSystem, free_port
from shared.bus import delete_topology
from shared.service import SETTINGS
from shared.settings import ServiceSettings
from tests.bench import dataset
from tests.bench.cpu import CpuSample, parse_stat, per_operation
from tests.bench.load import Bench, BenchError, Client, MailWatch, event_to_email, percentile
from tests.conftest import AMQP_HOST, AMQP_PORT, PG_HOST, PG_PORT, drop_database

CHILDREN = int(os.environ.get("BENCH_CHILDREN", "100000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "120"))
USERS = int(os.environ.get("BENCH_USERS", "24"))
READERS = int(os.environ.get("BENCH_READERS", "20"))
CEILING_SECONDS = float(os.environ.get("BENCH_CEILING_SECONDS", "10"))
TARGETS = {"cycles_per_second": 10, "p99_ms": 250, "event_to_email_p99_ms": 500, "gateway_read_ratio": 0.25,
           "save_ratio": 0.3, "scaling": 1.5, "rss_mb": 120, "cpu_ms_per_read": 2.0}
BARE_APP = """
import sys
from aiohttp import web
async def hello(request):
    return web.json_response({"id": "0b7e0a10", "status": "created", "sections": [1, 2, 3]})
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _rabbitmqctl(*args: str) -> bool:
    try:
        return bool(shutil.which("rabbitmqctl")) and subprocess.run(
            ["rabbitmqctl", "-q", *args], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary_of(timings: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {cls: {"count": len(v), "p50_ms": round(percentile(v, 50), 1), "p99_ms": round(percentile(v, 99), 1)}
            for cls, v in sorted(timings.items())}


async def flat_out(seconds: float, concurrency: int, request: Any) -> tuple[float, list[float]]:
    """As many requests as `concurrency` workers can make in `seconds`: requests per second and latencies."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def worker(k: int) -> None:
        n = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            await request(k, n)
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1
    started = time.monotonic()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return len(latencies) / (time.monotonic() - started), latencies


async def bare_aiohttp_rps(session: aiohttp.ClientSession) -> float:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_APP, str(port))
    try:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/") as resp:
                    await resp.read()
                    break
            await asyncio.sleep(0.05)

        async def hit(k: int, n: int) -> None:
            async with session.get(f"http://127.0.0.1:{port}/") as resp:
                await resp.read()
        rps, _ = await flat_out(CEILING_SECONDS, 32, hit)
        return rps
    finally:
        proc.terminate()
        await proc.wait()


def pgbench_tps(admin_user: str) -> float:
    """pgbench's simple-update script (-N) on a database of its own, created and dropped here."""
    name = f"epep_pgbench_{secrets.token_hex(4)}"
    base = ["-h", PG_HOST, "-p", str(PG_PORT), "-U", admin_user]
    subprocess.run(["createdb", *base, name], check=True, capture_output=True)
    try:
        subprocess.run(["pgbench", *base, "-i", "-q", "-s", "4", name], check=True, capture_output=True)
        out = subprocess.run(["pgbench", *base, "-N", "-c", "8", "-j", "2", "-T", str(int(CEILING_SECONDS)), name],
                             check=True, capture_output=True, text=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("tps"))
        return float(line.split("=")[1].split()[0])
    finally:
        subprocess.run(["dropdb", *base, "--force", name], capture_output=True)


async def probe_reads(bench: Bench, seconds: float) -> dict[str, dict[str, float]]:
    """Task trays and dashboards, four at a time, for `seconds`: their latency at the data set's current size."""
    world = bench.world
    probe = Client(bench.client.base, bench.client.session)
    people = [(world.dt_of[s], world.caseworker_of[la][0], la) for s, la in world.settings[:40]]
    cookies = {a: await bench.cookie(a) for dt, cw, _ in people for a in (dt, cw)}

    async def one(k: int, n: int) -> None:
        dt, cw, la = people[(k * 13 + n) % len(people)]
        with contextlib.suppress(BenchError):
            if n % 2:
                await probe.call("tray", "GET", "/api/v1/tasks?tray=current&sort=due", cookies[dt])
            else:
                await probe.call("dashboard", "GET", f"/api/v1/dashboard?la_id={la}", cookies[cw])
    await flat_out(seconds, 4, one)
    return summary_of(probe.timings)


async def postmaster_pid(local: LocalSystem) -> int | None:
    """The bench's Postgres server: the parent of the backend that answers our own connection (None if that
    backend is not on this machine, e.g. Postgres in a container)."""
    conn = await asyncpg.connect(f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}/postgres")
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        with open(f"/proc/{backend}/stat") as f:
            return parse_stat(f.read()).ppid
    except OSError:
        return None
    finally:
        await conn.close()


async def ceilings(bench: Bench, local: LocalSystem) -> dict[str, Any]:
    world, session = bench.world, bench.client.session
    log("ceiling: bare aiohttp")
    bare = await bare_aiohttp_rps(session)
    log("ceiling: pgbench -N")
    pg = await asyncio.to_thread(pgbench_tps, "postgres")
    # Social workers' own children that are not in the cycle pool: reads and saves on their open PEPs.
    children = [world.child(i) for i in range(0, min(world.children, 3000), 3)]
    sws = sorted({c["sw_index"] for c in children})[:16]
    cookies = {n: await bench.cookie(world.sw_emails[n]) for n in sws}
    mine = [c for c in children if c["sw_index"] in cookies]
    probe = Client(bench.client.base, session)
    postmaster = await postmaster_pid(local)
    pids = {name: proc.pid for name, proc in local.processes.items() if proc.poll() is None}
    log("gateway: authenticated reads")

    async def read(k: int, n: int) -> None:
        c = mine[(k * 31 + n) % len(mine)]
        await probe.call("ceiling_read", "GET", f"/api/v1/peps/{c['open_pep']}/sections/personal",
                         cookies[c["sw_index"]])
    cpu_before = CpuSample.take(pids, postmaster)
    read_rps, read_lat = await flat_out(CEILING_SECONDS, 32, read)
    cpu_after = CpuSample.take(pids, postmaster)
    read_cpu = per_operation(cpu_before, cpu_after, len(read_lat))
    read_cpu["postmaster_pid"] = postmaster
    log("gateway: section saves")
    versions: dict[str, int] = {}
    text_field = next(k for part in bench.plan["personal"] for k, v in part.items() if isinstance(v, str))

    async def save(k: int, n: int) -> None:
        c = mine[(k * 31 + n) % len(mine)]
        pep = str(c["open_pep"])
        if pep not in versions:
            versions[pep] = (await probe.call("section_read", "GET", f"/api/v1/peps/{pep}/sections/personal",
                                              cookies[c["sw_index"]]))[1]["version"]
        try:
            body = (await probe.call("ceiling_save", "PUT", f"/api/v1/peps/{pep}/sections/personal",
                                     cookies[c["sw_index"]], {"answers": {text_field: f"Save {n}"},
                                                              "version": versions[pep]}))[1]
            versions[pep] = body["version"]
        except BenchError:
            versions.pop(pep, None)  # somebody saved in between (or the field is unknown): read it again
            raise
    # Two workers never share a PEP: k*31+n over a list of distinct PEPs collides rarely, and a 409 is counted.
    save_rps, save_lat = await flat_out(CEILING_SECONDS, 32, _tolerant(save))
    return {"bare_aiohttp_rps": round(bare, 1), "pgbench_tps": round(pg, 1),
            "gateway_read_rps": round(read_rps, 1), "section_save_rps": round(save_rps, 1),
            "gateway_read_p99_ms": round(percentile(read_lat, 99), 1),
            "section_save_p99_ms": round(percentile(save_lat, 99), 1),
            "save_errors": dict(probe.errors), "read_cpu": read_cpu}


def _tolerant(fn: Any) -> Any:
    async def call(k: int, n: int) -> None:
        with contextlib.suppress(BenchError):
            await fn(k, n)
    return call


async def mixed(bench: Bench, local: LocalSystem, seconds: float) -> dict[str, Any]:
    world = bench.world
    # Taken from the end (pop): the warm-up cycles and the ceilings used the first children.
    pool = [i for i in range(world.children) if world.in_cycle_pool(i)]
    failures: list[str] = []
    rss: dict[str, float] = {}
    stop = time.monotonic() + seconds

    # People arrive over RAMP seconds, not all at the same instant (44 sign-ins at once queue behind argon2 for
    # longer than the gateway waits); after a failure a person pauses before the next PEP, as people do.
    ramp = min(seconds / 4, 0.5 * USERS)

    async def writer(k: int) -> None:
        await asyncio.sleep(ramp * k / USERS)
        while time.monotonic() < stop and pool:
            try:
                await bench.cycle(pool.pop())
            except (BenchError, TimeoutError, KeyError, aiohttp.ClientError) as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                await asyncio.sleep(2)

    async def reader(k: int) -> None:
        await asyncio.sleep(ramp * k / max(1, READERS))
        await bench.reader(stop, k)

    async def sample_rss() -> None:
        while time.monotonic() < stop:
            for name, proc in local.processes.items():
                rss[name] = max(rss.get(name, 0.0), rss_mb(proc.pid))
            await asyncio.sleep(2)
    bench.client.timings.clear()
    bench.client.errors.clear()
    bench.mail.code_latencies.clear()
    bench.cycles.clear()
    bench.cycle_seconds.clear()
    bench.waits.clear()
    load_before = os.getloadavg()
    started = time.monotonic()
    await asyncio.gather(*(writer(k) for k in range(USERS)), *(reader(k) for k in range(READERS)), sample_rss())
    elapsed = time.monotonic() - started
    requests = sum(len(v) for v in bench.client.timings.values())
    # Sustained: the cycles finished once everyone had arrived, over the time since.
    after_ramp = [t for t in bench.cycles if t >= started + ramp]
    return {"seconds": round(elapsed, 1), "ramp_seconds": ramp, "cycles": len(bench.cycles),
            "cycles_per_second": round(len(after_ramp) / max(1.0, elapsed - ramp), 2),
            "requests_per_second": round(requests / elapsed, 1),
            "cycle_seconds_p50": round(percentile(bench.cycle_seconds, 50), 2),
            "latency": summary_of(bench.client.timings), "errors": dict(bench.client.errors),
            "failed_cycles": len(failures), "failures_sample": failures[:5],
            "sign_in_code_email_p99_ms": round(percentile(bench.mail.code_latencies, 99), 1),
            "waits_for_events_p99_ms": {k: round(percentile(v, 99), 1) for k, v in bench.waits.items()},
            "rss_mb": {k: round(v, 1) for k, v in sorted(rss.items())},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def production_sample_ratio() -> float:
    """EPEP_TRACES_SAMPLE_RATIO as deploy/k8s/configmap.yaml sets it: the bench measures what production runs."""
    for doc in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "configmap.yaml").read_text()):
        if doc and doc["metadata"]["name"] == "epep-common":
            return float(doc["data"]["EPEP_TRACES_SAMPLE_RATIO"])
    raise BenchError("deploy/k8s/configmap.yaml has no epep-common ConfigMap")


def tracing_of(ratio: float) -> dict[str, Any]:
    """What the report says of tracing: the ratio the system ran with, and whether it is production's."""
    production = production_sample_ratio()
    return {"traces_sample_ratio": ratio, "production_traces_sample_ratio": production,
            "sampler": f"ParentBased(TraceIdRatioBased({ratio}))",
            "setting": "production" if ratio == production else "NOT production (BENCH_TRACES_SAMPLE_RATIO)"}


def start_system(local: LocalSystem) -> None:
    """Every process `make run` starts. The workload never uses the portal, so the bench goes on without it if
    its assets are missing (being rebuilt), and says so."""
    local.start_mailsink()
    for service in SERVICES:
        local.start(service)
    local.wait_ready([s for s in SERVICES if s != "portal"])
    try:
        local.wait_ready(["portal"], timeout=20)
    except (RuntimeError, TimeoutError) as exc:
        log(f"going on without the portal: {exc}")


def check_alive(local: LocalSystem) -> None:
    for name, proc in local.processes.items():
        if proc.poll() is not None and name != "portal":
            raise BenchError(f"{name} exited with {proc.returncode}; see {local.var}/log/{name}.log")


async def wait_for_people(local: LocalSystem, settings: ServiceSettings, world: dataset.World,
                          timeout: float = 600) -> float:
    started = time.monotonic()
    expected = len(world.dt_of) + len(world.sw_emails)
    while True:
        check_alive(local)
        known = await dataset.people_known(settings, world)
        if all(n >= expected for n in known.values()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise BenchError(f"read models never heard of everyone: {known} of {expected}")
        await asyncio.sleep(1)


async def bench_main(local: LocalSystem, settings: ServiceSettings) -> dict[str, Any]:
    world = dataset.World.of_size(CHILDREN)
    report: dict[str, Any] = {"children": CHILDREN, "las": len(world.las), "settings": len(world.settings),
                              "social_workers": len(world.sw_emails), "cpus": os.cpu_count(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    log(f"people and organisations through identity ({len(world.settings)} settings, {len(world.las)} LAs)")
    started = time.monotonic()
    await dataset.create_people(settings, world)
    report["people_seconds"] = round(time.monotonic() - started, 1)
    tenth = max(1000, CHILDREN // 10)
    log(f"children 0..{tenth} copied in")
    report["generate_first"] = await dataset.generate(settings, world, 0, tenth)
    log("starting the system")
    await asyncio.to_thread(start_system, local)
    report["people_events_seconds"] = round(await wait_for_people(local, settings, world), 1)
    log(f"read models hold every person after {report['people_events_seconds']} s")

    mail = MailWatch(local.maildir)
    watcher = asyncio.create_task(mail.run())
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        bench = Bench(Client(local.url("gateway"), session), world, mail)
        first = next(i for i in range(world.children) if world.in_cycle_pool(i))
        await bench.learn(world.child(first))
        log(f"template learnt: {sum(len(v) for v in bench.plan.values())} saves a cycle; warming up")
        bench.client.recording = False
        warm_pool = [i for i in range(1, 200) if world.in_cycle_pool(i)]
        await asyncio.gather(*(bench.cycle(warm_pool[k]) for k in range(min(4, len(warm_pool)))))
        bench.client.recording = True
        log("tray and dashboard with a tenth of the children")
        small = await probe_reads(bench, 10)
        log(f"children {tenth}..{CHILDREN} copied in")
        report["generate_rest"] = await dataset.generate(settings, world, tenth, CHILDREN)
        log("tray and dashboard with all of them")
        large = await probe_reads(bench, 10)
        report["scaling"] = {"children_small": tenth, "children_large": CHILDREN, "small": small, "large": large,
                             "tray_p99_ratio": _ratio(large, small, "tray"),
                             "dashboard_p99_ratio": _ratio(large, small, "dashboard")}
        report["ceilings"] = await ceilings(bench, local)
        # Readers have been signed in all morning: only the writers' sign-ins are part of the workload.
        for k in range(READERS):
            for address in bench.reader_people(k):
                await bench.cookie(address)
        log(f"mixed workload: {USERS} writing PEPs, {READERS} reading, {SECONDS:.0f} s")
        result = await mixed(bench, local, SECONDS)
        report.update(result)
        log("waiting for the last emails")
        await asyncio.sleep(5)
        latencies = event_to_email(bench.actions, mail.arrived)
        report["emails"] = len(mail.arrived)
        report["emails_matched"] = len(latencies)
        report["event_to_email_p50_ms"] = round(percentile(latencies, 50), 1)
        report["event_to_email_p99_ms"] = round(percentile(latencies + mail.code_latencies, 99), 1)
    watcher.cancel()
    c = report["ceilings"]
    report["gateway_read_ratio"] = round(c["gateway_read_rps"] / c["bare_aiohttp_rps"], 3)
    report["save_ratio"] = round(c["section_save_rps"] / c["pgbench_tps"], 3)
    report["cpu_ms_per_read"] = c["read_cpu"]["cpu_ms_per_read"]
    report["cpu_ms_per_read_by_group"] = c["read_cpu"]["by_group_ms"]
    report["targets"] = TARGETS
    report["meets"] = meets(report)
    return report


def _ratio(large: dict[str, dict[str, float]], small: dict[str, dict[str, float]], cls: str) -> float | None:
    if cls not in large or cls not in small or not small[cls]["p99_ms"]:
        return None
    return round(large[cls]["p99_ms"] / small[cls]["p99_ms"], 2)


def meets(r: dict[str, Any]) -> dict[str, bool]:
    p99s = [v["p99_ms"] for v in r["latency"].values()]
    scaling = [x for x in (r["scaling"]["tray_p99_ratio"], r["scaling"]["dashboard_p99_ratio"]) if x is not None]
    return {"cycles_per_second": r["cycles_per_second"] >= TARGETS["cycles_per_second"],
            "p99_every_class": bool(p99s) and max(p99s) < TARGETS["p99_ms"],
            "event_to_email_p99": r["event_to_email_p99_ms"] < TARGETS["event_to_email_p99_ms"],
            "gateway_read_ratio": r["gateway_read_ratio"] >= TARGETS["gateway_read_ratio"],
            "save_ratio": r["save_ratio"] >= TARGETS["save_ratio"],
            "tray_and_dashboard_scaling": bool(scaling) and max(scaling) <= TARGETS["scaling"],
            "rss_every_service": bool(r["rss_mb"]) and max(r["rss_mb"].values()) < TARGETS["rss_mb"],
            "cpu_ms_per_read": r["cpu_ms_per_read"] <= TARGETS["cpu_ms_per_read"]}


def readable(r: dict[str, Any]) -> str:
    yes = {True: "met", False: "NOT met"}
    m = r["meets"]
    lines = [f"ePEP bench: {r['children']:,} children in {r['las']} LAs, {r['settings']} settings; "
             f"{r['cpus']} CPUs, load average {r['load_average_before']} before the workload",
             f"  cycles/s            {r['cycles_per_second']:>8}  (target ≥ 10: {yes[m['cycles_per_second']]}); "
             f"{r['cycles']} cycles, {r['failed_cycles']} failed, a cycle takes {r['cycle_seconds_p50']} s (p50)",
             f"  requests/s          {r['requests_per_second']:>8}",
             f"  event→email p99     {r['event_to_email_p99_ms']:>8} ms (target < 500: "
             f"{yes[m['event_to_email_p99']]}); {r['emails']} emails",
             f"  gateway_read_ratio  {r['gateway_read_ratio']:>8}  ({r['ceilings']['gateway_read_rps']} ÷ bare aiohttp "
             f"{r['ceilings']['bare_aiohttp_rps']} rps; target ≥ 0.25: {yes[m['gateway_read_ratio']]})",
             f"  save_ratio          {r['save_ratio']:>8}  ({r['ceilings']['section_save_rps']} saves/s ÷ pgbench "
             f"{r['ceilings']['pgbench_tps']} tps; target ≥ 0.3: {yes[m['save_ratio']]})",
             f"  tray p99 ×{r['scaling']['tray_p99_ratio']}, dashboard p99 ×{r['scaling']['dashboard_p99_ratio']} "
             f"from {r['scaling']['children_small']:,} to {r['scaling']['children_large']:,} children "
             f"(target ≤ 1.5: {yes[m['tray_and_dashboard_scaling']]})",
             f"  cpu_ms_per_read     {r['cpu_ms_per_read']:>8}  (CPU of every process of the system, Postgres and "
             f"RabbitMQ, per authenticated section read flat out; target ≤ 2.0: {yes[m['cpu_ms_per_read']]})",
             "    " + ", ".join(f"{g} {v}" for g, v in r["cpu_ms_per_read_by_group"].items())
             + f" ms; load generator {r['ceilings']['read_cpu']['load_generator_ms_not_counted']} ms, not counted",
             f"  p99 < 250 ms every class: {yes[m['p99_every_class']]}"]
    if "tracing" in r:
        t = r["tracing"]
        lines.insert(1, f"  tracing: {t['sampler']}, a share of {t['traces_sample_ratio']} of new traces recorded "
                        f"({t['setting']} setting; deploy/ sets {t['production_traces_sample_ratio']})")
    for cls, v in r["latency"].items():
        lines.append(f"    {cls:<18} n={v['count']:<6} p50 {v['p50_ms']:>7} ms   p99 {v['p99_ms']:>7} ms")
    lines.append(f"  RSS < 120 MB every process: {yes[m['rss_every_service']]}")
    lines.append("    " + ", ".join(f"{k} {v} MB" for k, v in r["rss_mb"].items()))
    return "\n".join(lines)


async def delete_bus(settings: ServiceSettings) -> None:
    """The bench's own prefixed queues and exchanges, when it ran without a vhost of its own."""
    names: list[str] = []
    for service in DB_SERVICES:
        spec = importlib.import_module(f"services.{service}.app").SPEC
        app = web.Application()
        app[SETTINGS] = spec.settings_class(**settings.model_dump())
        names += [sub.name for sub in (spec.subscriptions(app) if spec.subscriptions else [])]
    await delete_topology(settings, names)


def main() -> None:
    run = secrets.token_hex(4)
    vhost = f"epep_bench_{run}"
    # A vhost of its own only when asked: rabbitmqctl's vhost commands can hang on a busy shared broker, and a
    # name prefix on the default vhost isolates the run as well (its queues are deleted at the end).
    if os.environ.get("BENCH_VHOST") and _rabbitmqctl("add_vhost", vhost) and _rabbitmqctl(
            "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"):
        amqp_url, prefix = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}", ""
    else:
        vhost, prefix = "", f"b{run}."
        amqp_url = os.environ.get("BENCH_AMQP_URL", f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/")
    var = Path(tempfile.mkdtemp(prefix="epep-bench-"))
    sample_ratio = ServiceSettings(traces_sample_ratio=os.environ.get("BENCH_TRACES_SAMPLE_RATIO",
                                                                      production_sample_ratio()),
                                   environment="test").traces_sample_ratio  # validated as the services will
    local = LocalSystem(var=var, ports={name: free_port() for name in DEFAULT_PORTS}, database=f"epep_bench_{run}",
                        pg_host=PG_HOST, pg_port=PG_PORT, amqp_url=amqp_url, bus_prefix=prefix, environment="test",
                        # Five connections a service: plenty for two cores, and the machine's Postgres
                        # (max_connections 100) is shared with the test runs of everyone else.
                        extra_env={"EPEP_DB_POOL_MAX": os.environ.get("BENCH_DB_POOL_MAX", "5"),
                                   # Traces sampled as in production (deploy/k8s/configmap.yaml), unless told.
                                   "EPEP_TRACES_SAMPLE_RATIO": str(sample_ratio)})
    settings = ServiceSettings(pg_host=PG_HOST, pg_port=PG_PORT, pg_database=local.database,
                               amqp_url=SecretStr(amqp_url), bus_prefix=prefix, environment="test")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        log(f"database {local.database}, vhost {vhost or '(name prefix ' + prefix + ')'}; logs in {var}/log")
        local.migrate()
        report = asyncio.run(bench_main(local, settings))
        report["tracing"] = tracing_of(sample_ratio)
        report["total_seconds"] = round(time.monotonic() - started, 1)
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        text = readable(report)
        (out / "summary.txt").write_text(text + "\n")
        print(text, flush=True)
        log(f"written {out / 'report.json'}")
    finally:
        local.stop_all()
        if (var / "log").exists():  # the services' logs of the last run, for whatever the report shows
            shutil.rmtree(out / "log", ignore_errors=True)
            shutil.copytree(var / "log", out / "log")
        asyncio.run(drop_database(f"postgresql://{local.pg_admin_user}@{PG_HOST}:{PG_PORT}/postgres", local.database))
        if vhost:
            _rabbitmqctl("delete_vhost", vhost)
        else:
            asyncio.run(delete_bus(settings))
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
