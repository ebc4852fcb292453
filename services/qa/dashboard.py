"""The Virtual School's dashboard: counts of an LA's PEPs by status, PEPs due, overdue and completed (the due dates are
delegation's open tasks', as its events announce them), how many were submitted within the timescale (the LA's own
'dt_return' rule from the meeting), the latest rating of each PEP, QA turnaround and how much of it came within the
LA's 'qa_review' rule (services/qa/timescales.py: the LA's rules as delegation announces them), PP+ approved by area
of focus and intervention type, PP+ paid automatically each term, and attendance and attainment as the PEPs
submitted record them. Every figure is counted in SQL from qa's own read models (peps, pep_tasks, reviews,
funding_requests, termly_payments, pep_outcomes, pep_attainment, children, la_timescales), about the PEPs that match
the filters (academic year, term, setting, status, the child's key stage from its year group and social worker, the
QA caseworker who reviewed the PEP, the PEP's latest awarded rating). The Virtual School of that LA only; anyone
else gets 404.

Counting is per request and grows with the LA (about a second for a 37,500-PEP LA on two cores), so each qa process
keeps the figures it last counted per LA, filters and day, and serves them again while nothing they are counted
from has changed: triggers raise the LA's version in `dashboard_marks` in the same transaction as any change
(migration 0011), and the version is read in the dashboard's own snapshot. So a dashboard is never stale, even
with several qa replicas; `figures_at` says when its figures were counted."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from services.qa.domain.frameworks import DEFAULT_FRAMEWORK, FRAMEWORKS
from services.qa.domain.reviews import Invalid
from services.qa.funding import money
from services.qa.reviews import invalid
from services.qa.timescales import rule_of as la_rule
from shared.api.qa import (
    DASHBOARD_CSV,
    GET_DASHBOARD,
    Dashboard,
    DashboardAmount,
    DashboardCount,
    DashboardOptions,
    DashboardPerson,
    DashboardRating,
    DashboardSettingAmount,
    DashboardTermly,
    DashboardTermRating,
)
from shared.api.tasks import OPEN_STATUSES
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.csvcells import csv_response
from shared.internal_auth import Claims
from shared.schedule import now
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, serves
from shared.workdays import uk_date

routes = web.RouteTableDef()
STATUSES = {"created": "Started", "in_progress": "In progress", "submitted": "Submitted",
            "returned": "Returned for amendment", "approved": "Approved", "finalised": "Finalised",
            "cancelled": "Cancelled"}
TERMS = ("autumn", "spring", "summer")
# Key stages by the year groups in them (as pep's core data counts them).
KEY_STAGES = {"EYFS": ["Nursery", "Reception"], "KS1": ["Year 1", "Year 2"],
              "KS2": ["Year 3", "Year 4", "Year 5", "Year 6"], "KS3": ["Year 7", "Year 8", "Year 9"],
              "KS4": ["Year 10", "Year 11"], "KS5": ["Year 12", "Year 13"]}
RATINGS = sorted({g.key for f in FRAMEWORKS.values() for g in f.scale} | {"gold"})

# The PEPs the figures are about: $1 the LA, then the filters (NULL: any).
PEPS = ("p.la_id = $1 AND ($2::text IS NULL OR p.academic_year = $2) AND ($3::text IS NULL OR p.term = $3) "
        "AND ($4::uuid IS NULL OR p.setting_id = $4) AND ($5::text IS NULL OR p.status = $5) "
        "AND ($6::text[] IS NULL OR EXISTS (SELECT 1 FROM children c WHERE c.id = p.child_id "
        "AND c.year_group = ANY($6::text[]))) "
        "AND ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM children c WHERE c.id = p.child_id "
        "AND c.social_worker_id = $7)) "
        "AND ($8::text IS NULL OR (SELECT r8.awarded_grade FROM reviews r8 WHERE r8.pep_id = p.id AND r8.la_id = $1 "
        "AND r8.stage IN ('decided', 'confirmed') ORDER BY r8.id DESC LIMIT 1) = $8) "
        "AND ($9::uuid IS NULL OR EXISTS (SELECT 1 FROM reviews r9 WHERE r9.pep_id = p.id AND r9.la_id = $1 "
        "AND r9.by_user = $9))")
# A PP+ request counted with these PEPs: a PEP target's (p joined by f.pep_id) where its PEP matches, or a target
# raised between PEPs (no PEP) where its own year, term and setting and its child match; filters about a PEP's
# status, rating or reviewer leave those out.
FUNDED = (f"((f.pep_id IS NOT NULL AND p.id IS NOT NULL AND {PEPS}) OR (f.pep_id IS NULL "
          "AND ($2::text IS NULL OR f.academic_year = $2) AND ($3::text IS NULL OR f.term = $3) "
          "AND ($4::uuid IS NULL OR f.setting_id = $4) AND $5::text IS NULL AND $8::text IS NULL "
          "AND $9::uuid IS NULL AND ($6::text[] IS NULL OR EXISTS (SELECT 1 FROM children c WHERE c.id = f.child_id "
          "AND c.year_group = ANY($6::text[]))) AND ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM children c "
          "WHERE c.id = f.child_id AND c.social_worker_id = $7))))")
# The filters are "$n IS NULL OR ...", one statement for every combination. After five runs of a prepared statement
# Postgres may settle on a generic plan, which cannot know which filters are NULL: a filter by caseworker then ran
# its per-PEP subquery the slow way and took over 10 s at 10,000 PEPs. A custom plan sees the values (a millisecond
# of planning against a count of a hundred or more).
CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
FILTERS = ("academic_year", "term", "setting_id", "status", "key_stage", "social_worker_id", "caseworker_id", "rating")
# Where each PEP stands against its due dates: the earliest due date of its open tasks (delegation's).
PROGRESS = {"due": "Due (not yet overdue)", "overdue": "Overdue", "no_due_date": "Open, with no due date",
            "awaiting_qa": "Submitted, awaiting quality assurance", "completed": "Completed (approved or finalised)"}
# Each PEP's attendance this academic year as its latest submission recorded it, in the DfE's bands (persistent
# absence: missing 10% or more of sessions).
ATTENDANCE_BANDS = {"below_90": "Below 90% (persistently absent)", "90_to_95": "90% to 94.9%",
                    "95_plus": "95% or more"}
# The attainment section's subject rows: against age-related expectations, and progress since the last PEP.
COMPARED = {"significantly_below": "Significantly below age-related expectations",
            "below": "Below age-related expectations", "at": "At age-related expectations",
            "above": "Above age-related expectations", "not_given": "Not given"}
PROGRESS_SINCE = {"less_than_expected": "Less than expected", "expected": "As expected",
                  "more_than_expected": "More than expected", "not_given": "Not given"}


def _filters(claims: Claims, query: Any) -> tuple[uuid.UUID, dict[str, Any]]:
    """The LA and the filters by name (None: any)."""
    raw_la = query.get("la_id", "").strip()
    try:
        la_id = uuid.UUID(raw_la)
    except ValueError:
        raise invalid([Invalid("la_id", "Give the local authority's id")]) from None
    if not roles_at(claims, str(la_id)) & VIRTUAL_SCHOOL_ROLES:
        raise not_found("organisation")
    problems = []
    year = query.get("academic_year", "").strip() or None
    if year is not None and len(year) > 20:
        problems.append(Invalid("academic_year", "Give an academic year like 2025/26"))
    term = query.get("term", "").strip() or None
    if term is not None and term not in TERMS:
        problems.append(Invalid("term", "Choose one of: " + ", ".join(TERMS)))
    setting_id = None
    if raw := query.get("setting_id", "").strip():
        try:
            setting_id = uuid.UUID(raw)
        except ValueError:
            problems.append(Invalid("setting_id", "Give the setting's id"))
    status = query.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        problems.append(Invalid("status", "Choose one of: " + ", ".join(STATUSES)))
    key_stage = query.get("key_stage", "").strip() or None
    if key_stage is not None and key_stage not in KEY_STAGES:
        problems.append(Invalid("key_stage", "Choose one of: " + ", ".join(KEY_STAGES)))
    social_worker_id = None
    if raw := query.get("social_worker_id", "").strip():
        try:
            social_worker_id = uuid.UUID(raw)
        except ValueError:
            problems.append(Invalid("social_worker_id", "Give the social worker's id"))
    caseworker_id = None
    if raw := query.get("caseworker_id", "").strip():
        try:
            caseworker_id = uuid.UUID(raw)
        except ValueError:
            problems.append(Invalid("caseworker_id", "Give the caseworker's id"))
    rating = query.get("rating", "").strip() or None
    if rating is not None and rating not in RATINGS:
        problems.append(Invalid("rating", "Choose one of: " + ", ".join(RATINGS)))
    if problems:
        raise invalid(problems)
    return la_id, {"academic_year": year, "term": term, "setting_id": setting_id, "status": status,
                   "key_stage": key_stage, "social_worker_id": social_worker_id, "caseworker_id": caseworker_id,
                   "rating": rating}


def args_of(la_id: uuid.UUID, filters: dict[str, Any]) -> tuple[Any, ...]:
    """The query arguments $1 to $9 of PEPS."""
    stage = filters["key_stage"]
    return (la_id, filters["academic_year"], filters["term"], filters["setting_id"], filters["status"],
            KEY_STAGES[stage] if stage else None, filters["social_worker_id"], filters["rating"],
            filters.get("caseworker_id"))


def _grade_label(framework_key: str, grade: str) -> str:
    return str(FRAMEWORKS.get(framework_key, FRAMEWORKS[DEFAULT_FRAMEWORK]).label(grade) or grade)


def _labelled(labels: dict[str, str], counts: dict[str, int]) -> list[DashboardCount]:
    """Counts in the order of their labels, then any key the labels do not know (a template's own option)."""
    return [DashboardCount(key=k, label=labels.get(k, k.replace("_", " ").capitalize()), count=counts.get(k, 0))
            for k in [*labels, *sorted(set(counts) - set(labels))]]


def _amounts(rows: list[asyncpg.Record]) -> list[DashboardAmount]:
    return [DashboardAmount(key=r["key"], label=r["key"] or "Not given", requests=r["n"],
                            amount=money(r["amount"]) or "0.00") for r in rows]


def _rating(r: asyncpg.Record) -> DashboardRating:
    return DashboardRating(framework_key=r["framework_key"], grade=r["grade"],
                           label=_grade_label(r["framework_key"], r["grade"]), count=r["n"])


async def figures(conn: asyncpg.Connection, la_id: uuid.UUID, filters: dict[str, Any], today: date) -> Dashboard:
    """The dashboard's figures for the LA's PEPs that match the filters, with `today` (the UK's) deciding what is
    overdue (without the filters' choices, `options`, or when they were counted)."""
    args = args_of(la_id, filters)
    by_status = {r["status"]: r["n"] for r in await conn.fetch(
        f"SELECT p.status, count(*) AS n FROM peps p WHERE {PEPS} GROUP BY p.status", *args)}

    # Each meeting date's deadline by the LA's own 'dt_return' rule, counted against in SQL (a deadline that cannot
    # be worked out, school days past the LA's term dates, counts as not within).
    returned = await la_rule(conn, la_id, "dt_return")
    meetings = [r["meeting_date"] for r in await conn.fetch(
        f"SELECT DISTINCT p.meeting_date FROM peps p WHERE {PEPS} AND p.submitted_at IS NOT NULL "
        "AND p.meeting_date IS NOT NULL", *args)]
    deadlines: list[date | None] = [returned.due(m) for m in meetings]
    timescale = await conn.fetchrow(
        "SELECT count(*) AS submitted, count(*) FILTER (WHERE (p.submitted_at AT TIME ZONE 'Europe/London')::date "
        f"<= d.deadline) AS within FROM peps p JOIN unnest($10::date[], $11::date[]) AS d (meeting, deadline) "
        f"ON d.meeting = p.meeting_date WHERE {PEPS} AND p.submitted_at IS NOT NULL", *args, meetings, deadlines)

    # Due, overdue and completed: a PEP with the school (started, in progress, returned) is due by the earliest
    # due date of its open tasks; one submitted awaits QA; approved or finalised it is completed; cancelled is none.
    progress = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE p.status IN ('approved', 'finalised')) AS completed, "
        "count(*) FILTER (WHERE p.status = 'submitted') AS awaiting_qa, "
        "count(*) FILTER (WHERE p.status IN ('created', 'in_progress', 'returned') AND t.due >= $10) AS due, "
        "count(*) FILTER (WHERE p.status IN ('created', 'in_progress', 'returned') AND t.due < $10) AS overdue, "
        "count(*) FILTER (WHERE p.status IN ('created', 'in_progress', 'returned') AND t.due IS NULL) AS no_due_date "
        "FROM peps p LEFT JOIN LATERAL (SELECT min(pt.due_date) AS due FROM pep_tasks pt WHERE pt.pep_id = p.id "
        f"AND pt.la_id = $1 AND pt.status = ANY($11::text[])) t ON true WHERE {PEPS}", *args, today,
        list(OPEN_STATUSES))

    # Each PEP's latest decided or confirmed review: its overall grade as rated, the grade the PEP shows, and those
    # awarded grades per (academic year, term) of the PEP (the ratings' trend). One pass over the LA's reviews.
    latest = await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (r.pep_id) r.framework_key, r.overall_grade, r.awarded_grade, "
        f"p.academic_year, p.term FROM reviews r JOIN peps p ON p.id = r.pep_id WHERE {PEPS} AND r.la_id = $1 "
        "AND r.stage IN ('decided', 'confirmed') ORDER BY r.pep_id, r.id DESC) "
        "SELECT 'overall' AS kind, NULL AS academic_year, NULL AS term, framework_key, overall_grade AS grade, "
        "count(*) AS n FROM latest WHERE overall_grade IS NOT NULL GROUP BY framework_key, overall_grade UNION ALL "
        "SELECT 'awarded', NULL, NULL, framework_key, awarded_grade, count(*) FROM latest "
        "WHERE awarded_grade IS NOT NULL GROUP BY framework_key, awarded_grade UNION ALL "
        "SELECT 'by_term', academic_year, term, framework_key, awarded_grade, count(*) FROM latest "
        "WHERE awarded_grade IS NOT NULL GROUP BY academic_year, term, framework_key, awarded_grade "
        "ORDER BY 1, 4, 6 DESC, 5", *args)
    ratings = [r for r in latest if r["kind"] != "by_term"]
    by_term = sorted((r for r in latest if r["kind"] == "by_term"), key=lambda r: (
        r["academic_year"], TERMS.index(r["term"]) if r["term"] in TERMS else len(TERMS), r["term"], -r["n"],
        r["framework_key"], r["grade"]))

    # QA turnaround: from each submission to its decision (approve or return), in days; and how many decisions came
    # within the LA's 'qa_review' rule of the submission (UK dates), each submission day's deadline worked out here.
    checked = await la_rule(conn, la_id, "qa_review")
    sent = [r["day"] for r in await conn.fetch(
        "SELECT DISTINCT (r.submitted_at AT TIME ZONE 'Europe/London')::date AS day FROM reviews r "
        f"JOIN peps p ON p.id = r.pep_id WHERE {PEPS} AND r.la_id = $1 AND r.stage = 'decided'", *args)]
    turnaround = await conn.fetchrow(
        "SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.at - "
        "d.submitted_at) / 86400.0) AS median, count(*) FILTER (WHERE (d.at AT TIME ZONE 'Europe/London')::date "
        "<= q.deadline) AS within FROM (SELECT DISTINCT ON (r.pep_id, r.submitted_at) r.submitted_at, "
        f"r.at FROM reviews r JOIN peps p ON p.id = r.pep_id WHERE {PEPS} AND r.la_id = $1 AND r.stage = 'decided' "
        "ORDER BY r.pep_id, r.submitted_at, r.id) d LEFT JOIN unnest($10::date[], $11::date[]) AS q (sent, deadline) "
        "ON q.sent = (d.submitted_at AT TIME ZONE 'Europe/London')::date", *args, sent,
        [checked.due(day) for day in sent])

    # PP+ approved: requests of these PEPs' targets, and of targets raised between PEPs that match the filters.
    funding = ("SELECT f.{col} AS key, count(*) AS n, sum(f.amount_approved) AS amount FROM funding_requests f "
               f"LEFT JOIN peps p ON p.id = f.pep_id WHERE {FUNDED} AND f.la_id = $1 AND f.status = 'approved' "
               "GROUP BY f.{col} ORDER BY amount DESC, key NULLS LAST")
    by_area = await conn.fetch(funding.format(col="area_of_focus"), *args)
    by_intervention = await conn.fetch(funding.format(col="intervention_type"), *args)
    # PP+ approved per setting (the request's) in each financial year, the newest year first.
    by_setting = await conn.fetch(
        "SELECT f.financial_year, f.setting_id, count(*) AS n, sum(f.amount_approved) AS amount "
        f"FROM funding_requests f LEFT JOIN peps p ON p.id = f.pep_id WHERE {FUNDED} AND f.la_id = $1 "
        "AND f.status = 'approved' GROUP BY f.financial_year, f.setting_id "
        "ORDER BY f.financial_year DESC NULLS LAST, amount DESC, f.setting_id NULLS LAST", *args)
    # PP+ paid automatically each term (for these PEPs' children and terms), per financial year, the newest first;
    # a term settled with nothing paid (the allocation used up) is not a payment.
    termly = await conn.fetch(
        "SELECT t.financial_year, count(*) FILTER (WHERE t.amount > 0) AS n, sum(t.amount) AS amount "
        "FROM termly_payments t "
        f"JOIN peps p ON p.id = t.pep_id WHERE {PEPS} AND t.la_id = $1 GROUP BY t.financial_year "
        "ORDER BY t.financial_year DESC", *args)

    # Attendance and attainment: of these PEPs' latest submissions (those with sessions recorded, for attendance).
    attendance = await conn.fetchrow(
        "SELECT count(*) AS peps, coalesce(sum(o.attended_sessions), 0) AS attended, "
        "coalesce(sum(o.possible_sessions), 0) AS possible, "
        "count(*) FILTER (WHERE o.attended_sessions * 100 < o.possible_sessions * 90) AS below_90, "
        "count(*) FILTER (WHERE o.attended_sessions * 100 >= o.possible_sessions * 90 "
        "AND o.attended_sessions * 100 < o.possible_sessions * 95) AS \"90_to_95\", "
        "count(*) FILTER (WHERE o.attended_sessions * 100 >= o.possible_sessions * 95) AS \"95_plus\" "
        f"FROM pep_outcomes o JOIN peps p ON p.id = o.pep_id WHERE {PEPS} AND o.la_id = $1 "
        "AND o.possible_sessions > 0", *args)
    attainment = await conn.fetch(
        "SELECT 'compared' AS kind, coalesce(a.compared_with_are, 'not_given') AS key, count(*) AS n "
        f"FROM pep_attainment a JOIN pep_outcomes o ON o.pep_id = a.pep_id JOIN peps p ON p.id = a.pep_id "
        f"WHERE {PEPS} AND o.la_id = $1 GROUP BY 2 UNION ALL "
        "SELECT 'progress', coalesce(a.progress, 'not_given'), count(*) FROM pep_attainment a "
        f"JOIN pep_outcomes o ON o.pep_id = a.pep_id JOIN peps p ON p.id = a.pep_id WHERE {PEPS} AND o.la_id = $1 "
        "GROUP BY 2", *args)
    compared = {r["key"]: r["n"] for r in attainment if r["kind"] == "compared"}
    since = {r["key"]: r["n"] for r in attainment if r["kind"] == "progress"}

    submitted, within = timescale["submitted"], timescale["within"]
    approved = sum((r["amount"] for r in by_area), Decimal("0.00"))
    paid_termly = sum((r["amount"] for r in termly), Decimal("0.00"))
    median = turnaround["median"]
    return Dashboard(
        la_id=la_id, **filters,
        total=sum(by_status.values()),
        by_status=[DashboardCount(key=k, label=STATUSES.get(k, k.replace("_", " ").capitalize()),
                                  count=by_status.get(k, 0))
                   for k in [*STATUSES, *sorted(set(by_status) - set(STATUSES))]],
        progress=[DashboardCount(key=k, label=label, count=progress[k]) for k, label in PROGRESS.items()],
        progress_date=today,
        attendance_peps=attendance["peps"], attended_sessions=attendance["attended"],
        possible_sessions=attendance["possible"],
        attendance_percent=round(100 * attendance["attended"] / attendance["possible"], 1)
        if attendance["possible"] else None,
        attendance_bands=[DashboardCount(key=k, label=label, count=attendance[k])
                          for k, label in ATTENDANCE_BANDS.items()],
        attainment=_labelled(COMPARED, compared), attainment_progress=_labelled(PROGRESS_SINCE, since),
        timescale_working_days=returned.amount,
        timescale_rule=f"{returned.words()} after the meeting ({returned.source()})",
        submitted=submitted, within_timescale=within,
        within_timescale_percent=round(100 * within / submitted, 1) if submitted else None,
        qa_timescale=f"{checked.words()} after submission ({checked.source()})",
        qa_checked=turnaround["n"], qa_within_timescale=turnaround["within"],
        qa_within_timescale_percent=round(100 * turnaround["within"] / turnaround["n"], 1) if turnaround["n"]
        else None,
        ratings=[_rating(r) for r in ratings if r["kind"] == "overall"],
        awarded=[_rating(r) for r in ratings if r["kind"] == "awarded"],
        ratings_by_term=[DashboardTermRating(academic_year=r["academic_year"], term=r["term"],
                                             framework_key=r["framework_key"], grade=r["grade"],
                                             label=_grade_label(r["framework_key"], r["grade"]), count=r["n"])
                         for r in by_term],
        decisions=turnaround["n"],
        turnaround_median_days=None if median is None else round(float(median), 2),
        pp_plus_approved=f"{approved:.2f}",
        pp_plus_paid_termly=f"{paid_termly:.2f}",
        pp_plus_total=f"{approved + paid_termly:.2f}",
        pp_plus_by_area=_amounts(by_area),
        pp_plus_by_intervention=_amounts(by_intervention),
        pp_plus_by_setting=[DashboardSettingAmount(financial_year=r["financial_year"], setting_id=r["setting_id"],
                                                   requests=r["n"], amount=money(r["amount"]) or "0.00")
                            for r in by_setting],
        pp_plus_termly=[DashboardTermly(financial_year=r["financial_year"], payments=r["n"],
                                        amount=money(r["amount"]) or "0.00") for r in termly],
    )


async def options(conn: asyncpg.Connection, la_id: uuid.UUID) -> DashboardOptions:
    """What the setting, social worker and caseworker filters may choose from: the LA's settings (ids: identity
    names them), its children's social workers and the caseworkers who have reviewed its PEPs (named from qa's
    users read model, by family name)."""
    settings = await conn.fetch("SELECT DISTINCT setting_id FROM peps WHERE la_id = $1 AND setting_id IS NOT NULL",
                                la_id)
    people = await conn.fetch(
        "SELECT w.kind, w.id, u.given_name, u.family_name FROM (SELECT DISTINCT 'social_workers' AS kind, "
        "social_worker_id AS id FROM children WHERE la_id = $1 AND social_worker_id IS NOT NULL UNION "
        "SELECT DISTINCT 'caseworkers', by_user FROM reviews WHERE la_id = $1 AND by_user IS NOT NULL) w "
        "LEFT JOIN users u ON u.id = w.id ORDER BY u.family_name NULLS LAST, u.given_name, w.id", la_id)
    out = DashboardOptions(setting_ids=sorted((r["setting_id"] for r in settings), key=str))
    for r in people:
        name = f"{r['given_name']} {r['family_name']}" if r["given_name"] else None
        getattr(out, r["kind"]).append(DashboardPerson(id=r["id"], name=name))
    return out


def today_of(request: web.Request) -> date:
    """The UK's date by the service's clock (a clock file in tests and rehearsals)."""
    return uk_date(now(request.app[SETTINGS].clock_file))


PEOPLE_MARK = uuid.UUID(int=0)  # dashboard_marks' row for people's names, shown in every LA's pickers


class Counted:
    """The figures this process last counted, per (LA, filters, day), with the versions they were counted at and
    when their snapshot was taken. Bounded: the least recently used go first."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], tuple[tuple[int, int], float, Any]] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[tuple[Any, ...], asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, key: tuple[Any, ...]) -> asyncio.Lock:
        """One counting at a time per key: requests arriving meanwhile wait for it and are served what it counted,
        rather than all counting the same figures at once."""
        found = self._locks.get(key)
        if found is None:
            found = self._locks[key] = asyncio.Lock()
        return found

    def get(self, key: tuple[Any, ...], versions: tuple[int, int], arrived: float) -> Any:
        """What was counted at these versions, or in a snapshot taken after the request `arrived` (monotonic time):
        that holds everything committed before the request was made, so the request may have it even if more has
        changed since. (Without that, requests queued behind one counting while the LA keeps changing would each
        count again, one after another.)"""
        found = self._entries.get(key)
        if found is None or (found[0] != versions and found[1] < arrived):
            return None
        self._entries.move_to_end(key)
        return found[2]

    def put(self, key: tuple[Any, ...], versions: tuple[int, int], started: float, value: Any) -> None:
        self._entries[key] = (versions, started, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


COUNTED = web.AppKey("dashboard_counted", Counted)


async def versions(conn: asyncpg.Connection, la_id: uuid.UUID) -> tuple[int, int]:
    """The LA's version and people's, in this transaction's snapshot (0 before anything was counted)."""
    rows = {r["la_id"]: r["version"] for r in await conn.fetch(
        "SELECT la_id, version FROM dashboard_marks WHERE la_id = ANY($1::uuid[])", [la_id, PEOPLE_MARK])}
    return rows.get(la_id, 0), rows.get(PEOPLE_MARK, 0)


@serves(routes, GET_DASHBOARD)
async def dashboard(request: web.Request) -> Dashboard:
    """An LA's dashboard (query: la_id, and optionally academic_year, term, setting_id, status, key_stage,
    social_worker_id, caseworker_id, rating), with the choices for its setting, social worker and caseworker
    filters."""
    la_id, filters = _filters(request[CLAIMS], request.query)
    today = today_of(request)
    key = (la_id, tuple(sorted((k, str(v)) for k, v in filters.items() if v is not None)), today)
    counted = request.app[COUNTED]
    arrived = time.monotonic()
    async with counted.lock(key), request.app[POOL].acquire() as conn, \
            conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot, taken by the first query (so after `started`), so the figures agree with each other and
        # with the versions read first.
        started = time.monotonic()
        await conn.execute(CUSTOM_PLANS)
        now_versions = await versions(conn, la_id)
        body: Dashboard | None = counted.get(key, now_versions, arrived)
        if body is None:
            body = await figures(conn, la_id, filters, today)
            body.options = await options(conn, la_id)
            body.figures_at = datetime.now(UTC)
            counted.put(key, now_versions, started, body)
    return body


# ---- every table as CSV ------------------------------------------------------------------------------------------

def _table_rows(out: Dashboard, table: str) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one of the dashboard's tables, as the JSON gives its figures."""
    if table == "by_status":
        return ["status", "label", "peps"], [[c.key, c.label, c.count] for c in out.by_status]
    if table == "progress":
        return ["progress", "label", "peps"], [[c.key, c.label, c.count] for c in out.progress]
    if table == "attendance":
        return (["band", "label", "peps"], [[c.key, c.label, c.count] for c in out.attendance_bands]
                + [[k, None, getattr(out, k)] for k in ("attendance_peps", "attended_sessions", "possible_sessions",
                                                         "attendance_percent")])
    if table in ("attainment", "attainment_progress"):
        counts: list[DashboardCount] = getattr(out, table)
        return ["key", "label", "subjects"], [[c.key, c.label, c.count] for c in counts]
    if table == "pp_plus_termly":
        return (["financial_year", "payments", "amount_paid"],
                [[a.financial_year, a.payments, a.amount] for a in out.pp_plus_termly])
    if table in ("awarded", "ratings"):
        rated: list[DashboardRating] = getattr(out, table)
        return (["framework_key", "grade", "label", "peps"],
                [[r.framework_key, r.grade, r.label, r.count] for r in rated])
    if table == "ratings_by_term":
        return (["academic_year", "term", "framework_key", "grade", "label", "peps"],
                [[r.academic_year, r.term, r.framework_key, r.grade, r.label, r.count] for r in out.ratings_by_term])
    if table == "pp_plus_by_setting":
        return (["financial_year", "setting_id", "requests_approved", "amount_approved"],
                [[a.financial_year, a.setting_id, a.requests, a.amount] for a in out.pp_plus_by_setting])
    if table == "timescale":
        return ["measure", "value"], [[k, getattr(out, k)] for k in (
            "timescale_working_days", "submitted", "within_timescale", "within_timescale_percent", "timescale_rule")]
    if table == "turnaround":
        return ["measure", "value"], [[k, getattr(out, k)] for k in (
            "decisions", "turnaround_median_days", "qa_timescale", "qa_within_timescale",
            "qa_within_timescale_percent")]
    amounts: list[DashboardAmount] = getattr(out, table)
    return (["key", "label", "requests_approved", "amount_approved"],
            [[a.key, a.label, a.requests, a.amount] for a in amounts])


CSV_TABLES = ("by_status", "progress", "timescale", "awarded", "ratings", "ratings_by_term", "turnaround",
              "pp_plus_by_area", "pp_plus_by_intervention", "pp_plus_by_setting", "pp_plus_termly", "attendance",
              "attainment", "attainment_progress")


@serves(routes, DASHBOARD_CSV)
async def dashboard_csv(request: web.Request) -> web.Response:
    """One of the dashboard's tables as CSV (query: the dashboard's, and table: by_status, progress, timescale,
    awarded, ratings, ratings_by_term, turnaround, pp_plus_by_area, pp_plus_by_intervention, pp_plus_by_setting,
    pp_plus_termly, attendance, attainment or attainment_progress)."""
    la_id, filters = _filters(request[CLAIMS], request.query)
    table = request.query.get("table", "").strip()
    if table not in CSV_TABLES:
        raise invalid([Invalid("table", "Choose one of: " + ", ".join(CSV_TABLES))])
    async with request.app[POOL].acquire() as conn, \
            conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(CUSTOM_PLANS)
        out = await figures(conn, la_id, filters, today_of(request))
    header, rows = _table_rows(out, table)
    return csv_response(header, rows, f"dashboard-{table}-{la_id}.csv")
