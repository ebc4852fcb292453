"""The benchmark's data set: several LAs, their settings and people, and children with three terms of PEPs.

People and organisations go in through identity's own code (`accounts.create_organisation`, `create_user`,
`nominate`), so their events cross the bus and every service builds its read models of them as it always does:
a few thousand events, the only way to keep four read models of people consistent without writing them twice.
Children, PEPs, sections, tasks and reviews are hundreds of thousands of rows: those are written with
`copy_records_to_table` straight into each service's schema, connected as that service's own role, in the shape
each service's consumers would have left them (a benchmark fixture, as tests/system/test_dashboard.py does for
qa). Every child has two finalised PEPs (spring and summer of last academic year, each with its completed
delegation and finalise tasks, its QA review and for some a PP+ request) and an open autumn PEP; a third of the
open PEPs already have a task in their setting's tray. The rest are the pool the workload's PEP cycles draw on.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.identity import accounts
from services.identity.domain.passwords import hash_password
from services.identity.membership import nominate
from services.pep import pep_store
from shared import db
from shared.settings import ServiceSettings

PASSWORD = "bench-pass-2026-long"
SEED = 20261126
NS = uuid.UUID("6f1c2b9e-7d43-4b59-9a55-3c1e0b7e0a10")
YEAR_GROUPS = tuple(f"Year {n}" for n in range(1, 12))  # school age: one template
OPEN_TERM, OPEN_YEAR = "autumn", "2026/27"
HISTORY = (("spring", "2025/26", date(2026, 3, 10)), ("summer", "2025/26", date(2026, 6, 16)))


def _id(kind: str, n: int | str) -> uuid.UUID:
    return uuid.uuid5(NS, f"{kind}/{n}")


@dataclass
class World:
    """Who and what the workload may act as and on: fixed by the size, so the same ids every run."""

    children: int
    las: list[uuid.UUID] = field(default_factory=list)
    settings: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)  # (setting, its LA)
    dt_of: dict[uuid.UUID, str] = field(default_factory=dict)  # setting -> DT email
    sw_emails: list[str] = field(default_factory=list)
    caseworker_of: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    approver_of: dict[uuid.UUID, str] = field(default_factory=dict)

    @classmethod
    def of_size(cls, children: int) -> World:
        world = cls(children)
        # All of England in a few large LAs: pessimistic for an LA's dashboard, which grows with the LA.
        world.las = [_id("la", n) for n in range(max(2, min(8, children // 1000)))]
        n_settings = max(20, min(2000, children // 50))
        world.settings = [(_id("setting", n), world.las[n % len(world.las)]) for n in range(n_settings)]
        world.dt_of = {s: f"dt.{n}@bench.test" for n, (s, _) in enumerate(world.settings)}
        world.sw_emails = [f"sw.{n}@bench.test" for n in range(max(10, children // 40))]
        for k, la in enumerate(world.las):
            world.caseworker_of[la] = [f"cw.{k}.{n}@bench.test" for n in range(4)]
            world.approver_of[la] = f"approver.{k}@bench.test"
        return world

    def child(self, i: int) -> dict[str, Any]:
        """Child i, the same every time: where they are and who their social worker is."""
        n = i % len(self.settings)
        setting, la = self.settings[n]
        # One of the social workers of the child's own LA (social worker k works for LA k mod the number of LAs).
        per_la = len(self.sw_emails) // len(self.las)
        sw = n % len(self.las) + len(self.las) * ((i // len(self.settings)) % per_la)
        return {"id": _id("child", i), "la_id": la, "setting_id": setting, "sw_index": sw,
                "social_worker_id": _id("user", self.sw_emails[sw]), "open_pep": _id("pep", f"{i}/open"),
                "year_group": YEAR_GROUPS[i % len(YEAR_GROUPS)], "given_name": "Bench",
                "family_name": f"Child{i:06d}"}

    def in_cycle_pool(self, i: int) -> bool:
        """Children whose open PEP has no task yet: the workload writes these from start to finish."""
        return i % 3 != 0


def user_id(email: str) -> uuid.UUID:
    return _id("user", email)


# ---- people and organisations, through identity --------------------------------------------------------------


async def create_people(settings: ServiceSettings, world: World) -> int:
    """Organisations and accounts, as identity creates them (each publishes its event). Returns how many."""
    conn = await db.connect(settings, "identity")
    password_hash = await hash_password(PASSWORD)
    made = 0
    try:
        async with conn.transaction():
            for k, la in enumerate(world.las):
                made += await accounts.create_organisation(conn, la, f"Bench Virtual School {k}", "local_authority",
                                                           contact_email=f"vs.{k}@bench.test")
            for n, (setting, la) in enumerate(world.settings):
                made += await accounts.create_organisation(conn, setting, f"Bench School {n}", "setting", la,
                                                           setting_type="school", phase="all_through",
                                                           urn=f"9{n:05d}")
            people: list[tuple[str, str, list[tuple[uuid.UUID, str]]]] = []
            for la in world.las:
                people += [(e, "Casey", [(la, "vs_caseworker")]) for e in world.caseworker_of[la]]
                people.append((world.approver_of[la], "April", [(la, "vs_approver")]))
            people += [(e, "Sasha", [(world.las[n % len(world.las)], "social_worker")])
                       for n, e in enumerate(world.sw_emails)]
            people += [(world.dt_of[s], "Devon", [(s, "designated_teacher")]) for s, _ in world.settings]
            for email, given, memberships in people:
                created = await accounts.create_user(conn, user_id(email), email, given, "Bench", password_hash,
                                                     memberships)
                made += created
                for org, role in memberships:
                    if created and role == "designated_teacher":
                        await nominate(conn, org, user_id(email), None)
    finally:
        await conn.close()
    return made


# ---- children and their PEPs, copied into each service's schema -------------------------------------------------


@dataclass
class Rows:
    pep_children: list[tuple[Any, ...]] = field(default_factory=list)
    peps: list[tuple[Any, ...]] = field(default_factory=list)
    sections: list[tuple[Any, ...]] = field(default_factory=list)
    del_children: list[tuple[Any, ...]] = field(default_factory=list)
    del_peps: list[tuple[Any, ...]] = field(default_factory=list)
    tasks: list[tuple[Any, ...]] = field(default_factory=list)
    notify_children: list[tuple[Any, ...]] = field(default_factory=list)
    qa_children: list[tuple[Any, ...]] = field(default_factory=list)
    qa_peps: list[tuple[Any, ...]] = field(default_factory=list)
    reviews: list[tuple[Any, ...]] = field(default_factory=list)
    funding: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS = {
    "pep_children": ("pep", "children", ("id", "la_id", "given_name", "family_name", "date_of_birth", "setting_id",
                                         "year_group", "gender", "social_care_id", "social_worker_id", "version")),
    "peps": ("pep", "peps", ("id", "child_id", "la_id", "setting_id", "template_id", "kind", "term", "academic_year",
                             "status", "meeting_date", "previous_pep_id", "version", "created_by", "created_at",
                             "updated_at")),
    "sections": ("pep", "pep_sections", ("pep_id", "section_key", "answers", "version", "status", "updated_at")),
    "del_children": ("delegation", "children", ("id", "la_id", "setting_id", "social_worker_id", "given_name",
                                                "family_name", "version")),
    "del_peps": ("delegation", "peps", ("id", "child_id", "la_id", "status", "kind", "term", "academic_year",
                                        "meeting_date", "status_version", "started_at")),
    "tasks": ("delegation", "tasks", ("id", "kind", "status", "pep_id", "child_id", "la_id", "setting_id", "sections",
                                      "assignee_user_id", "originator_id", "due_date", "created_at", "updated_at")),
    "notify_children": ("notify", "children", ("id", "version", "la_id", "setting_id", "social_worker_id",
                                               "given_name", "family_name")),
    "qa_children": ("qa", "children", ("id", "la_id", "setting_id", "social_worker_id", "given_name", "family_name",
                                       "year_group", "version")),
    "qa_peps": ("qa", "peps", ("id", "child_id", "la_id", "setting_id", "status", "kind", "term", "academic_year",
                               "meeting_date", "submitted_at", "status_version")),
    "reviews": ("qa", "reviews", ("pep_id", "child_id", "la_id", "submitted_at", "meeting_date", "stage",
                                  "framework_key", "overall_grade", "awarded_grade", "outcome", "by_user", "at")),
    "funding": ("qa", "funding_requests", ("id", "pep_id", "target", "child_id", "la_id", "setting_id", "description",
                                           "amount_requested", "academic_year", "term", "requested_at", "status",
                                           "amount_approved", "decided_by", "decided_at", "financial_year")),
}


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def rows_for(world: World, first: int, last: int, template_id: uuid.UUID, section_keys: list[str]) -> Rows:
    rng = random.Random(SEED + first)
    rows = Rows()
    for i in range(first, last):
        c = world.child(i)
        cid, la, setting, sw = c["id"], c["la_id"], c["setting_id"], c["social_worker_id"]
        dob = date(2021 - int(c["year_group"].split()[1]), 1 + i % 12, 1 + i % 28)
        rows.pep_children.append((cid, la, c["given_name"], c["family_name"], dob, setting, c["year_group"],
                                  ("female", "male")[i % 2], f"BENCH-{i}", sw, 1))
        rows.del_children.append((cid, la, setting, sw, c["given_name"], c["family_name"], 1))
        rows.notify_children.append((cid, 1, la, setting, sw, c["given_name"], c["family_name"]))
        rows.qa_children.append((cid, la, setting, sw, c["given_name"], c["family_name"], c["year_group"], 1))
        caseworker = user_id(world.caseworker_of[la][i % 4])
        previous = None
        for n, (term, year, meeting) in enumerate(HISTORY):
            pep_id = _id("pep", f"{i}/{n}")
            started = _at(meeting - timedelta(days=40), 9)
            submitted = _at(meeting + timedelta(days=rng.randrange(0, 10)), 14)
            decided = submitted + timedelta(days=rng.randrange(1, 8))
            finalised = decided + timedelta(days=2)
            rows.peps.append((pep_id, cid, la, setting, template_id, "termly_review" if previous else "initial", term,
                              year, "finalised", meeting, previous, 4, sw, started, finalised))
            rows.sections += [(pep_id, key, {}, 1, "complete", submitted) for key in section_keys]
            rows.del_peps.append((pep_id, cid, la, "finalised", "termly_review", term, year, meeting, 4, started))
            rows.tasks.append((_id("task", f"{i}/{n}/s"), "complete_sections", "completed", pep_id, cid, la, setting,
                               ["education", "attainment", "targets"], None, caseworker, meeting, started, submitted))
            rows.tasks.append((_id("task", f"{i}/{n}/f"), "finalise", "completed", pep_id, cid, la, None, [], sw, None,
                               None, decided, finalised))
            rows.qa_peps.append((pep_id, cid, la, setting, "finalised", "termly_review", term, year, meeting, submitted,
                                 4))
            # Approved, so rated what Redcar & Cleveland approves: Green (Gold when on time); Amber goes back.
            grade = rng.choice(("green", "green", "gold"))  # the grade shown: Gold is awarded to a Green PEP
            rows.reviews.append((pep_id, cid, la, submitted, meeting, "draft", "redcar_cleveland", "green", grade, None,
                                 caseworker, decided - timedelta(hours=1)))
            rows.reviews.append((pep_id, cid, la, submitted, meeting, "decided", "redcar_cleveland", "green", grade,
                                 "approve", caseworker, decided))
            if rng.random() < 0.3:
                asked = Decimal(rng.randrange(5000, 60000)) / 100
                rows.funding.append((_id("funding", f"{i}/{n}"), pep_id, 1, cid, la, setting, "Tuition", asked, year,
                                     term, submitted, "approved", asked, user_id(world.approver_of[la]), decided,
                                     "2025-26"))
            previous = pep_id
        pep_id = c["open_pep"]
        started = datetime(2026, 9, 20, 9, tzinfo=UTC)
        rows.peps.append((pep_id, cid, la, setting, template_id, "termly_review", OPEN_TERM, OPEN_YEAR, "created",
                          None, previous, 1, sw, started, started))
        rows.sections += [(pep_id, key, {}, 0, "not_started", started) for key in section_keys]
        rows.del_peps.append((pep_id, cid, la, "created", "termly_review", OPEN_TERM, OPEN_YEAR, None, 1, started))
        rows.qa_peps.append((pep_id, cid, la, setting, "created", "termly_review", OPEN_TERM, OPEN_YEAR, None, None, 1))
        if not world.in_cycle_pool(i):
            rows.tasks.append((_id("task", f"{i}/open"), "complete_sections", "assigned", pep_id, cid, la, setting,
                               ["education", "attainment", "targets"], None, caseworker,
                               date.today() + timedelta(days=7 + i % 30), started, started))
    return rows


async def _copy_connection(settings: ServiceSettings, service: str) -> asyncpg.Connection:
    """The service's own role; jsonb in binary form, which COPY needs (a version byte, then the text)."""
    conn = await asyncpg.connect(settings.service_dsn(service), server_settings={"search_path": service})
    await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                              encoder=lambda v: b"\x01" + json.dumps(v).encode(),
                              decoder=lambda b: json.loads(b[1:]))
    return conn


async def copy_children(settings: ServiceSettings, world: World, first: int, last: int,
                        batch: int = 20_000) -> dict[str, int]:
    """Children first..last-1 with their PEPs into every schema that keeps them. Returns rows per table."""
    conns = {s: await _copy_connection(settings, s) for s in ("pep", "delegation", "notify", "qa")}
    counts: dict[str, int] = {}
    try:
        template_id, template = await pep_store.template_for(conns["pep"], world.las[0], "school_age")
        keys = [s.key for s in template.sections]
        for start in range(first, last, batch):
            rows = rows_for(world, start, min(start + batch, last), template_id, keys)
            for name, (service, table, columns) in COLUMNS.items():
                records = getattr(rows, name)
                await conns[service].copy_records_to_table(table, records=records, columns=columns,
                                                           schema_name=service)
                counts[f"{service}.{table}"] = counts.get(f"{service}.{table}", 0) + len(records)
        for service, table, _ in COLUMNS.values():
            await conns[service].execute(f"ANALYZE {table}")
    finally:
        for conn in conns.values():
            await conn.close()
    return counts


async def generate(settings: ServiceSettings, world: World, first: int, last: int) -> dict[str, Any]:
    started = time.monotonic()
    counts = await copy_children(settings, world, first, last)
    return {"seconds": round(time.monotonic() - started, 1), "rows": counts}


async def people_known(settings: ServiceSettings, world: World) -> dict[str, int]:
    """How many of the bench's people each service's read model holds (they arrive by event)."""
    expected = [user_id(e) for e in [*world.dt_of.values(), *world.sw_emails]]
    found = {}
    for service in ("pep", "delegation", "notify", "qa"):
        conn = await asyncpg.connect(settings.service_dsn(service), server_settings={"search_path": service})
        try:
            found[service] = await conn.fetchval("SELECT count(*) FROM users WHERE id = ANY($1::uuid[])", expected)
        finally:
            await conn.close()
    return found
