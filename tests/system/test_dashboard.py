"""The Virtual School's dashboard at volume: 10,000 children and PEPs of generated data (seeded, so a failure can be
replayed) written straight into qa's read models for Northshire, with reviews by two caseworkers, delegation's tasks
(due dates), PP+ requests, automatic termly payments and the attendance and attainment each submission recorded;
every figure the dashboard gives equals the test's own count
of what it generated plus what qa already held for Northshire. Filters narrow the figures exactly as the test's count
says; another LA's Virtual School gets 404."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import statistics
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
import holidays
import pytest

from services.qa.domain.frameworks import FRAMEWORKS
from shared import demo
from shared.csvcells import NUMBER
from tests.conftest import RunningSystem

N = 10_000
SEED = 20261126
NORTHSHIRE = demo.OTHER_LA_ID
STATUSES = ("created", "in_progress", "submitted", "returned", "approved", "finalised", "cancelled")
SUBMITTED = ("submitted", "returned", "approved", "finalised")
YEARS = ("2025/26", "2026/27")
TERMS = ("autumn", "spring", "summer")
AREAS = ("Literacy", "Numeracy", "Social and emotional wellbeing", "Attendance", None)
INTERVENTIONS = ("1:1 tuition", "Mentoring", "Equipment", "Trips and activities", None)
GRADES = ("green", "amber", "red")
YEAR_GROUPS = ("Nursery", "Reception", *(f"Year {n}" for n in range(1, 14)), None)
KEY_STAGES = {"EYFS": {"Nursery", "Reception"}, "KS1": {"Year 1", "Year 2"},
              "KS2": {"Year 3", "Year 4", "Year 5", "Year 6"}, "KS3": {"Year 7", "Year 8", "Year 9"},
              "KS4": {"Year 10", "Year 11"}, "KS5": {"Year 12", "Year 13"}}
FORMULA_AREA = "=HYPERLINK(\"http://example.test\")"
SOCIAL_WORKERS = (uuid.UUID(int=7001), uuid.UUID(int=7002), uuid.UUID(int=7003), None)
CASEWORKERS = (demo.account_id("admin2"), uuid.UUID(int=8001))
TASK_STATUSES = ("assigned", "in_progress", "returned", "submitted", "completed", "cancelled")
OPEN_TASKS = ("assigned", "in_progress", "returned")
PROGRESS = ("due", "overdue", "no_due_date", "awaiting_qa", "completed")
BANDS = ("below_90", "90_to_95", "95_plus")
COMPARED = ("significantly_below", "below", "at", "above")
PROGRESS_SINCE = ("less_than_expected", "expected", "more_than_expected")
REDCAR = FRAMEWORKS["redcar_cleveland"]
UK = ZoneInfo("Europe/London")
BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2025, 2028))

PEP_COLUMNS = ("id", "child_id", "la_id", "setting_id", "status", "kind", "term", "academic_year", "meeting_date",
               "submitted_at", "status_version")
REVIEW_COLUMNS = ("pep_id", "child_id", "la_id", "submitted_at", "meeting_date", "stage", "framework_key",
                  "overall_grade", "awarded_grade", "outcome", "reason", "by_user", "at")
FUNDING_COLUMNS = ("id", "pep_id", "target", "child_id", "la_id", "setting_id", "description", "area_of_focus",
                   "intervention_type", "amount_requested", "academic_year", "term", "requested_at", "status",
                   "amount_approved", "decided_by", "decided_at", "financial_year")
TASK_COLUMNS = ("id", "pep_id", "la_id", "kind", "status", "due_date", "version")
OUTCOME_COLUMNS = ("pep_id", "child_id", "la_id", "attended_sessions", "possible_sessions", "submitted_at")
ATTAINMENT_COLUMNS = ("pep_id", "row_number", "subject", "compared_with_are", "progress")
TERMLY_COLUMNS = ("id", "child_id", "la_id", "pep_id", "setting_id", "academic_year", "term", "amount",
                  "amount_due", "financial_year", "paid_at")


def uk_today() -> date:
    """The day qa counts overdue on (its clock is the system's in this test run)."""
    return datetime.now(UK).date()


@dataclass
class Data:
    """PEPs, reviews (in the order written: the last of a PEP is its latest), PP+ requests and children (by id), as
    dicts."""

    peps: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    children: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    termly: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    attainment: list[dict[str, Any]] = field(default_factory=list)


def generate(rng: random.Random, settings: list[uuid.UUID | None]) -> tuple[Data, list[tuple[Any, ...]]]:
    data, children = Data(), []
    today = uk_today()
    for i in range(N):
        child_id, pep_id = uuid.uuid4(), uuid.uuid4()
        setting = rng.choice(settings)
        year_group, social_worker = rng.choice(YEAR_GROUPS), rng.choice(SOCIAL_WORKERS)
        children.append((child_id, NORTHSHIRE, setting, social_worker, "Gen", f"Child{i:05d}", year_group, 1))
        data.children[child_id] = {"year_group": year_group, "social_worker_id": social_worker}
        status = rng.choice(STATUSES)
        meeting = date(2025, 9, 1) + timedelta(days=rng.randrange(330)) if rng.random() < 0.9 else None
        submitted_at = None
        if status in SUBMITTED or (status == "cancelled" and rng.random() < 0.3):
            # Within minutes of midnight now and then: the UK date, not UTC's, is the day it was submitted.
            base = meeting or date(2026, 1, 5)
            submitted_at = datetime(base.year, base.month, base.day, tzinfo=UTC) + timedelta(
                days=rng.randrange(0, 22), minutes=rng.choice([rng.randrange(1440), 23 * 60 + 30, 22 * 60 + 50]))
        pep = {"id": pep_id, "child_id": child_id, "la_id": NORTHSHIRE, "setting_id": setting, "status": status,
               "kind": "termly", "term": rng.choice(TERMS), "academic_year": rng.choice(YEARS),
               "meeting_date": meeting, "submitted_at": submitted_at, "status_version": 3}
        data.peps.append(pep)
        # delegation's tasks on the PEP: open ones due around today (or with no date), and closed ones.
        for _ in range(rng.choice((0, 1, 1, 2))):
            data.tasks.append({"id": uuid.uuid4(), "pep_id": pep_id, "la_id": NORTHSHIRE,
                               "kind": rng.choice(("complete_sections", "amend", "finalise")),
                               "status": rng.choice(TASK_STATUSES), "version": 1,
                               "due_date": today + timedelta(days=rng.randrange(-40, 40)) if rng.random() < 0.85
                               else None})
        if status in ("approved", "finalised") and rng.random() < 0.5:
            paid = datetime(2025, 9, 1, tzinfo=UTC) + timedelta(days=rng.randrange(400))
            due = rng.choice((Decimal("210.50"), Decimal("300.00")))
            # One in ten terms is settled with nothing paid: the child's allocation was used up.
            data.termly.append({"id": uuid.uuid4(), "child_id": child_id, "la_id": NORTHSHIRE, "pep_id": pep_id,
                                "setting_id": setting, "academic_year": pep["academic_year"], "term": pep["term"],
                                "amount": Decimal("0.00") if rng.random() < 0.1 else due, "amount_due": due,
                                "financial_year": "2025-26" if paid.date() < date(2026, 4, 1) else "2026-27",
                                "paid_at": paid})
        if submitted_at is not None and rng.random() < 0.8:
            # What the submission recorded: attendance this year (none now and then) and subject rows.
            possible = rng.choice((0, rng.randrange(1, 400), rng.randrange(100, 400), rng.randrange(100, 400)))
            attended = possible - min(possible, rng.choice((0, 1, 3, 8, 15, 40, rng.randrange(possible + 1))))
            data.outcomes.append({"pep_id": pep_id, "child_id": child_id, "la_id": NORTHSHIRE,
                                  "attended_sessions": attended, "possible_sessions": possible,
                                  "submitted_at": submitted_at})
            for row in range(rng.randrange(5)):
                data.attainment.append({"pep_id": pep_id, "row_number": row + 1, "subject": "Maths",
                                        "compared_with_are": rng.choice((*COMPARED, None)),
                                        "progress": rng.choice((*PROGRESS_SINCE, None))})
        if submitted_at is None or rng.random() < 0.15:
            continue
        caseworker = rng.choice(CASEWORKERS)

        def review(sub: datetime, stage: str, at: datetime, grade: str | None, outcome: str | None = None,
                   pep: dict[str, Any] = pep, caseworker: uuid.UUID = caseworker) -> None:
            data.reviews.append({
                "pep_id": pep["id"], "child_id": pep["child_id"], "la_id": NORTHSHIRE, "submitted_at": sub,
                "meeting_date": pep["meeting_date"], "stage": stage, "framework_key": "redcar_cleveland",
                "overall_grade": grade, "awarded_grade": REDCAR.awarded_grade(grade, pep["meeting_date"], sub),
                "outcome": outcome, "reason": "Needs more" if outcome == "return" else None,
                "by_user": caseworker if stage != "confirmed" else CASEWORKERS[0], "at": at})

        if rng.random() < 0.3:
            # An earlier submission, returned: it was decided too, and counts in the turnaround.
            earlier = submitted_at - timedelta(days=rng.randrange(3, 20), minutes=rng.randrange(600))
            decided = earlier + timedelta(minutes=rng.randrange(30, 60 * 24 * 9))
            review(earlier, "draft", decided - timedelta(minutes=5), "amber")
            review(earlier, "decided", decided, rng.choice(("amber", "red")), "return")
        grade = rng.choice(GRADES)
        at = submitted_at + timedelta(minutes=rng.randrange(30, 60 * 24 * 14))
        review(submitted_at, "draft", at - timedelta(minutes=10), grade)
        if status in ("approved", "finalised"):
            review(submitted_at, "decided", at, grade, "approve")
            if rng.random() < 0.4:
                review(submitted_at, "confirmed", at + timedelta(days=1), rng.choice(GRADES), "approve")
        elif status == "returned":
            review(submitted_at, "decided", at, grade, "return")
        for target in range(rng.choice((0, 0, 1, 2, 3))):
            asked = Decimal(rng.randrange(1000, 120000)) / 100
            state = rng.choice(("pending", "approved", "approved", "refused", "more_information"))
            approved = (asked if rng.random() < 0.6 else (asked * Decimal("0.5")).quantize(Decimal("0.01"))) \
                if state == "approved" else None
            data.funding.append({
                "id": uuid.uuid4(), "pep_id": pep_id, "target": target + 1, "child_id": child_id,
                "la_id": NORTHSHIRE, "setting_id": setting, "description": "Generated",
                "area_of_focus": rng.choice(AREAS), "intervention_type": rng.choice(INTERVENTIONS),
                "amount_requested": asked, "academic_year": pep["academic_year"], "term": pep["term"],
                "requested_at": submitted_at, "status": state, "amount_approved": approved,
                "decided_by": caseworker if state != "pending" else None,
                "decided_at": at if state != "pending" else None, "financial_year": "2025-26"})
    # One request whose area and intervention a spreadsheet would take for formulas: the CSV must not.
    first = data.peps[0]
    data.funding.append({
        "id": uuid.uuid4(), "pep_id": first["id"], "target": 9, "child_id": first["child_id"], "la_id": NORTHSHIRE,
        "setting_id": first["setting_id"], "description": "Generated", "area_of_focus": FORMULA_AREA,
        "intervention_type": "@SUM(A1:A9)", "amount_requested": Decimal("12.34"), "academic_year":
        first["academic_year"], "term": first["term"], "requested_at": datetime(2025, 10, 1, tzinfo=UTC),
        "status": "approved", "amount_approved": Decimal("12.34"), "decided_by": CASEWORKERS[0],
        "decided_at": datetime(2025, 10, 2, tzinfo=UTC), "financial_year": "2025-26"})
    return data, children


async def _copy(dsn: str, data: Data, children: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("children", schema_name="qa", records=children, columns=[
                "id", "la_id", "setting_id", "social_worker_id", "given_name", "family_name", "year_group", "version"])
            for table, columns, rows in (("peps", PEP_COLUMNS, data.peps), ("reviews", REVIEW_COLUMNS, data.reviews),
                                         ("funding_requests", FUNDING_COLUMNS, data.funding),
                                         ("pep_tasks", TASK_COLUMNS, data.tasks),
                                         ("termly_payments", TERMLY_COLUMNS, data.termly),
                                         ("pep_outcomes", OUTCOME_COLUMNS, data.outcomes),
                                         ("pep_attainment", ATTAINMENT_COLUMNS, data.attainment)):
                await conn.copy_records_to_table(table, schema_name="qa", columns=list(columns),
                                                 records=[tuple(r[c] for c in columns) for r in rows])
        # As after any bulk load (tests/bench/dataset.py does the same): until autovacuum gets round to it the
        # planner takes the tables for nearly empty, and a filter by caseworker ran the PP+ counts as a nested loop
        # of every approved request by every PEP, 4-5 s each, over the gateway's 10 s (a flaky 503).
        for table in ("children", "peps", "reviews", "funding_requests", "pep_tasks", "termly_payments",
                      "pep_outcomes", "pep_attainment"):
            await conn.execute(f"ANALYZE qa.{table}")
    finally:
        await conn.close()


def existing(system: RunningSystem, generated: set[uuid.UUID]) -> Data:
    """What qa holds for Northshire besides the generated PEPs (earlier tests' and the demo's)."""
    peps = [dict(r) for r in system.admin_sql("SELECT * FROM qa.peps WHERE la_id = $1", NORTHSHIRE)
            if r["id"] not in generated]
    reviews = [dict(r) for r in system.admin_sql("SELECT * FROM qa.reviews WHERE la_id = $1 ORDER BY id", NORTHSHIRE)
               if r["pep_id"] not in generated]
    funding = [dict(r) for r in system.admin_sql("SELECT * FROM qa.funding_requests WHERE la_id = $1", NORTHSHIRE)
               if r["pep_id"] not in generated]
    children = {r["id"]: {"year_group": r["year_group"], "social_worker_id": r["social_worker_id"]}
                for r in system.admin_sql("SELECT * FROM qa.children WHERE la_id = $1", NORTHSHIRE)
                if r["id"] not in generated}
    tasks = [dict(r) for r in system.admin_sql("SELECT * FROM qa.pep_tasks WHERE la_id = $1", NORTHSHIRE)
             if r["pep_id"] not in generated]
    termly = [dict(r) for r in system.admin_sql("SELECT * FROM qa.termly_payments WHERE la_id = $1", NORTHSHIRE)
              if r["pep_id"] not in generated]
    outcomes = [dict(r) for r in system.admin_sql("SELECT * FROM qa.pep_outcomes WHERE la_id = $1", NORTHSHIRE)
                if r["pep_id"] not in generated]
    attainment = [dict(r) for r in system.admin_sql(
        "SELECT a.* FROM qa.pep_attainment a JOIN qa.pep_outcomes o ON o.pep_id = a.pep_id WHERE o.la_id = $1",
        NORTHSHIRE) if r["pep_id"] not in generated]
    return Data(peps, reviews, funding, children, tasks, termly, outcomes, attainment)


@dataclass
class Generated:
    data: Data
    ids: set[uuid.UUID]
    settings: list[uuid.UUID | None]
    seconds: float


@pytest.fixture(scope="module")
def generated(system: RunningSystem) -> Iterator[Generated]:
    rng = random.Random(SEED)
    settings: list[uuid.UUID | None] = [demo.HILLSIDE, uuid.UUID(int=rng.getrandbits(128)), None]
    started = time.monotonic()
    data, children = generate(rng, settings)
    asyncio.run(_copy(system.admin_dsn, data, children))
    ids = {p["id"] for p in data.peps} | set(data.children)
    try:
        yield Generated(data, ids, settings, time.monotonic() - started)
    finally:
        # Gone again, so later tests see Northshire as they would have.
        peps, child_ids = list(ids), [c[0] for c in children]
        for sql, these in (("DELETE FROM qa.pep_outcomes WHERE pep_id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.pep_tasks WHERE pep_id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.termly_payments WHERE pep_id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.reviews WHERE pep_id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.funding_requests WHERE pep_id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.peps WHERE id = ANY($1::uuid[])", peps),
                           ("DELETE FROM qa.children WHERE id = ANY($1::uuid[])", child_ids)):
            system.admin_sql(sql, these)


# ---- the test's own count ----------------------------------------------------------------------------------------


def working_days_after(meeting: date, day: date) -> int:
    """How many working days (Monday to Friday, not an England and Wales bank holiday) fall after the meeting up to
    and including `day`."""
    n, d = 0, meeting
    while d < day:
        d += timedelta(days=1)
        n += d.weekday() < 5 and d not in BANK_HOLIDAYS
    return n


def on_time(meeting: date, day: date) -> bool:
    """Submitted no later than the 10th working day after the meeting: fewer than 10 have passed, or it is the
    10th itself (a weekend or bank holiday after the 10th is already late)."""
    n = working_days_after(meeting, day)
    return n < 10 or (n == 10 and day.weekday() < 5 and day not in BANK_HOLIDAYS)


def latest_awarded(data: Data) -> dict[uuid.UUID, str | None]:
    """Each PEP's latest decided or confirmed review's awarded grade."""
    return {r["pep_id"]: r["awarded_grade"] for r in data.reviews if r["stage"] in ("decided", "confirmed")}


def expected(data: Data, filters: dict[str, Any], today: date) -> dict[str, Any]:
    awarded = latest_awarded(data)
    reviewers: dict[uuid.UUID, set[Any]] = defaultdict(set)
    for r in data.reviews:
        reviewers[r["pep_id"]].add(r["by_user"])

    def keep(p: dict[str, Any]) -> bool:
        child = data.children.get(p["child_id"], {})
        for k, v in filters.items():
            if k == "key_stage":
                if child.get("year_group") not in KEY_STAGES[v]:
                    return False
            elif k == "social_worker_id":
                if child.get("social_worker_id") != v:
                    return False
            elif k == "rating":
                if awarded.get(p["id"]) != v:
                    return False
            elif k == "caseworker_id":
                if v not in reviewers[p["id"]]:
                    return False
            elif p[k] != v:
                return False
        return True

    peps = {p["id"]: p for p in data.peps if keep(p)}
    by_status = Counter(p["status"] for p in peps.values())
    submitted = [p for p in peps.values() if p["submitted_at"] is not None and p["meeting_date"] is not None]
    within = sum(on_time(p["meeting_date"], p["submitted_at"].astimezone(UK).date()) for p in submitted)
    latest: dict[uuid.UUID, dict[str, Any]] = {}
    decisions: dict[tuple[uuid.UUID, datetime], dict[str, Any]] = {}
    for r in data.reviews:  # in the order written
        if r["pep_id"] not in peps:
            continue
        if r["stage"] in ("decided", "confirmed"):
            latest[r["pep_id"]] = r
        if r["stage"] == "decided":
            decisions.setdefault((r["pep_id"], r["submitted_at"]), r)
    days = [(r["at"] - r["submitted_at"]).total_seconds() / 86400 for r in decisions.values()]
    area: dict[str | None, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    intervention: dict[str | None, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    setting: dict[tuple[str | None, str | None], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for f in data.funding:
        if f["pep_id"] in peps and f["status"] == "approved":
            for by, key in ((area, f["area_of_focus"]), (intervention, f["intervention_type"])):
                by[key][0] += 1
                by[key][1] += f["amount_approved"]
            at = (f["financial_year"], str(f["setting_id"]) if f["setting_id"] else None)
            setting[at][0] += 1
            setting[at][1] += f["amount_approved"]
    # Due, overdue and completed: by the earliest due date of each PEP's open tasks.
    earliest: dict[uuid.UUID, date] = {}
    for t in data.tasks:
        if t["pep_id"] in peps and t["status"] in OPEN_TASKS and t["due_date"] is not None:
            earliest[t["pep_id"]] = min(earliest.get(t["pep_id"], t["due_date"]), t["due_date"])
    progress: Counter[str] = Counter()
    for p in peps.values():
        if p["status"] in ("approved", "finalised"):
            progress["completed"] += 1
        elif p["status"] == "submitted":
            progress["awaiting_qa"] += 1
        elif p["status"] in ("created", "in_progress", "returned"):
            due = earliest.get(p["id"])
            progress["no_due_date" if due is None else "overdue" if due < today else "due"] += 1
    termly: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for t in data.termly:
        if t["pep_id"] in peps:
            termly[t["financial_year"]][0] += 1 if t["amount"] > 0 else 0
            termly[t["financial_year"]][1] += t["amount"]
    # Attendance (PEPs with sessions recorded) in bands, and the attainment rows, of these PEPs.
    recorded = [o for o in data.outcomes if o["pep_id"] in peps and o["possible_sessions"] > 0]
    bands: Counter[str] = Counter()
    for o in recorded:
        share = Fraction(o["attended_sessions"], o["possible_sessions"])
        bands["below_90" if share < Fraction(9, 10) else "90_to_95" if share < Fraction(95, 100) else "95_plus"] += 1
    attended, possible = sum(o["attended_sessions"] for o in recorded), sum(o["possible_sessions"] for o in recorded)
    with_outcome = {o["pep_id"] for o in data.outcomes}
    rows = [a for a in data.attainment if a["pep_id"] in peps and a["pep_id"] in with_outcome]
    compared = Counter(a["compared_with_are"] or "not_given" for a in rows)
    since = Counter(a["progress"] or "not_given" for a in rows)
    return {
        "total": len(peps), "by_status": {s: by_status.get(s, 0) for s in STATUSES},
        "progress": {k: progress.get(k, 0) for k in PROGRESS},
        "attendance": (len(recorded), attended, possible,
                       round(100 * attended / possible, 1) if possible else None),
        "bands": {k: bands.get(k, 0) for k in BANDS},
        "attainment": {k: compared.get(k, 0) for k in (*COMPARED, "not_given")},
        "attainment_progress": {k: since.get(k, 0) for k in (*PROGRESS_SINCE, "not_given")},
        "termly": {k: (n, f"{v:.2f}") for k, (n, v) in termly.items()},
        "paid_termly": f"{sum((v for _, v in termly.values()), Decimal(0)):.2f}",
        "submitted": len(submitted), "within_timescale": within,
        "within_timescale_percent": round(100 * within / len(submitted), 1) if submitted else None,
        "ratings": dict(Counter(("redcar_cleveland", r["overall_grade"]) for r in latest.values()
                                if r["overall_grade"])),
        "awarded": dict(Counter(("redcar_cleveland", r["awarded_grade"]) for r in latest.values()
                                if r["awarded_grade"])),
        "ratings_by_term": dict(Counter((peps[r["pep_id"]]["academic_year"], peps[r["pep_id"]]["term"],
                                         "redcar_cleveland", r["awarded_grade"]) for r in latest.values()
                                        if r["awarded_grade"])),
        "decisions": len(decisions), "median": statistics.median(days) if days else None,
        # QA within Northshire's qa_review rule (the default: 10 working days) of each submission, by UK dates.
        "qa_within_timescale": sum(r["at"].astimezone(UK).date() <= working_days_on(
            r["submitted_at"].astimezone(UK).date(), 10) for r in decisions.values()),
        "by_area": {k: (n, f"{v:.2f}") for k, (n, v) in area.items()},
        "by_intervention": {k: (n, f"{v:.2f}") for k, (n, v) in intervention.items()},
        "by_setting": {k: (n, f"{v:.2f}") for k, (n, v) in setting.items()},
        "approved": f"{sum((v for _, v in area.values()), Decimal(0)):.2f}",
    }


def figures(body: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's answer in the shape of the test's own count."""
    return {
        "total": body["total"], "by_status": {c["key"]: c["count"] for c in body["by_status"]},
        "progress": {c["key"]: c["count"] for c in body["progress"]},
        "attendance": (body["attendance_peps"], body["attended_sessions"], body["possible_sessions"],
                       body["attendance_percent"]),
        "bands": {c["key"]: c["count"] for c in body["attendance_bands"]},
        "attainment": {c["key"]: c["count"] for c in body["attainment"]},
        "attainment_progress": {c["key"]: c["count"] for c in body["attainment_progress"]},
        "termly": {t["financial_year"]: (t["payments"], t["amount"]) for t in body["pp_plus_termly"]},
        "paid_termly": body["pp_plus_paid_termly"],
        "submitted": body["submitted"], "within_timescale": body["within_timescale"],
        "within_timescale_percent": body["within_timescale_percent"],
        "ratings": {(r["framework_key"], r["grade"]): r["count"] for r in body["ratings"]},
        "awarded": {(r["framework_key"], r["grade"]): r["count"] for r in body["awarded"]},
        "ratings_by_term": {(r["academic_year"], r["term"], r["framework_key"], r["grade"]): r["count"]
                            for r in body["ratings_by_term"]},
        "decisions": body["decisions"], "median": body["turnaround_median_days"],
        "qa_within_timescale": body["qa_within_timescale"],
        "by_area": {a["key"]: (a["requests"], a["amount"]) for a in body["pp_plus_by_area"]},
        "by_intervention": {a["key"]: (a["requests"], a["amount"]) for a in body["pp_plus_by_intervention"]},
        "by_setting": {(a["financial_year"], a["setting_id"]): (a["requests"], a["amount"])
                       for a in body["pp_plus_by_setting"]},
        "approved": body["pp_plus_approved"],
    }


def dashboard(system: RunningSystem, cookie: str, **query: Any) -> tuple[int, Any]:
    status, body, _ = system.api("GET", "/api/v1/dashboard?" + urlencode({k: str(v) for k, v in query.items()}),
                                 cookie=cookie)
    return status, body


def check(system: RunningSystem, cookie: str, generated: Generated, **filters: Any) -> dict[str, Any]:
    """The dashboard with these filters equals the test's count of its data and qa's other Northshire records."""
    for _ in range(20):  # another test's events may still be arriving for Northshire: count again if so
        before = existing(system, generated.ids)
        status, body = dashboard(system, cookie, la_id=NORTHSHIRE, **filters)
        assert status == 200, body
        after = existing(system, generated.ids)
        if before == after:
            break
        time.sleep(0.5)
    data = Data(generated.data.peps + after.peps, after.reviews + generated.data.reviews,
                generated.data.funding + after.funding, {**after.children, **generated.data.children},
                generated.data.tasks + after.tasks, generated.data.termly + after.termly,
                generated.data.outcomes + after.outcomes, generated.data.attainment + after.attainment)
    want, got = expected(data, filters, date.fromisoformat(body["progress_date"])), figures(body)
    assert body["progress_date"] == uk_today().isoformat()
    median_want, median_got = want.pop("median"), got.pop("median")
    assert got == want, filters
    assert (median_got is None) == (median_want is None)
    if median_want is not None:
        assert abs(median_got - median_want) <= 0.005, (median_got, median_want)
    return body


# ---- the tests ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def northshire_admin(system: RunningSystem) -> str:
    return system.sign_in("admin@northshire.test")


def test_every_figure_equals_the_tests_own_count_of_10000_generated_peps(
        system: RunningSystem, generated: Generated, northshire_admin: str) -> None:
    started = time.monotonic()
    body = check(system, northshire_admin, generated)
    took = time.monotonic() - started
    # The data is big enough to mean something: every status, grade, and both sides of the timescale.
    assert body["total"] >= N and all(c["count"] > 1000 for c in body["by_status"])
    assert 0 < body["within_timescale"] < body["submitted"]
    assert 0 < body["qa_within_timescale"] < body["qa_checked"] == body["decisions"]
    assert body["qa_timescale"] == "10 working days after submission (default rule 'qa_review')"
    assert {r["grade"] for r in body["awarded"]} >= {"gold", "green", "amber", "red"}
    assert body["decisions"] > 3000 and Decimal(body["pp_plus_approved"]) > 0
    # PP+ per setting: each generated setting (and none) has approved requests in 2025-26.
    assert {(a["financial_year"], a["setting_id"]) for a in body["pp_plus_by_setting"]} >= {
        ("2025-26", str(s) if s else None) for s in generated.settings}
    # Due, overdue and completed each count thousands; termly payments in both financial years.
    progress = {c["key"]: c["count"] for c in body["progress"]}
    assert all(progress[k] > 500 for k in PROGRESS), progress
    assert {t["financial_year"] for t in body["pp_plus_termly"]} >= {"2025-26", "2026-27"}
    # Attendance in every band, attainment in every grade of both measures.
    assert all(c["count"] > 200 for c in body["attendance_bands"]) and body["attendance_peps"] > 3000
    assert all(c["count"] > 500 for c in body["attainment"] + body["attainment_progress"])
    assert Decimal(body["pp_plus_total"]) == Decimal(body["pp_plus_approved"]) + Decimal(body["pp_plus_paid_termly"])
    # The pickers: the generated settings, social workers and both caseworkers (by name where qa knows them).
    options = body["options"]
    assert {str(s) for s in generated.settings if s} <= set(options["setting_ids"])
    assert {str(w) for w in SOCIAL_WORKERS if w} <= {p["id"] for p in options["social_workers"]}
    assert {str(c) for c in CASEWORKERS} <= {p["id"] for p in options["caseworkers"]}
    assert {"id": str(CASEWORKERS[0]), "name": "Nadia Northshire"} in options["caseworkers"]
    # The ratings' trend runs oldest to newest, over every generated year and term.
    order = [(r["academic_year"], TERMS.index(r["term"])) for r in body["ratings_by_term"]]
    assert order == sorted(order) and set(order) >= {(y, t) for y in YEARS for t in range(3)}
    print(f"\n{N} PEPs generated and copied in {generated.seconds:.1f} s; dashboard and count {took:.1f} s")


@pytest.mark.parametrize("filters", [
    {"term": "spring", "setting_id": demo.HILLSIDE},
    {"status": "approved"},
    {"academic_year": "2025/26", "term": "autumn"},
    {"setting_id": "unknown", "status": "returned", "academic_year": "2026/27"},
    {"key_stage": "KS2"},
    {"key_stage": "EYFS", "term": "summer"},
    {"social_worker_id": SOCIAL_WORKERS[1]},
    {"rating": "gold"},
    {"rating": "amber", "key_stage": "KS4", "social_worker_id": SOCIAL_WORKERS[0]},
    {"caseworker_id": CASEWORKERS[1]},
    {"caseworker_id": CASEWORKERS[0], "status": "returned", "term": "summer"},
])
def test_filters_narrow_the_figures_exactly(system: RunningSystem, generated: Generated, northshire_admin: str,
                                            filters: dict[str, Any]) -> None:
    if filters.get("setting_id") == "unknown":
        filters = {**filters, "setting_id": generated.settings[1]}
    whole = dashboard(system, northshire_admin, la_id=NORTHSHIRE)[1]
    body = check(system, northshire_admin, generated, **filters)
    assert 0 < body["total"] < whole["total"]
    for key, value in filters.items():
        assert body[key] == str(value)


def test_only_the_las_own_virtual_school_sees_its_dashboard(system: RunningSystem, generated: Generated,
                                                            northshire_admin: str) -> None:
    other = dashboard(system, system.sign_in("admin@demo.test"), la_id=NORTHSHIRE)
    nowhere = dashboard(system, northshire_admin, la_id=uuid.uuid4())
    assert other[0] == 404 and nowhere[0] == 404 and other[1]["code"] == nowhere[1]["code"] == "not_found"
    # A Designated Teacher in Northshire is not its Virtual School.
    assert dashboard(system, system.sign_in("dt@hillside.test"), la_id=NORTHSHIRE)[0] == 404
    # And Demo's own dashboard holds none of Northshire's PEPs.
    demo_admin = system.sign_in("admin@demo.test")
    mine = dashboard(system, demo_admin, la_id=demo.LA_ID)
    assert mine[0] == 200 and mine[1]["total"] < N
    status, body = dashboard(system, northshire_admin, la_id=NORTHSHIRE, term="winter", status="lost",
                             key_stage="KS9", social_worker_id="nobody", rating="platinum", caseworker_id="x")
    assert status == 422 and {e["field"] for e in body["errors"]} == {
        "term", "status", "key_stage", "social_worker_id", "rating", "caseworker_id"}
    # Nor do another LA's Virtual School or a DT see Northshire's caseworkers through the caseworker filter.
    for cookie in (system.sign_in("admin@demo.test"), system.sign_in("dt@hillside.test")):
        assert dashboard(system, cookie, la_id=NORTHSHIRE, caseworker_id=CASEWORKERS[0])[0] == 404


# ---- every table as CSV ------------------------------------------------------------------------------------------

CSV_TABLES = ("by_status", "progress", "timescale", "awarded", "ratings", "ratings_by_term", "turnaround",
              "pp_plus_by_area", "pp_plus_by_intervention", "pp_plus_by_setting", "pp_plus_termly", "attendance",
              "attainment", "attainment_progress")


def dashboard_csv(system: RunningSystem, cookie: str, **query: Any) -> tuple[int, str, dict[str, str]]:
    url = f"{system.gateway_url}/api/v1/dashboard.csv?" + urlencode({k: str(v) for k, v in query.items()})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie}), timeout=30) as resp:
            body = resp.read()
            assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, as spreadsheets expect
            return resp.status, body.decode("utf-8-sig"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def json_rows(body: dict[str, Any], table: str) -> list[list[str]]:
    """What each table's CSV must hold, from the dashboard's JSON."""
    if table == "by_status":
        rows = [["status", "label", "peps"]] + [[c["key"], c["label"], c["count"]] for c in body["by_status"]]
    elif table == "progress":
        rows = [["progress", "label", "peps"]] + [[c["key"], c["label"], c["count"]] for c in body["progress"]]
    elif table == "attendance":
        rows = [["band", "label", "peps"]] + [[c["key"], c["label"], c["count"]] for c in body["attendance_bands"]] + [
            [k, None, body[k]] for k in ("attendance_peps", "attended_sessions", "possible_sessions",
                                         "attendance_percent")]
    elif table in ("attainment", "attainment_progress"):
        rows = [["key", "label", "subjects"]] + [[c["key"], c["label"], c["count"]] for c in body[table]]
    elif table == "pp_plus_termly":
        rows = [["financial_year", "payments", "amount_paid"]] + [
            [t["financial_year"], t["payments"], t["amount"]] for t in body[table]]
    elif table in ("awarded", "ratings"):
        rows = [["framework_key", "grade", "label", "peps"]] + [
            [r["framework_key"], r["grade"], r["label"], r["count"]] for r in body[table]]
    elif table == "ratings_by_term":
        rows = [["academic_year", "term", "framework_key", "grade", "label", "peps"]] + [
            [r["academic_year"], r["term"], r["framework_key"], r["grade"], r["label"], r["count"]]
            for r in body[table]]
    elif table == "pp_plus_by_setting":
        rows = [["financial_year", "setting_id", "requests_approved", "amount_approved"]] + [
            [a["financial_year"], a["setting_id"], a["requests"], a["amount"]] for a in body[table]]
    elif table == "timescale":
        rows = [["measure", "value"]] + [[k, body[k]] for k in ("timescale_working_days", "submitted",
                                                                 "within_timescale", "within_timescale_percent",
                                                                 "timescale_rule")]
    elif table == "turnaround":
        rows = [["measure", "value"]] + [[k, body[k]] for k in ("decisions", "turnaround_median_days", "qa_timescale",
                                                                 "qa_within_timescale", "qa_within_timescale_percent")]
    else:
        rows = [["key", "label", "requests_approved", "amount_approved"]] + [
            [a["key"], a["label"], a["requests"], a["amount"]] for a in body[table]]
    return [[_text(v) for v in row] for row in rows]


def unguarded(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


@pytest.mark.parametrize("filters", [{}, {"term": "spring", "key_stage": "KS3"}, {"rating": "green"},
                                     {"caseworker_id": CASEWORKERS[1]}])
def test_every_table_as_csv_equals_the_dashboards_figures(system: RunningSystem, generated: Generated,
                                                          northshire_admin: str, filters: dict[str, Any]) -> None:
    for _ in range(20):  # another test's events may still be arriving for Northshire: read again if so
        before = dashboard(system, northshire_admin, la_id=NORTHSHIRE, **filters)[1]
        got: dict[str, list[list[str]]] = {}
        for table in CSV_TABLES:
            status, text, headers = dashboard_csv(system, northshire_admin, la_id=NORTHSHIRE, table=table, **filters)
            assert status == 200, text
            assert headers["Content-Type"].startswith("text/csv")
            assert f"dashboard-{table}-" in headers["Content-Disposition"]
            got[table] = list(csv.reader(io.StringIO(text)))
        if dashboard(system, northshire_admin, la_id=NORTHSHIRE, **filters)[1] == before:
            break
        time.sleep(0.5)
    check(system, northshire_admin, generated, **filters)
    for table in CSV_TABLES:
        assert [[unguarded(c) for c in row] for row in got[table]] == json_rows(before, table), table
    if not filters:
        # The formula-like area and intervention reach the CSV as text, not as formulas.
        cells = {row[0] for row in got["pp_plus_by_area"]} | {row[0] for row in got["pp_plus_by_intervention"]}
        assert "'" + FORMULA_AREA in cells and "'@SUM(A1:A9)" in cells
        # Only numbers start with a sign; no text starts a formula.
        # (An empty cell is no formula: `"" in "=+-@"` would be true.)
        assert [c for t in got.values() for row in t for c in row
                if c and c[0] in "=+-@" and not NUMBER.fullmatch(c)] == []


def test_only_the_las_own_virtual_school_gets_its_csv(system: RunningSystem, generated: Generated,
                                                      northshire_admin: str) -> None:
    for cookie in (system.sign_in("admin@demo.test"), system.sign_in("dt@hillside.test")):
        status, text, _ = dashboard_csv(system, cookie, la_id=NORTHSHIRE, table="by_status")
        assert status == 404, text
    status, text, _ = dashboard_csv(system, northshire_admin, la_id=NORTHSHIRE, table="everything")
    assert status == 422 and "table" in text


# ---- in date (issue 18): the same children as delegation keeps them ----------------------------------------------

DELEGATION_CHILD_COLUMNS = ("id", "la_id", "setting_id", "social_worker_id", "given_name", "family_name", "version",
                            "in_care", "date_of_birth", "date_entered_care", "entered_care_emergency", "moved_on",
                            "move_kind")
DELEGATION_PEP_COLUMNS = ("id", "child_id", "la_id", "status", "kind", "term", "academic_year", "meeting_date",
                          "status_version", "meeting_sequence", "started_at")
ALL_BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2000, 2032))


@dataclass
class Facts:
    """The generated children and PEPs as delegation's read models hold them, and each PEP's QA caseworker."""

    children: list[dict[str, Any]]
    peps: list[dict[str, Any]]
    caseworkers: list[dict[str, Any]]


def clock_facts(rng: random.Random, data: Data, today: date) -> Facts:
    """Each generated child's clock facts around `today`, so that each clock falls on both sides of its date: entering
    care in the last 4 months (by emergency placement now and then) or years ago, a change of school or placement
    in the last 2 months, 16 or over now and then, and the PEP's meeting held, to come, or none."""
    facts = Facts([], [], [])
    reviewer = {r["pep_id"]: r["by_user"] for r in data.reviews if r["stage"] != "confirmed"}
    for n, pep in enumerate(data.peps):
        child = data.children[pep["child_id"]]
        entered = rng.choice((today - timedelta(days=rng.randrange(0, 120)),
                              today - timedelta(days=rng.randrange(0, 120)),
                              today - timedelta(days=rng.randrange(400, 3000)), None))
        facts.children.append({
            "id": pep["child_id"], "la_id": NORTHSHIRE, "setting_id": pep["setting_id"],
            "social_worker_id": child["social_worker_id"], "given_name": "Gen", "family_name": f"Child{n:05d}",
            "version": 1, "in_care": rng.random() < 0.95,
            "date_of_birth": today - timedelta(days=rng.randrange(4 * 365, 18 * 365)) if rng.random() < 0.95 else None,
            "date_entered_care": entered, "entered_care_emergency": rng.random() < 0.3,
            "moved_on": today - timedelta(days=rng.randrange(0, 60)) if rng.random() < 0.4 else None,
            "move_kind": rng.choice(("school", "placement"))})
        meeting = rng.choice((pep["meeting_date"], today + timedelta(days=rng.randrange(-100, 30)), None))
        facts.peps.append({
            "id": pep["id"], "child_id": pep["child_id"], "la_id": NORTHSHIRE, "status": pep["status"],
            "kind": pep["kind"], "term": pep["term"], "academic_year": pep["academic_year"], "meeting_date": meeting,
            "status_version": 3, "meeting_sequence": 1, "started_at": datetime.now(UTC)})
        if pep["id"] in reviewer:
            facts.caseworkers.append({"pep_id": pep["id"], "child_id": pep["child_id"], "la_id": NORTHSHIRE,
                                      "review_id": 10**12 + n, "caseworker_id": reviewer[pep["id"]]})
    return facts


async def _copy_to_delegation(dsn: str, facts: Facts) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table, columns, rows in (("children", DELEGATION_CHILD_COLUMNS, facts.children),
                                         ("peps", DELEGATION_PEP_COLUMNS, facts.peps),
                                         ("pep_caseworkers", ("pep_id", "child_id", "la_id", "review_id",
                                                              "caseworker_id"), facts.caseworkers)):
                await conn.copy_records_to_table(table, schema_name="delegation", columns=list(columns),
                                                 records=[tuple(r[c] for c in columns) for r in rows])
        for table in ("children", "peps", "pep_caseworkers"):  # as after any bulk load (above)
            await conn.execute(f"ANALYZE delegation.{table}")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def in_delegation(system: RunningSystem, generated: Generated) -> Iterator[Facts]:
    facts = clock_facts(random.Random(SEED + 18), generated.data, uk_today())
    asyncio.run(_copy_to_delegation(system.admin_dsn, facts))
    try:
        yield facts
    finally:
        children, peps = [c["id"] for c in facts.children], [p["id"] for p in facts.peps]
        system.admin_sql("DELETE FROM delegation.pep_caseworkers WHERE pep_id = ANY($1::uuid[])", peps)
        system.admin_sql("DELETE FROM delegation.peps WHERE id = ANY($1::uuid[])", peps)
        system.admin_sql("DELETE FROM delegation.children WHERE id = ANY($1::uuid[])", children)


def working_days_on(day: date, n: int) -> date:
    """The nth working day after `day` (Monday to Friday, not an England and Wales bank holiday)."""
    while n:
        day += timedelta(days=1)
        n -= day.weekday() < 5 and day not in ALL_BANK_HOLIDAYS
    return day


def months_on(day: date, n: int) -> date:
    """The same day n months later (the month's last day when it has none), moved on to a working day."""
    year, month = divmod(day.year * 12 + day.month - 1 + n, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    found = date(year, month + 1, min(day.day, last))
    while found.weekday() >= 5 or found in ALL_BANK_HOLIDAYS:
        found += timedelta(days=1)
    return found


def in_date_by_hand(child: dict[str, Any], peps: list[dict[str, Any]], rules: dict[str, int], today: date) -> bool:
    """The statutory clocks as issue 18 states them, for an LA without term dates (no termly deadline to miss): the
    initial PEP within 20 working days of entering care (10 after an emergency placement), a review within 10
    working days of a change of school or placement, each met by a meeting held since; from the 16th birthday a
    review within 6 months of the last meeting (or of the birthday). A meeting is held when its PEP is not cancelled
    and its date has come."""
    held = [p["meeting_date"] for p in peps if p["status"] != "cancelled" and p["meeting_date"] is not None
            and p["meeting_date"] <= today]
    entered, moved, born = child["date_entered_care"], child["moved_on"], child["date_of_birth"]
    if entered is not None and not any(m >= entered for m in held) and today > working_days_on(
            entered, rules["initial_pep_emergency" if child["entered_care_emergency"] else "initial_pep"]):
        return False
    if moved is not None and (entered is None or moved > entered) and not any(m >= moved for m in held) \
            and today > working_days_on(moved, rules["review_after_change"]):
        return False
    if born is not None:
        sixteen = date(born.year + 16, 3, 1) if (born.month, born.day) == (2, 29) else born.replace(
            year=born.year + 16)
        if today >= sixteen and today > months_on(max(held) if held else sixteen, rules["post16_review"]):
            return False
    return True


def test_the_in_date_figure_equals_the_tests_own_count(system: RunningSystem, in_delegation: Facts,
                                                       northshire_admin: str) -> None:
    """The dashboard's in-date percentage (delegation's), for Northshire and per setting, social worker and QA
    caseworker, equals the test's own count of the 10,000 generated children and Northshire's others."""
    status, config, _ = system.api("GET", f"/api/v1/organisations/{NORTHSHIRE}/timescales", cookie=northshire_admin)
    assert status == 200, config
    # The count by hand knows no term dates: Northshire has none (no termly deadline, so no trend either).
    assert config["term_periods"] == [], "Northshire has term dates: the count by hand counts without them"
    units = {"initial_pep": "working_days", "initial_pep_emergency": "working_days",
             "review_after_change": "working_days", "post16_review": "months"}
    assert {k: config["rules"][k]["unit"] for k in units} == units
    rules = {k: config["rules"][k]["amount"] for k in units}
    for _ in range(20):  # another test's events may still be arriving for Northshire: count again if so
        before = system.admin_sql("SELECT count(*) AS n, max(version) AS v FROM delegation.children")
        started = time.monotonic()
        status, body, _ = system.api("GET", f"/api/v1/organisations/{NORTHSHIRE}/in-date", cookie=northshire_admin)
        took = time.monotonic() - started
        assert status == 200, body
        children = [dict(r) for r in system.admin_sql(
            "SELECT * FROM delegation.children WHERE la_id = $1 AND in_care", NORTHSHIRE)]
        peps = [dict(r) for r in system.admin_sql(
            "SELECT p.* FROM delegation.peps p JOIN delegation.children c ON c.id = p.child_id "
            "WHERE c.la_id = $1 AND c.in_care", NORTHSHIRE)]
        reviews = [dict(r) for r in system.admin_sql(
            "SELECT * FROM delegation.pep_caseworkers WHERE la_id = $1", NORTHSHIRE)]
        if system.admin_sql("SELECT count(*) AS n, max(version) AS v FROM delegation.children") == before:
            break
        time.sleep(0.5)
    today = date.fromisoformat(body["today"])
    assert today == uk_today()
    generated = {c["id"] for c in in_delegation.children}
    assert len(generated & {c["id"] for c in children}) > 9000  # the in-care ones

    # The test's own count: each child in care on the day (entered care by then), in date or not.
    of_child: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for p in peps:
        of_child[p["child_id"]].append(p)
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    for r in sorted(reviews, key=lambda r: r["review_id"]):
        newest[r["child_id"]] = r
    counted = [(c, in_date_by_hand(c, of_child[c["id"]], rules, today)) for c in children
               if c["date_entered_care"] is None or c["date_entered_care"] <= today]

    def share(rows: list[tuple[dict[str, Any], bool]]) -> tuple[int, int, float | None]:
        n, ok = len(rows), sum(ok for _, ok in rows)
        return n, ok, round(100 * ok / n, 1) if n else None

    assert (body["children"], body["in_date"], body["percent"]) == share(counted)
    assert 0.2 < body["in_date"] / body["children"] < 0.8  # both sides, in numbers that mean something
    for key, group in (("setting_id", "by_setting"), ("social_worker_id", "by_social_worker"),
                       ("caseworker_id", "by_caseworker")):
        groups: dict[str | None, list[tuple[dict[str, Any], bool]]] = defaultdict(list)
        for c, ok in counted:
            value = newest[c["id"]]["caseworker_id"] if key == "caseworker_id" and c["id"] in newest \
                else None if key == "caseworker_id" else c[key]
            groups[str(value) if value else None].append((c, ok))
        assert {g["id"]: (g["children"], g["in_date"], g["percent"]) for g in body[group]} == {
            k: share(v) for k, v in groups.items()}, group
    assert body["trend"] == [] and "no term dates" in body["trend_note"]

    # The children behind one social worker's figure: exactly those the count says are not in date.
    worker = str(SOCIAL_WORKERS[1])
    status, listed, _ = system.api("GET", f"/api/v1/organisations/{NORTHSHIRE}/in-date/children?"
                                   f"group=social_worker&id={worker}&not_in_date=true", cookie=northshire_admin)
    assert status == 200, listed
    assert {i["child_id"] for i in listed["items"]} == {
        str(c["id"]) for c, ok in counted if str(c["social_worker_id"]) == worker and not ok}
    assert all(i["reasons"] and not i["in_date"] for i in listed["items"])
    # Another LA's Virtual School and a DT get 404.
    for cookie in (system.sign_in("admin@demo.test"), system.sign_in("dt@hillside.test")):
        assert system.api("GET", f"/api/v1/organisations/{NORTHSHIRE}/in-date", cookie=cookie)[0] == 404
    print(f"\nin date for {body['children']} children counted in {took:.1f} s")
