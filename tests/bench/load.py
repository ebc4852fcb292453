"""The benchmark's users: an HTTP client that times every request by class, a watcher of the mail sink's Maildir
that hands sign-in codes to whoever waits for them, and the PEP cycle itself."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.dataset import PASSWORD, World
from tests.system.test_peps import sample

CODE = re.compile(rb"\b(\d{4} \d{4})\b")
TO = re.compile(rb"^To: *(.+?)\r?$", re.MULTILINE | re.IGNORECASE)
UUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DUE = (date.today() + timedelta(days=14)).isoformat()
DELEGATED = ["education", "attainment", "targets"]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class BenchError(Exception):
    pass


@dataclass
class Client:
    """The gateway's API over one aiohttp session, every request timed under a class name."""

    base: str
    session: aiohttp.ClientSession
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recording: bool = True

    async def call(self, cls: str, method: str, path: str, cookie: str | None = None, body: Any = None,
                   ok: tuple[int, ...] = (200, 201, 202, 204)) -> tuple[int, Any, Any]:
        headers = {"Cookie": cookie} if cookie else {}
        started = time.perf_counter()
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            raw = await resp.read()
            status, resp_headers = resp.status, resp.headers
        elapsed = (time.perf_counter() - started) * 1000
        if self.recording:
            self.timings[cls].append(elapsed)
        data = None
        if raw and resp_headers.get("Content-Type", "").startswith("application/"):
            data = json.loads(raw)
        if status not in ok:
            if self.recording:
                self.errors[f"{cls} {status}"] += 1
            raise BenchError(f"{method} {path}: {status} {str(data)[:300]}")
        return status, data, resp_headers


@dataclass
class MailWatch:
    """Reads each new file of the mail sink's Maildir once: codes go to whoever waits for that address; the rest
    is kept (path, arrival time) to be matched with the actions that caused it at the end."""

    maildir: Path
    seen: set[str] = field(default_factory=set)
    waiting: dict[str, list[asyncio.Future[tuple[str, float]]]] = field(default_factory=lambda: defaultdict(list))
    arrived: list[tuple[Path, float]] = field(default_factory=list)
    code_latencies: list[float] = field(default_factory=list)

    async def run(self) -> None:
        folder = self.maildir / "new"
        while True:
            await asyncio.sleep(0.02)
            if not folder.exists():
                continue
            for entry in os.scandir(folder):
                if entry.name in self.seen:
                    continue
                self.seen.add(entry.name)
                path = Path(entry.path)
                try:
                    raw, mtime = path.read_bytes(), entry.stat().st_mtime
                except FileNotFoundError:
                    continue
                self.arrived.append((path, mtime))
                to = TO.search(raw)
                address = to.group(1).decode().strip().lower() if to else ""
                if self.waiting.get(address):
                    msg = email.message_from_bytes(raw, policy=email.policy.default)
                    body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
                    code = CODE.search(body.get_content().encode() if body else b"")
                    if code:
                        for fut in self.waiting.pop(address):
                            if not fut.done():
                                fut.set_result((code.group(1).decode(), mtime))

    def expect_code(self, address: str) -> asyncio.Future[tuple[str, float]]:
        fut: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()
        self.waiting[address.lower()].append(fut)
        return fut


@dataclass
class Bench:
    client: Client
    world: World
    mail: MailWatch
    sessions: dict[str, str] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    actions: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # id -> when acted on
    plan: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # section -> saves, in order
    owner: dict[str, str] = field(default_factory=dict)  # section -> who writes it
    cycles: list[float] = field(default_factory=list)  # when each finished
    cycle_seconds: list[float] = field(default_factory=list)
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _framework: dict[str, dict[str, Any]] = field(default_factory=dict)  # per LA: every area rated green

    async def sign_in(self, address: str) -> str:
        """Password, then the code from the email. One at a time per person: a new code replaces the last."""
        async with self.locks[address]:
            return await self._sign_in(address)

    async def _sign_in(self, address: str) -> str:
        code = self.mail.expect_code(address)
        _, body, _ = await self.client.call("sign_in", "POST", "/api/v1/auth/sign-in",
                                            body={"email": address, "password": PASSWORD})
        asked = time.time()
        value, mtime = await asyncio.wait_for(code, 60)
        self.mail.code_latencies.append(max(0.0, mtime - asked) * 1000)
        _, _, headers = await self.client.call("sign_in_verify", "POST", "/api/v1/auth/sign-in/verify",
                                               body={"attempt_id": body["attempt_id"], "code": value})
        return str(headers["Set-Cookie"]).split(";")[0]

    async def cookie(self, address: str) -> str:
        """A session kept for people who are signed in all day (the Virtual School, social workers)."""
        if address not in self.sessions:
            async with self.locks[address]:
                if address not in self.sessions:
                    self.sessions[address] = await self._sign_in(address)
        return self.sessions[address]

    def acted(self, *ids: str) -> None:
        now = time.time()
        for i in ids:
            self.actions[i].append(now)

    async def eventually(self, what: str, probe: Any, timeout: float = 60) -> Any:
        """Wait for another service to hear an event; how long it took is kept."""
        started = time.monotonic()
        while True:
            try:
                result = await probe()
            except BenchError:
                result = None
            if result:
                self.waits[what].append((time.monotonic() - started) * 1000)
                return result
            if time.monotonic() - started > timeout:
                raise BenchError(f"never happened: {what}")
            await asyncio.sleep(0.1)

    # ---- learning the template -----------------------------------------------------------------------------

    async def learn(self, child: dict[str, Any], saves: int = 40) -> None:
        """From a PEP's sections, every mandatory answer, split into about `saves` autosaves."""
        sw = await self.cookie(self.world.sw_emails[child["sw_index"]])
        pep_id = str(child["open_pep"])
        overview = (await self.client.call("pep_overview", "GET", f"/api/v1/peps/{pep_id}", sw))[1]
        answers: dict[str, dict[str, Any]] = {}
        for s in overview["sections"]:
            if s["owner"] == "virtual_school":
                continue
            self.owner[s["key"]] = "sw" if s["owner"] == "social_worker" else "dt"
            section = (await self.client.call("section_read", "GET", f"/api/v1/peps/{pep_id}/sections/{s['key']}",
                                              sw))[1]
            answers[s["key"]] = {f["key"]: sample(f) for f in section["definition"]["fields"] if f.get("mandatory")}
        total = sum(len(a) for a in answers.values()) or 1
        for key, fields in answers.items():
            items = list(fields.items())
            parts = max(1, min(len(items), round(saves * len(items) / total)))
            self.plan[key] = [dict(items[n::parts]) for n in range(parts)]

    # ---- one PEP's life ----------------------------------------------------------------------------------

    async def cycle(self, i: int) -> None:
        started = time.monotonic()
        child = self.world.child(i)
        pep_id, la = str(child["open_pep"]), str(child["la_id"])
        c = self.client
        dt = await self.sign_in(self.world.dt_of[child["setting_id"]])  # the DT signs in with the emailed code
        sw = await self.cookie(self.world.sw_emails[child["sw_index"]])
        cw = await self.cookie(self.world.caseworker_of[child["la_id"]][i % 4])
        approver = await self.cookie(self.world.approver_of[child["la_id"]])

        _, task, _ = await c.call("delegate", "POST", f"/api/v1/peps/{pep_id}/delegations", cw,
                                  {"sections": DELEGATED, "due_date": DUE, "note": "Bench"})
        self.acted(task["id"])
        await c.call("pep_overview", "GET", f"/api/v1/peps/{pep_id}", dt)
        for key, saves in self.plan.items():
            who = sw if self.owner[key] == "sw" else dt
            _, section, _ = await c.call("section_read", "GET", f"/api/v1/peps/{pep_id}/sections/{key}", who)
            version = section["version"]
            for answers in saves:
                _, saved, _ = await c.call("section_save", "PUT", f"/api/v1/peps/{pep_id}/sections/{key}", who,
                                           {"answers": answers, "version": version})
                version = saved["version"]
        _, missing, _ = await c.call("missing", "GET", f"/api/v1/peps/{pep_id}/missing", dt)
        if [m for m in missing if self.owner.get(m["section"])]:
            raise BenchError(f"still missing after the planned saves: {missing[:3]}")
        await c.call("submit", "POST", f"/api/v1/peps/{pep_id}/actions/submit", dt, {})
        self.acted(pep_id)

        review = f"/api/v1/peps/{pep_id}/review"
        await self.eventually("qa_hears_submission", lambda: self._reviewable(review, cw))
        areas = await self._areas(la, cw)
        await c.call("review_save", "PUT", review, cw, {"areas": areas, "overall_grade": "green",
                                                        "overall_feedback": "A strong plan"})
        await c.call("review_decide", "POST", f"{review}/decide", cw, {"outcome": "approve"})
        self.acted(pep_id)

        requests = await self.eventually("qa_hears_funding_request", lambda: self._pending(child["id"], approver))
        for r in requests:
            await c.call("funding_decide", "POST", f"/api/v1/funding/{r['id']}/decide", approver,
                         {"decision": "approve"})
            self.acted(str(r["id"]))
        await c.call("tray", "GET", "/api/v1/tasks?tray=current&sort=due", sw)
        await c.call("finalise", "POST", f"/api/v1/peps/{pep_id}/actions/finalise", sw, {})
        self.acted(pep_id)
        await c.call("sign_out", "POST", "/api/v1/auth/sign-out", dt, {})
        self.cycles.append(time.monotonic())
        self.cycle_seconds.append(time.monotonic() - started)

    async def _reviewable(self, review: str, cw: str) -> bool:
        body = (await self.client.call("review_read", "GET", review, cw))[1]
        return bool(body.get("can_review") or body.get("can_decide"))

    async def _pending(self, child_id: uuid.UUID, approver: str) -> list[dict[str, Any]]:
        body = (await self.client.call("funding_read", "GET", f"/api/v1/children/{child_id}/funding", approver))[1]
        return [r for r in body["requests"] if r["status"] == "pending"]

    async def _areas(self, la: str, cw: str) -> dict[str, Any]:
        if la not in self._framework:
            body = (await self.client.call("qa_framework", "GET", f"/api/v1/organisations/{la}/qa-framework", cw))[1]
            self._framework[la] = {a["key"]: {"grade": "green"} for a in body["framework"]["areas"]}
        return self._framework[la]

    # ---- people who only read -------------------------------------------------------------------------------

    def reader_people(self, k: int) -> tuple[str, str]:
        setting, la = self.world.settings[(k * 7919) % len(self.world.settings)]
        return self.world.dt_of[setting], self.world.caseworker_of[la][k % 4]

    async def reader(self, stop: float, k: int, think: float = 1.0) -> None:
        """A DT or caseworker looking at their tray, the dashboard and the QA queue, with a pause between."""
        settings = self.world.settings
        setting, la = settings[(k * 7919) % len(settings)]
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                dt = await self.cookie(self.world.dt_of[setting])
                cw = await self.cookie(self.world.caseworker_of[la][k % 4])
                if k % 2:
                    await self.client.call("tray", "GET", "/api/v1/tasks?tray=current&sort=due", dt)
                elif n % 3 == 0:
                    await self.client.call("qa_queue", "GET", f"/api/v1/qa/queue?la_id={la}", cw)
                else:
                    await self.client.call("dashboard", "GET", f"/api/v1/dashboard?la_id={la}", cw)
            except (BenchError, TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(think)


def event_to_email(actions: dict[str, list[float]], arrived: list[tuple[Path, float]]) -> list[float]:
    """Each email that names something the workload acted on (a task, a PEP, a PP+ request): from the last
    action on it before the email arrived, to the email's arrival in the sink."""
    latencies = []
    for path, mtime in arrived:
        try:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        except FileNotFoundError:
            continue
        body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body else ""
        befores = [t for i in UUIDS.findall(text) for t in actions.get(i, []) if t <= mtime + 0.001]
        if befores:
            latencies.append(max(0.0, mtime - max(befores)) * 1000)
    return latencies
