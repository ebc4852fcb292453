"""The chaos run's workload: complete PEP cycles through the gateway's public API, as the people would do them.

A cycle: the DT signs in with the emailed code; the caseworker adds a child; the social worker starts a PEP; the
caseworker delegates the school's sections to the DT; the social worker and the DT answer everything; the DT
records the meeting and submits (which submits the task); the caseworker rates it and approves it in QA; the
approver decides its PP+ requests; the social worker finalises it.

Faults make answers go missing. A call whose answer was lost (no connection, 502/503/504) may or may not have
taken effect, so it is not simply sent again: each step says how to see whether it happened (`done`) and only
repeats when it did not. Only what the API acknowledged counts as acknowledged: every acknowledged save is kept
in `acked_saves`, for the end of the run to find in the database.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from services.pep.domain.core_data import academic_year_label
from shared import demo
from shared.api.qa import VIRTUAL_SCHOOL_FUNDING
from shared.workdays import is_working_day

LA, OAKFIELD, SW = str(demo.LA_ID), str(demo.OAKFIELD), str(demo.account_id("sw"))
PASSWORD = demo.DEMO_PASSWORD
CODE = re.compile(r"\b(\d{4} \d{4})\b")
TRANSIENT = (0, 500, 502, 503, 504)  # 0: no answer at all
DELEGATED = ["education", "attainment", "targets"]


class CycleFailed(Exception):
    pass


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    message_id: str


@dataclass
class MailIndex:
    """What the mail sink stored, read once per file: a chaos run leaves thousands of messages."""
    maildir: Path
    seen: dict[str, Mail] = field(default_factory=dict)

    def messages(self) -> list[Mail]:
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if not folder.exists():
                continue
            for path in folder.iterdir():
                if path.name in self.seen:
                    continue
                try:
                    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                except OSError:
                    continue
                assert isinstance(msg, EmailMessage)
                body = msg.get_body(preferencelist=("plain",))
                self.seen[path.name] = Mail(str(msg["To"]).lower(), str(msg["Subject"]),
                                            body.get_content() if body else "", str(msg["Message-ID"]))
        return list(self.seen.values())


def sample(definition: dict[str, Any]) -> Any:
    """A valid answer for any question, whatever the template asks."""
    kind = definition["type"]
    if kind in ("text", "long_text"):
        return f"Written during the chaos run {secrets.token_hex(3)}"
    if kind == "date":
        return "2026-12-01"
    if kind == "time":
        return "15:30"
    if kind == "yes_no":
        return True
    if kind == "single_choice":
        values = [o["value"] for o in definition["options"]]
        if definition.get("key") == "funding_type":  # the Virtual School's PP+: only that reaches qa's queue
            return next((v for v in values if v in VIRTUAL_SCHOOL_FUNDING), values[0])
        return values[0]
    if kind == "multiple_choice":
        return [definition["options"][0]["value"]]
    if kind in ("number", "score"):
        return int(definition.get("minimum") or 0) + 1
    if kind == "money":
        return "25.00"
    row = {f["key"]: sample(f) for f in definition["fields"] if f.get("mandatory")}
    return [dict(row) for _ in range(max(definition.get("min_rows") or 0, 1))]


def last_working_day_before(day: date) -> date:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


@dataclass
class Cycle:
    number: int
    child_id: str = ""
    pep_id: str = ""
    task_id: str = ""
    short_name: str = ""
    finished: bool = False
    error: str = ""


@dataclass
class Workload:
    gateway: str
    mail: MailIndex
    step_timeout: float = 240.0
    acked_saves: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    retries: int = 0
    sign_ins: int = 0
    restarted_sign_ins: int = 0  # a code refused, so the sign-in started again
    _session: aiohttp.ClientSession | None = None
    _cookies: dict[str, str] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _used_codes: set[str] = field(default_factory=set)

    # ---- HTTP ------------------------------------------------------------------------------------

    async def send(self, method: str, path: str, body: Any = None, cookie: str | None = None) -> tuple[int, Any]:
        """One attempt: (status, JSON body); status 0 when no answer came back."""
        assert self._session is not None
        headers = {"Cookie": cookie} if cookie else {}
        try:
            async with self._session.request(method, self.gateway + path, json=body, headers=headers,
                                             timeout=aiohttp.ClientTimeout(total=30)) as resp:
                raw = await resp.read()
                data = None
                if raw and resp.content_type.endswith("json"):
                    data = await resp.json(content_type=None)
                if resp.status == 200 and path == "/api/v1/auth/sign-in/verify":
                    data = {**(data or {}), "cookie": resp.headers.get("Set-Cookie", "").split(";")[0]}
                return resp.status, data
        except (TimeoutError, aiohttp.ClientError):
            return 0, None

    async def step(self, what: str, attempt: Callable[[], Awaitable[tuple[int, Any]]],
                   done: Callable[[], Awaitable[Any]] | None = None, *, ok: tuple[int, ...] = (200, 201, 202),
                   wait_on: tuple[int, ...] = ()) -> Any:
        """Do `what` until acknowledged. After a lost answer (or a conflict that a lost answer explains), `done`
        says whether it had already happened. `wait_on`: answers meaning "not yet" (an event still on its way)."""
        deadline = time.monotonic() + self.step_timeout
        delay = 0.3
        while True:
            status, body = await attempt()
            if status in ok:
                return body
            if status in TRANSIENT or status == 409 or status in wait_on:
                if status in TRANSIENT or status == 409:
                    self.retries += 1
                if done is not None:
                    found = await self._quietly(done)
                    if found:
                        return found
            else:
                raise CycleFailed(f"{what}: {status} {str(body)[:300]}")
            if time.monotonic() > deadline:
                raise CycleFailed(f"{what}: still {status} after {self.step_timeout:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 3.0)

    async def _quietly(self, check: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await check()
        except CycleFailed:
            return None

    async def get(self, path: str, cookie: str) -> Any:
        """A read: repeated until it is answered (reads change nothing, so repeating is always safe)."""
        return await self.step(f"GET {path}", lambda: self.send("GET", path, cookie=cookie))

    async def eventually(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        """Wait for an event's effect to show."""
        deadline = time.monotonic() + self.step_timeout
        while True:
            found = await check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise CycleFailed(f"never happened: {what}")
            await asyncio.sleep(0.5)

    # ---- signing in ------------------------------------------------------------------------------

    async def sign_in(self, email_address: str) -> str:
        """A session cookie, through the emailed code. One sign-in per address at a time, so the newest code
        that nobody has used is this attempt's. As a person would, it starts again when a code is refused and no
        other comes: the code may have been used by a verification whose answer was lost (Postgres restarting as
        it committed), and the lost answer cannot be asked for again."""
        lock = self._locks.setdefault(email_address, asyncio.Lock())
        async with lock:
            deadline = time.monotonic() + self.step_timeout
            while time.monotonic() < deadline:
                since = time.time() - 1
                started = await self.step("sign in", lambda: self.send(
                    "POST", "/api/v1/auth/sign-in", {"email": email_address, "password": PASSWORD}), ok=(202,))
                attempt_id = started["attempt_id"]
                patience = time.monotonic() + 90  # for this attempt's code, through an SMTP outage and retries
                while time.monotonic() < min(patience, deadline):
                    code = await self._new_code(email_address, since)
                    if code is None:
                        await asyncio.sleep(0.3)
                        continue
                    self._used_codes.add(code)
                    status, body = await self.send("POST", "/api/v1/auth/sign-in/verify",
                                                   {"attempt_id": attempt_id, "code": code})
                    while status in TRANSIENT:  # verifying again is safe: a used code is refused, not doubled
                        await asyncio.sleep(1)
                        status, body = await self.send("POST", "/api/v1/auth/sign-in/verify",
                                                       {"attempt_id": attempt_id, "code": code})
                    if status == 200:
                        self.sign_ins += 1
                        return str(body["cookie"])
                    # Refused: an earlier attempt's code arriving late (this attempt's may still come), or this
                    # attempt's, already used. Wait a little for another, then start again.
                    self.restarted_sign_ins += 1
                    patience = min(patience, time.monotonic() + 15)
            raise CycleFailed(f"no sign-in code for {email_address}")

    async def _new_code(self, to: str, since: float) -> str | None:
        messages = await asyncio.to_thread(self.mail.messages)
        for mail in reversed(messages):
            if mail.to == to and (match := CODE.search(mail.text)) and match.group(1) not in self._used_codes:
                return match.group(1)
        return None

    async def cookie(self, role: str) -> str:
        if role not in self._cookies:
            self._cookies[role] = await self.sign_in(f"{role}@demo.test")
        return self._cookies[role]

    # ---- a PEP's sections ------------------------------------------------------------------------

    async def save(self, cookie: str, pep_id: str, key: str, answers: dict[str, Any]) -> None:
        path = f"/api/v1/peps/{pep_id}/sections/{key}"
        state: dict[str, Any] = {}

        async def attempt() -> tuple[int, Any]:
            section = await self.get(path, cookie)
            status, body = await self.send("PUT", path, {"answers": answers, "version": section["version"]}, cookie)
            if status == 200:
                state["acked"] = body
            return status, body

        async def done() -> Any:
            section = await self.get(path, cookie)
            return section if all(section["answers"].get(k) == v for k, v in answers.items()) else None

        await self.step(f"save {key}", attempt, done, wait_on=(403,))
        if "acked" in state:  # the API said it was saved, as this version: the end of the run looks for it
            self.acked_saves.append((pep_id, key, int(state["acked"]["version"]), answers))

    async def answer_what_is_missing(self, cookie: str, pep_id: str, sections: set[str]) -> None:
        for _ in range(20):
            gaps = [g for g in await self.get(f"/api/v1/peps/{pep_id}/missing", cookie) if g["section"] in sections]
            if not gaps:
                return
            key = gaps[0]["section"]
            section = await self.get(f"/api/v1/peps/{pep_id}/sections/{key}", cookie)
            fields = {f["key"]: f for f in section["definition"]["fields"]}
            changes: dict[str, Any] = {}
            for gap in (g for g in gaps if g["section"] == key):
                top, *rest = gap["field"].split(".")
                if not rest:
                    changes[top] = sample(fields[top])
                else:
                    rows = changes.get(top) or list(section["answers"].get(top) or [])
                    column = next(f for f in fields[top]["fields"] if f["key"] == rest[1])
                    rows[int(rest[0]) - 1] = {**rows[int(rest[0]) - 1], rest[1]: sample(column)}
                    changes[top] = rows
            await self.save(cookie, pep_id, key, changes)
        raise CycleFailed(f"the missing answers never ran out on {pep_id}")

    # ---- a whole cycle ---------------------------------------------------------------------------

    async def run_cycle(self, cycle: Cycle) -> None:
        dt = await self.sign_in("dt@demo.test")  # a fresh sign-in every cycle, with its emailed code
        cw, sw, approver = await self.cookie("caseworker"), await self.cookie("sw"), await self.cookie("approver")
        surname = f"Chaos{secrets.token_hex(4)}"

        async def child_made() -> Any:
            found = await self.get(f"/api/v1/children?q={surname}", cw)
            return next(iter(found["items"]), None)

        child = await self.step("add a child", lambda: self.send("POST", "/api/v1/children", {
            "la_id": LA, "given_name": "Robin", "family_name": surname, "date_of_birth": "2015-03-01",
            "setting_id": OAKFIELD, "year_group": "Year 5", "social_worker_id": SW}, cw), child_made)
        cycle.child_id, cycle.short_name = child["id"], f"Robin {surname[0]}."

        async def pep_started() -> Any:
            return next(iter(await self.get(f"/api/v1/children/{cycle.child_id}/peps", sw)), None)

        pep = await self.step("start a PEP", lambda: self.send("POST", f"/api/v1/children/{cycle.child_id}/peps", {
            "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, sw),
            pep_started, wait_on=(403, 404))  # pep may not have heard yet that the child is the SW's
        cycle.pep_id = pep["id"]

        async def delegated() -> Any:
            tasks = await self.get(f"/api/v1/peps/{cycle.pep_id}/tasks", cw)
            return next((t for t in tasks if t["kind"] == "complete_sections"), None)

        due = (date.today() + timedelta(days=30)).isoformat()
        task = await self.step("delegate to the DT", lambda: self.send(
            "POST", f"/api/v1/peps/{cycle.pep_id}/delegations", {"sections": DELEGATED, "due_date": due}, cw),
            delegated)
        cycle.task_id = task["id"]

        overview = await self.eventually("pep hears of the delegation", self._delegated_seen(cycle.pep_id, cw))
        by_owner: dict[str, set[str]] = {}
        for s in overview["sections"]:
            by_owner.setdefault(s["owner"], set()).add(s["key"])
        await self.answer_what_is_missing(sw, cycle.pep_id, by_owner.get("social_worker", set()))
        await self.answer_what_is_missing(dt, cycle.pep_id, by_owner.get("designated_teacher", set())
                                          | by_owner.get("young_person", set()) | by_owner.get("carer", set()))
        meeting = last_working_day_before(date.today()).isoformat()
        await self.save(dt, cycle.pep_id, "meeting", {"meeting_date": meeting})
        await self.action(dt, cycle.pep_id, "submit", {"submitted"})
        await self.eventually("the task is submitted", self._task_status(cycle, cw, {"submitted", "completed"}))

        # QA: the caseworker rates every area Green and approves.
        review = f"/api/v1/peps/{cycle.pep_id}/review"
        await self.eventually("the PEP reaches QA", self._queued(cycle.pep_id, cw))
        framework = (await self.get(f"/api/v1/organisations/{LA}/qa-framework", cw))["framework"]
        areas = {a["key"]: {"grade": "green"} for a in framework["areas"]}
        await self.step("rate", lambda: self.send("PUT", review, {"areas": areas, "overall_grade": "green"}, cw))

        async def approved() -> Any:
            return (p := await self.get(f"/api/v1/peps/{cycle.pep_id}", cw))["status"] in ("approved", "finalised") \
                and p

        await self.step("approve in QA", lambda: self.send("POST", f"{review}/decide", {"outcome": "approve"}, cw),
                        approved)

        # PP+: every request the PEP's targets made is approved.
        requests = await self.eventually("the PP+ requests reach qa", self._funding(cycle.pep_id, cw))
        for request in requests:
            async def decided(rid: str = request["id"]) -> Any:
                found = await self.get(f"/api/v1/funding?la_id={LA}&status=pending", approver)
                return all(r["id"] != rid for r in found["items"])

            await self.step("decide PP+", lambda rid=request["id"]: self.send(
                "POST", f"/api/v1/funding/{rid}/decide", {"decision": "approve"}, approver), decided)

        await self.eventually("the finalise task", self._finalise_task(cycle, sw))
        await self.action(sw, cycle.pep_id, "finalise", {"finalised"})
        cycle.finished = True

    async def action(self, cookie: str, pep_id: str, name: str, after: set[str]) -> None:
        async def happened() -> Any:
            return (p := await self.get(f"/api/v1/peps/{pep_id}", cookie))["status"] in after and p

        await self.step(name, lambda: self.send("POST", f"/api/v1/peps/{pep_id}/actions/{name}", {}, cookie),
                        happened)

    def _delegated_seen(self, pep_id: str, cookie: str) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            overview = await self.get(f"/api/v1/peps/{pep_id}", cookie)
            return overview if all(s.get("delegated") for s in overview["sections"] if s["key"] in DELEGATED) \
                else None
        return check

    def _task_status(self, cycle: Cycle, cookie: str, wanted: set[str]) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            return (await self.get(f"/api/v1/tasks/{cycle.task_id}", cookie))["status"] in wanted
        return check

    def _queued(self, pep_id: str, cookie: str) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            items = (await self.get(f"/api/v1/qa/queue?la_id={LA}", cookie))["items"]
            return next((i for i in items if i["pep_id"] == pep_id), None)
        return check

    def _funding(self, pep_id: str, cookie: str) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            found = await self.get(f"/api/v1/funding?la_id={LA}&status=pending", cookie)
            mine = [r for r in found["items"] if r["pep_id"] == pep_id]
            return mine or None
        return check

    def _finalise_task(self, cycle: Cycle, cookie: str) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            tasks = await self.get(f"/api/v1/peps/{cycle.pep_id}/tasks", cookie)
            return any(t["kind"] == "finalise" for t in tasks)
        return check

    # ---- running many --------------------------------------------------------------------------------

    async def run(self, workers: int, keep_going: Callable[[int], bool]) -> None:
        """`workers` cycles at a time while keep_going(cycles started so far) says so."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as self._session:
            await asyncio.gather(*(self._worker(keep_going) for _ in range(workers)))
        self._session = None

    async def _worker(self, keep_going: Callable[[int], bool]) -> None:
        while keep_going(len(self.cycles)):
            cycle = Cycle(len(self.cycles) + 1)
            self.cycles.append(cycle)
            try:
                await self.run_cycle(cycle)
            except CycleFailed as exc:
                cycle.error = str(exc)
