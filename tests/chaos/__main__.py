"""`make chaos`: complete PEP cycles through the API while faults are made, then a count of anything lost or
doubled. The faults, one kind at a time, each as often as the others:

- `service_kill`        a service replica SIGKILLed and started again;
- `rolling_restart`     every service replica stopped (SIGTERM) and started again, one by one, as a deploy does;
- `rabbitmq_restart`    the broker application of one RabbitMQ node stopped and started;
- `rabbitmq_node_kill`  one RabbitMQ node's VM SIGKILLed (a lost node), then started again to rejoin;
- `rabbitmq_partition`  one RabbitMQ node cut off from the other two, then healed;
- `postgres_restart`    the Postgres primary stopped (immediate or fast) and started;
- `postgres_failover`   the standby promoted and the old primary stopped, then rebuilt as the new standby;
- `smtp_outage`         the mail server away for a while.

Everything runs on infrastructure of the run's own, so the machine's shared servers are never touched: a
three-node RabbitMQ cluster, each node in a network namespace of its own (tests/chaos/rabbit_cluster.py), and a
Postgres primary with a synchronous streaming standby (tests/chaos/pg_standby.py). The services are given every
RabbitMQ node's address and a multi-host Postgres address, as in production. The run is bounded in time and stops
everything it started. It writes var/chaos/report.json and var/chaos/summary.txt, and exits non-zero unless it
passed.

    python -m tests.chaos --cycles 300 --faults 10 --workers 4 --minutes 45
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg

from deploy.local.run import parse_replicas
from deploy.local.system import DB_SERVICES, DEFAULT_PORTS, ROOT, LocalSystem, free_port
from tests.chaos.infra import clear
from tests.chaos.pg_standby import PostgresPair
from tests.chaos.rabbit_cluster import RabbitCluster
from tests.chaos.workload import Cycle, MailIndex, Workload

# Two lanes of faults run side by side, each one fault at a time: the data tier's (never two RabbitMQ nodes or both
# Postgres nodes down at once, so a majority and a primary always come back) and the processes' and mail's. Faults
# of different lanes overlap, as they do in life: a replica killed while a RabbitMQ node is cut off, say.
LANES = (("rabbitmq_restart", "rabbitmq_node_kill", "rabbitmq_partition", "postgres_restart", "postgres_failover"),
         ("service_kill", "rolling_restart", "smtp_outage"))
KINDS = tuple(kind for lane in LANES for kind in lane)
# Retries long enough to outlast any one fault here (a broker boot, an SMTP outage of up to 12 s), short
# enough that the run settles in a minute or two.
RETRY_DELAYS = "[0.5, 1, 2, 3, 5, 5, 10, 10, 15, 15, 20, 30]"


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = ROOT / "var" / "chaos"
        self.pg = PostgresPair(self.var / "pg")
        self.rabbit = RabbitCluster(self.var / "rabbit")
        self.system = LocalSystem(
            var=self.var / "system", ports={name: free_port() for name in DEFAULT_PORTS}, database="epep",
            pg_host="127.0.0.1", pg_port=self.pg.hosts[0][1], pg_hosts=self.pg.hosts_setting(),
            pg_admin_user="postgres", environment="development",
            replicas=parse_replicas(args.replicas),
            extra_env={"EPEP_DB_POOL_MAX": "4", "EPEP_BUS_RETRY_DELAYS": RETRY_DELAYS},
            # A notify killed mid-send leaves its delivery `sending`; the event's retries must outlast the lease
            # before another replica may take it over (120 s by default, longer than these retries).
            service_env={"notify": {"EPEP_SENDING_LEASE_SECONDS": "30"}})
        self.faults: Counter[str] = Counter()
        # Held while a fault stops and starts a process, so that revive() never takes it for one that died.
        self.processes_lock = threading.Lock()
        self.partitions_restarted = 0  # partitioned nodes that stayed paused after the heal, and were restarted
        self.fault_log: list[dict[str, Any]] = []
        self.fault_errors: list[str] = []
        self.unplanned_exits: Counter[str] = Counter()
        self.deadline = time.monotonic() + args.minutes * 60
        self.workload = Workload(self.system.url("gateway"), MailIndex(self.system.maildir))
        self.stopping = False

    # ---- the run ---------------------------------------------------------------------------------

    def start(self) -> None:
        clear(self.var / "pg")  # and the private directories a run killed half way left behind
        clear(self.var / "rabbit")
        shutil.rmtree(self.var / "system", ignore_errors=True)
        self.var.mkdir(parents=True, exist_ok=True)
        say("Starting a private Postgres primary and standby and a three-node RabbitMQ cluster…")
        self.pg.start()
        self.pg.await_streaming(120)
        self.rabbit.start()
        self.rabbit.await_healthy(180)
        self.system.amqp_url = self.rabbit.url  # the nodes' addresses are chosen when the cluster starts
        say(f"  Postgres at {self.pg.hosts_setting()} (primary first, synchronous standby); RabbitMQ nodes "
            f"{', '.join(self.rabbit.nodes)}")
        say("Migrations, demo data, services…")
        self.system.migrate()
        self.system.seed_demo()
        self.system.start_all([*DB_SERVICES, "gateway"])  # no portal: the workload is the API's

    def stop(self) -> None:
        self.system.stop_all()
        self.rabbit.stop()
        self.pg.stop()
        # Their logs are kept in var/chaos/pg and var/chaos/rabbit; their private directories go.
        self.rabbit.remove()
        self.pg.remove()

    def keep_going(self, started: int) -> bool:
        if self.stopping or time.monotonic() > self.deadline - self.args.settle_minutes * 60:
            return False
        return started < self.args.cycles or min(self.faults[k] for k in KINDS) < self.args.faults

    async def run(self) -> None:
        injectors = [asyncio.create_task(self.inject_faults(lane, delay=self.args.fault_every * (1 + n / 2)))
                     for n, lane in enumerate(LANES)]
        progress = asyncio.create_task(self.progress())
        # No new cycle starts once the time for settling is reached; the ones in flight get two more minutes.
        limit = self.deadline - self.args.settle_minutes * 60 - time.monotonic() + 120
        try:
            await asyncio.wait_for(self.workload.run(self.args.workers, self.keep_going), timeout=limit)
        except TimeoutError:
            say("Time is up: the cycles still in flight are counted as failed.")
        finally:
            self.stopping = True
            progress.cancel()
            await asyncio.gather(*injectors)
        say("Workload done; letting the system settle…")
        self.revive()
        await self.settle()

    async def progress(self) -> None:
        began = time.monotonic()
        while True:
            await asyncio.sleep(30)
            cycles = self.workload.cycles
            say(f"  {(time.monotonic() - began) / 60:4.1f} min: {sum(c.finished for c in cycles)} cycles done, "
                f"{sum(bool(c.error) for c in cycles)} failed; faults {dict(self.faults)}")

    # ---- faults ----------------------------------------------------------------------------------

    async def inject_faults(self, kinds: tuple[str, ...], delay: float) -> None:
        """One lane: its kinds in turn, the one made fewest times first, with a pause after each."""
        await asyncio.sleep(delay)
        while not self.stopping:
            fewest = min(self.faults[k] for k in kinds)
            kind = random.choice([k for k in kinds if self.faults[k] == fewest])
            started = time.monotonic()
            try:
                detail = await asyncio.to_thread(self.inject, kind)
            except Exception as exc:  # a fault that could not be made is reported, not counted; the run goes on
                self.fault_errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
                await asyncio.to_thread(self.recover, kind)
                continue
            self.faults[kind] += 1
            self.fault_log.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "kind": kind,
                                   "detail": detail, "seconds": round(time.monotonic() - started, 1)})
            self.revive()
            pause = random.uniform(0.5, 1.5) * self.args.fault_every
            while pause > 0 and not self.stopping:
                await asyncio.sleep(min(pause, 0.5))
                pause -= 0.5

    def inject(self, kind: str) -> str:
        if kind == "service_kill":
            name = random.choice([n for s in DB_SERVICES for n in self.system.replica_names(s)] + ["gateway"])
            with self.processes_lock:
                self.system.kill(name)  # SIGKILL: no graceful anything
                time.sleep(random.uniform(0.5, 3.0))
                self.system.restart(name)
            return name
        if kind == "rolling_restart":
            return self.rolling_restart()
        if kind == "rabbitmq_restart":
            node = random.randrange(len(self.rabbit.nodes))
            self.rabbit.restart_app(node)
            self.rabbit.await_healthy(180)
            return f"broker application of {self.rabbit.nodes[node]} restarted"
        if kind == "rabbitmq_node_kill":
            node = random.randrange(len(self.rabbit.nodes))
            self.rabbit.kill_node(node)
            time.sleep(random.uniform(2.0, 8.0))
            self.rabbit.start_node(node)
            self.rabbit.await_healthy(180)
            return f"{self.rabbit.nodes[node]} killed and started again"
        if kind == "rabbitmq_partition":
            node = random.randrange(len(self.rabbit.nodes))
            away = random.uniform(5.0, 15.0)
            self.rabbit.partition(node)
            time.sleep(away)
            self.rabbit.heal(node)
            try:
                self.rabbit.await_healthy(120)
            except TimeoutError:
                # Mnesia can stay partitioned after a heal under pause_minority (rabbitmq-server#17319) while the
                # quorum queues are fine: the node stays paused. The operator's remedy (docs/operations.md) is to
                # restart it; the run does the same, and the report counts how often it was needed.
                self.partitions_restarted += 1
                self.rabbit.kill_node(node)
                self.rabbit.start_node(node)
                self.rabbit.await_healthy(180)
                return (f"{self.rabbit.nodes[node]} cut off for {away:.0f}s and healed; it stayed paused, "
                        "so it was restarted")
            return f"{self.rabbit.nodes[node]} cut off for {away:.0f}s and healed"
        if kind == "postgres_restart":
            mode = "immediate" if self.faults[kind] % 2 == 0 else "fast"
            self.pg.restart(mode)
            self.pg.await_streaming(120)
            return f"primary stopped ({mode}) and started"
        if kind == "postgres_failover":
            return self.pg.failover()
        away = random.uniform(3.0, 12.0)
        with self.processes_lock:
            self.system.stop("mailsink")
            time.sleep(away)
            self.system.start_mailsink()
        return f"away {away:.0f}s"

    def rolling_restart(self) -> str:
        """Every replica of every service and the gateway, one at a time: stopped as a deploy stops it (SIGTERM,
        a graceful drain), started again, and ready before the next goes."""
        names = [n for s in DB_SERVICES for n in self.system.replica_names(s)] + ["gateway"]
        for name in names:
            with self.processes_lock:
                self.system.stop(name)
                self.system.restart(name)
            self.wait_ready(name)
        return f"{len(names)} processes one by one"

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        service, _, n = name.partition("-")
        port = self.system.replica_ports[service][int(n) - 2] if n else self.system.ports[service]
        deadline = time.monotonic() + timeout
        while not self.system.ready(service, port):
            proc = self.system.processes.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} while restarting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready {timeout:.0f}s after its restart")
            time.sleep(0.2)

    def recover(self, kind: str) -> None:
        """After a fault that went wrong half way: make sure what it stopped runs again."""
        try:
            if kind.startswith("rabbitmq"):
                for node in range(len(self.rabbit.nodes)):
                    self.rabbit.heal(node)
                    if not self.rabbit.running(node):
                        self.rabbit.start_node(node)
            elif kind.startswith("postgres"):
                self.pg.start()  # whichever node is not running, as primary or as a rebuilt standby
            elif kind == "smtp_outage":
                self.system.start_mailsink()
        except Exception as exc:
            self.fault_errors.append(f"recovering from {kind}: {type(exc).__name__}: {str(exc)[:200]}")
        self.revive()

    def revive(self) -> None:
        """A process that died without being killed here is counted and started again. Not while the other lane
        is stopping or starting one (it would look dead for a moment, and be started twice): then next time."""
        if not self.processes_lock.acquire(blocking=False):
            return
        try:
            for name, proc in list(self.system.processes.items()):
                if proc.poll() is not None:
                    self.unplanned_exits[name] += 1
                    self.system.processes.pop(name)
                    self.system.restart(name)
        finally:
            self.processes_lock.release()

    # ---- settling and checking -------------------------------------------------------------------

    async def settle(self) -> None:
        """Until every outbox is published, every queue is empty and every email is out (or time is up)."""
        limit = time.monotonic() + self.args.settle_minutes * 60
        while time.monotonic() < limit:
            try:
                backlog = await self.backlog()
            except (RuntimeError, OSError, asyncpg.PostgresError):
                backlog = {"unknown": 1}  # asked again in a moment
            if not any(backlog.values()):
                return
            await asyncio.sleep(2)
            self.revive()

    async def backlog(self) -> dict[str, int]:
        conn = await self.admin()
        try:
            unpublished = sum([await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL")
                               for s in DB_SERVICES])
            unsent = await conn.fetchval("SELECT count(*) FROM notify.deliveries WHERE status NOT IN "
                                         "('sent', 'permanent_failure')")
        finally:
            await conn.close()
        queued = sum(m for name, m, _ in await asyncio.to_thread(self.rabbit.queues) if not name.endswith(".dlq")
                     and not name.startswith("epep.unrouted"))
        return {"unpublished": int(unpublished), "unsent": int(unsent), "queued": queued}

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.pg.admin_dsn("epep"))

    async def check(self) -> dict[str, Any]:
        cycles = self.workload.cycles
        finished = [c for c in cycles if c.finished]
        conn = await self.admin()
        try:
            lost_writes = await self.lost_writes(conn)
            effects = await self.effects(conn, finished)
            emails = await self.emails(conn, finished)
            outboxes = {s: int(await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL"))
                        for s in DB_SERVICES}
            postgres = str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
        try:
            queues = await asyncio.to_thread(self.rabbit.queues)
        except RuntimeError as exc:
            queues = [(f"(could not list the queues: {exc})".replace(" ", "_") + ".dlq", 1, 0)]
        dead = {name: m for name, m, _ in queues if name.endswith(".dlq") and m}
        failed = [c for c in cycles if not c.finished]
        report = {
            "cycles": len(finished),
            "cycles_started": len(cycles),
            "cycles_failed": len(failed),
            "failures": [{"cycle": c.number, "error": c.error or "stopped by the time limit"} for c in failed][:20],
            "faults_injected": {"total": sum(self.faults.values()), **{k: self.faults[k] for k in KINDS}},
            "acknowledged_saves": len(self.workload.acked_saves),
            "lost_writes": len(lost_writes),
            "lost_write_examples": lost_writes[:10],
            **effects,
            **emails,
            "dead_letters": dead,
            "outbox_backlog": outboxes,
            "unplanned_exits": dict(self.unplanned_exits),
            "fault_errors": self.fault_errors,
            "partitioned_nodes_restarted": self.partitions_restarted,
            "client_retries": self.workload.retries,
            "sign_ins": self.workload.sign_ins,
            "sign_in_codes_refused": self.workload.restarted_sign_ins,
            "replicas": {s: self.system.replicas.get(s, 1) for s in DB_SERVICES},
            "infrastructure": {
                "rabbitmq": f"{len(self.rabbit.nodes)}-node cluster, RabbitMQ {self.rabbit_version()}",
                "postgres": f"PostgreSQL {postgres}, primary and synchronous streaming standby "
                            f"({self.pg.failovers} failovers)"},
        }
        report["passed"] = bool(
            report["cycles"] >= self.args.cycles and not failed
            and all(self.faults[k] >= self.args.faults for k in KINDS)
            and not (report["lost_writes"] or report["lost_emails"] or report["duplicate_emails"]
                     or report["stuck_tasks"] or report["lost_effects"] or report["duplicate_effects"]
                     or dead or any(outboxes.values())))
        return report

    def rabbit_version(self) -> str:
        try:
            return self.rabbit.ctl(0, "version", timeout=30, tries=1).strip()
        except (RuntimeError, subprocess.TimeoutExpired):
            return "(version not known)"

    async def lost_writes(self, conn: asyncpg.Connection) -> list[dict[str, Any]]:
        """Every save the API acknowledged, found in the section's history as that version with those answers."""
        lost = []
        for pep_id, key, version, answers in self.workload.acked_saves:
            stored = await conn.fetchval("SELECT answers::text FROM pep.section_history WHERE pep_id = $1 "
                                         "AND section_key = $2 AND version = $3", pep_id, key, version)
            kept = json.loads(stored) if stored else None
            if kept is None or any(kept.get(k) != v for k, v in answers.items()):
                lost.append({"pep_id": pep_id, "section": key, "version": version})
        return lost

    async def effects(self, conn: asyncpg.Connection, finished: list[Cycle]) -> dict[str, Any]:
        """Each event had its effect once: one delegated task and one finalise task per PEP, both completed;
        one decided review; one PP+ request per target; the next PEP started once; the PEP finalised."""
        lost: list[str] = []
        duplicate: list[str] = []
        stuck: list[str] = []
        for c in finished:
            tasks = await conn.fetch("SELECT id, kind, status FROM delegation.tasks WHERE pep_id = $1", c.pep_id)
            kinds = Counter(t["kind"] for t in tasks)
            for kind in ("complete_sections", "finalise"):
                if kinds[kind] == 0:
                    lost.append(f"{kind} task of {c.pep_id}")
                elif kinds[kind] > 1:
                    duplicate.append(f"{kinds[kind]} {kind} tasks of {c.pep_id}")
            stuck += [str(t["id"]) for t in tasks if t["status"] not in ("completed", "cancelled", "retracted")]
            status = await conn.fetchval("SELECT status FROM pep.peps WHERE id = $1", c.pep_id)
            if status != "finalised":
                lost.append(f"PEP {c.pep_id} is {status}")
            peps = await conn.fetchval("SELECT count(*) FROM pep.peps WHERE child_id = $1", c.child_id)
            if peps != 2:
                (lost if peps < 2 else duplicate).append(f"{peps} PEPs for child {c.child_id} (the next one once)")
            decided = await conn.fetchval("SELECT count(*) FROM qa.reviews WHERE pep_id = $1 AND stage <> 'draft'",
                                          c.pep_id)
            if decided != 1:
                (lost if decided < 1 else duplicate).append(f"{decided} decided reviews of {c.pep_id}")
            doubled = await conn.fetchval("SELECT count(*) FROM (SELECT target FROM qa.funding_requests WHERE "
                                          "pep_id = $1 GROUP BY target HAVING count(*) > 1) d", c.pep_id)
            if doubled:
                duplicate.append(f"PP+ requests doubled on {c.pep_id}")
        # Anything else still open that the workload started and finished is stuck too.
        return {"lost_effects": len(lost), "duplicate_effects": len(duplicate), "stuck_tasks": len(stuck),
                "effect_examples": (lost + duplicate)[:10], "stuck_task_ids": stuck[:10]}

    async def emails(self, conn: asyncpg.Connection, finished: list[Cycle]) -> dict[str, Any]:
        """Every expected email arrived exactly once: per cycle the DT's "A PEP task for you" and "PEP signed
        off"; every delivery notify recorded was sent, is in the mail sink, and only once."""
        mails = await asyncio.to_thread(self.workload.mail.messages)
        lost: list[str] = []
        duplicate: list[str] = []
        for c in finished:
            for subject, link in ((f"A PEP task for you: {c.short_name}", f"/tasks/{c.task_id}"),
                                  ("PEP signed off", f"/peps/{c.pep_id}")):
                n = sum(1 for m in mails if m.to == "dt@demo.test" and m.subject.startswith(subject)
                        and link in m.text)
                if n == 0:
                    lost.append(f"{subject} ({link})")
                elif n > 1:
                    duplicate.append(f"{n}× {subject} ({link})")
        # One message per delivery: the Message-ID carries the delivery's id.
        copies = Counter(m.message_id.split("@")[0].rsplit(".", 1)[-1] for m in mails)
        duplicate += [f"delivery {d} arrived {n} times" for d, n in copies.items() if n > 1]
        rows = await conn.fetch("SELECT id, status FROM notify.deliveries")
        for row in rows:
            if row["status"] != "sent":
                lost.append(f"delivery {row['id']} is {row['status']}")
            elif row["id"].hex not in copies:
                lost.append(f"delivery {row['id']} sent but not in the mail sink")
        twice = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM notify.deliveries GROUP BY event_id, "
                                    "recipient, template HAVING count(*) > 1) d")
        if twice:
            duplicate.append(f"{twice} events made more than one delivery to the same person")
        return {"emails_received": len(mails), "deliveries": len(rows), "lost_emails": len(lost),
                "duplicate_emails": len(duplicate), "email_examples": (lost + duplicate)[:10]}


def say(text: str) -> None:
    print(text, flush=True)


def summary(report: dict[str, Any], seconds: float) -> str:
    f = report["faults_injected"]
    lines = [
        f"Chaos run: {'PASSED' if report['passed'] else 'FAILED'} in {seconds / 60:.1f} min",
        f"  On a {report['infrastructure']['rabbitmq']}; {report['infrastructure']['postgres']}",
        f"  PEP cycles completed: {report['cycles']} of {report['cycles_started']} started "
        f"({report['cycles_failed']} failed)",
        f"  Faults injected: {f['total']}: " + ", ".join(f"{k} {f[k]}" for k in KINDS),
        f"  Saves acknowledged: {report['acknowledged_saves']}, lost: {report['lost_writes']}",
        f"  Effects lost: {report['lost_effects']}, doubled: {report['duplicate_effects']}, "
        f"tasks stuck: {report['stuck_tasks']}",
        f"  Emails: {report['emails_received']} received for {report['deliveries']} deliveries; "
        f"lost {report['lost_emails']}, duplicated {report['duplicate_emails']}",
        f"  Dead letters: {report['dead_letters'] or 'none'}; outbox backlog: "
        f"{sum(report['outbox_backlog'].values())}",
        f"  Partitioned RabbitMQ nodes that stayed paused after the heal and were restarted: "
        f"{report['partitioned_nodes_restarted']}; faults that could not be made: {len(report['fault_errors'])}",
        f"  Processes that died unasked (restarted): {report['unplanned_exits'] or 'none'}; "
        f"client retries after lost answers: {report['client_retries']}",
    ]
    for key in ("failures", "lost_write_examples", "effect_examples", "email_examples"):
        for item in report.get(key) or []:
            lines.append(f"    {key}: {item}")
    return "\n".join(lines)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so `finally` stops everything the run started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=300, help="PEP cycles to complete (at least)")
    parser.add_argument("--faults", type=int, default=10, help="faults of each kind to inject (at least)")
    parser.add_argument("--workers", type=int, default=4, help="cycles in flight at once")
    parser.add_argument("--minutes", type=float, default=60, help="the whole run's time limit")
    parser.add_argument("--settle-minutes", type=float, default=3, help="kept at the end to settle and check")
    parser.add_argument("--fault-every", type=float, default=6, help="seconds between faults, on average")
    parser.add_argument("--replicas", default="pep=2,delegation=2,notify=2,qa=2",
                        help="as make run's REPLICAS; identity and the gateway run once")
    args = parser.parse_args()
    chaos = Chaos(args)
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupted)
    report: dict[str, Any] | None = None
    try:
        chaos.start()
        say(f"Running: {args.cycles} cycles, {args.faults} faults of each kind, {args.workers} at a time, "
            f"at most {args.minutes:.0f} min…")
        asyncio.run(chaos.run())
        report = asyncio.run(chaos.check())
    finally:
        say("Stopping everything the run started…")
        chaos.stop()
    report["seconds"] = round(time.monotonic() - began)
    report["fault_log"] = chaos.fault_log
    (chaos.var / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = summary(report, time.monotonic() - began)
    (chaos.var / "summary.txt").write_text(text + "\n")
    say(text)
    say(f"Report: {chaos.var / 'report.json'}")
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
