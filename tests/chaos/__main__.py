"""`make chaos`: complete PEP cycles through the API while services are SIGKILLed and restarted, RabbitMQ and
Postgres are restarted and the mail server goes away for a while; then a count of anything lost or doubled.

Everything runs on a Postgres cluster and a RabbitMQ node of the run's own (tests/chaos/infra.py), so the
machine's shared ones are never restarted. The run is bounded in time and stops everything it started. It
writes var/chaos/report.json and var/chaos/summary.txt, and exits non-zero unless it passed.

    python -m tests.chaos --cycles 200 --faults 20 --workers 4 --minutes 25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg

from deploy.local.run import parse_replicas
from deploy.local.system import DB_SERVICES, DEFAULT_PORTS, ROOT, LocalSystem, free_port
from tests.chaos.infra import PrivatePostgres, PrivateRabbit, clear
from tests.chaos.workload import Cycle, MailIndex, Workload

KINDS = ("service_kill", "rabbitmq_restart", "postgres_restart", "smtp_outage")
# Retries long enough to outlast any one fault here (a broker boot, an SMTP outage of up to 12 s), short
# enough that the run settles in a minute or two.
RETRY_DELAYS = "[0.5, 1, 2, 3, 5, 5, 10, 10, 15, 15, 20, 30]"


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.var = ROOT / "var" / "chaos"
        self.pg = PrivatePostgres(self.var / "pg")
        self.rabbit = PrivateRabbit(self.var / "rabbit")
        self.system = LocalSystem(
            var=self.var / "system", ports={name: free_port() for name in DEFAULT_PORTS}, database="epep",
            pg_host="127.0.0.1", pg_port=self.pg.port, pg_admin_user="postgres", amqp_url=self.rabbit.url,
            environment="development", replicas=parse_replicas(args.replicas),
            extra_env={"EPEP_DB_POOL_MAX": "4", "EPEP_BUS_RETRY_DELAYS": RETRY_DELAYS},
            # A notify killed mid-send leaves its delivery `sending`; the event's retries must outlast the lease
            # before another replica may take it over (120 s by default, longer than these retries).
            service_env={"notify": {"EPEP_SENDING_LEASE_SECONDS": "30"}})
        self.faults: Counter[str] = Counter()
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
        say("Starting a private Postgres and RabbitMQ…")
        self.pg.start()
        self.rabbit.start()
        self.rabbit.ctl("await_startup")
        say(f"  Postgres on 127.0.0.1:{self.pg.port}, RabbitMQ node {self.rabbit.node} on 127.0.0.1:{self.rabbit.port}")
        say(f"  (their files, until the run ends: {self.pg.home} and {self.rabbit.home})")
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
        injector = asyncio.create_task(self.inject_faults())
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
            await injector
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

    async def inject_faults(self) -> None:
        await asyncio.sleep(self.args.fault_every)
        while not self.stopping:
            fewest = min(self.faults[k] for k in KINDS)
            kind = random.choice([k for k in KINDS if self.faults[k] == fewest])
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
            self.system.kill(name)  # SIGKILL: no graceful anything
            time.sleep(random.uniform(0.5, 3.0))
            self.system.restart(name)
            return name
        if kind == "rabbitmq_restart":
            if self.faults[kind] % 3 == 2:
                self.rabbit.restart_node()
                self.rabbit.ctl("await_startup")
                return "node restarted"
            self.rabbit.restart_app()
            return "broker application restarted"
        if kind == "postgres_restart":
            mode = "immediate" if self.faults[kind] % 2 == 0 else "fast"
            self.pg.restart(mode)
            return f"stopped ({mode}) and started"
        away = random.uniform(3.0, 12.0)
        self.system.stop("mailsink")
        time.sleep(away)
        self.system.start_mailsink()
        return f"away {away:.0f}s"

    def recover(self, kind: str) -> None:
        """After a fault that went wrong half way: make sure what it stopped runs again."""
        try:
            if kind == "rabbitmq_restart" and not self.rabbit.running():
                self.rabbit.stop()
                self.rabbit.start()
            elif kind == "postgres_restart" and not self.pg.running():
                self.pg.start()
        except Exception as exc:
            self.fault_errors.append(f"recovering from {kind}: {type(exc).__name__}: {str(exc)[:200]}")
        self.revive()

    def revive(self) -> None:
        """A process that died without being killed here is counted and started again."""
        for name, proc in list(self.system.processes.items()):
            if proc.poll() is not None:
                self.unplanned_exits[name] += 1
                self.system.processes.pop(name)
                self.system.restart(name)

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
        return await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.pg.port}/epep")

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
            "client_retries": self.workload.retries,
            "sign_ins": self.workload.sign_ins,
            "sign_in_codes_refused": self.workload.restarted_sign_ins,
            "replicas": {s: self.system.replicas.get(s, 1) for s in DB_SERVICES},
        }
        report["passed"] = bool(
            report["cycles"] >= self.args.cycles and not failed
            and all(self.faults[k] >= self.args.faults for k in KINDS)
            and not (report["lost_writes"] or report["lost_emails"] or report["duplicate_emails"]
                     or report["stuck_tasks"] or report["lost_effects"] or report["duplicate_effects"]
                     or dead or any(outboxes.values())))
        return report

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
        f"  PEP cycles completed: {report['cycles']} of {report['cycles_started']} started "
        f"({report['cycles_failed']} failed)",
        f"  Faults injected: {f['total']} — services SIGKILLed {f['service_kill']}, RabbitMQ restarted "
        f"{f['rabbitmq_restart']}, Postgres restarted {f['postgres_restart']}, SMTP away {f['smtp_outage']}",
        f"  Saves acknowledged: {report['acknowledged_saves']}, lost: {report['lost_writes']}",
        f"  Effects lost: {report['lost_effects']}, doubled: {report['duplicate_effects']}, "
        f"tasks stuck: {report['stuck_tasks']}",
        f"  Emails: {report['emails_received']} received for {report['deliveries']} deliveries; "
        f"lost {report['lost_emails']}, duplicated {report['duplicate_emails']}",
        f"  Dead letters: {report['dead_letters'] or 'none'}; outbox backlog: "
        f"{sum(report['outbox_backlog'].values())}",
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
    parser.add_argument("--cycles", type=int, default=200, help="PEP cycles to complete (at least)")
    parser.add_argument("--faults", type=int, default=20, help="faults of each kind to inject (at least)")
    parser.add_argument("--workers", type=int, default=4, help="cycles in flight at once")
    parser.add_argument("--minutes", type=float, default=25, help="the whole run's time limit")
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
