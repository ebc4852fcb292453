"""The Virtual School's dashboard: counts of an LA's PEPs by status, how many were submitted within the timescale
(10 working days of the meeting), the latest rating of each PEP, QA turnaround and PP+ approved by area of focus
and intervention type. Every figure is counted in SQL from qa's own read models (peps, reviews,
funding_requests), about the PEPs that match the filters (academic year, term, setting, status). The Virtual School
of that LA only; anyone else gets 404."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from services.qa.domain.frameworks import DEFAULT_FRAMEWORK, FRAMEWORKS
from services.qa.domain.reviews import Invalid
from services.qa.funding import money
from services.qa.reviews import invalid
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, roles_at
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS
from shared.workdays import add_working_days

routes = web.RouteTableDef()
TIMESCALE_WORKING_DAYS = 10
STATUSES = {"created": "Started", "in_progress": "In progress", "submitted": "Submitted",
            "returned": "Returned for amendment", "approved": "Approved", "finalised": "Finalised",
            "cancelled": "Cancelled"}
TERMS = ("autumn", "spring", "summer")

# The PEPs the figures are about: $1 the LA, then the filters (NULL: any).
PEPS = ("p.la_id = $1 AND ($2::text IS NULL OR p.academic_year = $2) AND ($3::text IS NULL OR p.term = $3) "
        "AND ($4::uuid IS NULL OR p.setting_id = $4) AND ($5::text IS NULL OR p.status = $5)")


def _filters(claims: Claims, query: Any) -> tuple[uuid.UUID, str | None, str | None, uuid.UUID | None, str | None]:
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
    if problems:
        raise invalid(problems)
    return la_id, year, term, setting_id, status


def _grade_label(framework_key: str, grade: str) -> str:
    return str(FRAMEWORKS.get(framework_key, FRAMEWORKS[DEFAULT_FRAMEWORK]).label(grade) or grade)


def _amounts(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{"key": r["key"], "label": r["key"] or "Not given", "requests": r["n"], "amount": money(r["amount"])}
            for r in rows]


async def figures(conn: asyncpg.Connection, args: tuple[Any, ...]) -> dict[str, Any]:
    """The dashboard's figures for (la_id, academic_year, term, setting_id, status)."""
    by_status = {r["status"]: r["n"] for r in await conn.fetch(
        f"SELECT p.status, count(*) AS n FROM peps p WHERE {PEPS} GROUP BY p.status", *args)}

    # Each meeting date's deadline in working days (England and Wales bank holidays), counted against in SQL.
    meetings = [r["meeting_date"] for r in await conn.fetch(
        f"SELECT DISTINCT p.meeting_date FROM peps p WHERE {PEPS} AND p.submitted_at IS NOT NULL "
        "AND p.meeting_date IS NOT NULL", *args)]
    deadlines: list[date] = [add_working_days(m, TIMESCALE_WORKING_DAYS) for m in meetings]
    timescale = await conn.fetchrow(
        "SELECT count(*) AS submitted, count(*) FILTER (WHERE (p.submitted_at AT TIME ZONE 'Europe/London')::date "
        f"<= d.deadline) AS within FROM peps p JOIN unnest($6::date[], $7::date[]) AS d (meeting, deadline) "
        f"ON d.meeting = p.meeting_date WHERE {PEPS} AND p.submitted_at IS NOT NULL", *args, meetings, deadlines)

    # Each PEP's latest decided or confirmed review: its overall grade as rated, and the grade the PEP shows.
    ratings = await conn.fetch(
        "WITH latest AS (SELECT DISTINCT ON (r.pep_id) r.framework_key, r.overall_grade, r.awarded_grade "
        f"FROM reviews r JOIN peps p ON p.id = r.pep_id WHERE {PEPS} AND r.la_id = $1 "
        "AND r.stage IN ('decided', 'confirmed') ORDER BY r.pep_id, r.id DESC) "
        "SELECT 'overall' AS kind, framework_key, overall_grade AS grade, count(*) AS n FROM latest "
        "WHERE overall_grade IS NOT NULL GROUP BY framework_key, overall_grade UNION ALL "
        "SELECT 'awarded', framework_key, awarded_grade, count(*) FROM latest WHERE awarded_grade IS NOT NULL "
        "GROUP BY framework_key, awarded_grade ORDER BY 1, 2, 4 DESC, 3", *args)

    # QA turnaround: from each submission to its decision (approve or return), in days.
    turnaround = await conn.fetchrow(
        "SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.at - "
        "d.submitted_at) / 86400.0) AS median FROM (SELECT DISTINCT ON (r.pep_id, r.submitted_at) r.submitted_at, "
        f"r.at FROM reviews r JOIN peps p ON p.id = r.pep_id WHERE {PEPS} AND r.la_id = $1 AND r.stage = 'decided' "
        "ORDER BY r.pep_id, r.submitted_at, r.id) d", *args)

    funding = ("SELECT f.{col} AS key, count(*) AS n, sum(f.amount_approved) AS amount FROM funding_requests f "
               f"JOIN peps p ON p.id = f.pep_id WHERE {PEPS} AND f.la_id = $1 AND f.status = 'approved' "
               "GROUP BY f.{col} ORDER BY amount DESC, key NULLS LAST")
    by_area = await conn.fetch(funding.format(col="area_of_focus"), *args)
    by_intervention = await conn.fetch(funding.format(col="intervention_type"), *args)

    submitted, within = timescale["submitted"], timescale["within"]
    median = turnaround["median"]
    return {
        "total": sum(by_status.values()),
        "by_status": [{"key": k, "label": STATUSES.get(k, k.replace("_", " ").capitalize()),
                       "count": by_status.get(k, 0)} for k in [*STATUSES, *sorted(set(by_status) - set(STATUSES))]],
        "timescale_working_days": TIMESCALE_WORKING_DAYS,
        "submitted": submitted, "within_timescale": within,
        "within_timescale_percent": round(100 * within / submitted, 1) if submitted else None,
        "ratings": [{"framework_key": r["framework_key"], "grade": r["grade"],
                     "label": _grade_label(r["framework_key"], r["grade"]), "count": r["n"]}
                    for r in ratings if r["kind"] == "overall"],
        "awarded": [{"framework_key": r["framework_key"], "grade": r["grade"],
                     "label": _grade_label(r["framework_key"], r["grade"]), "count": r["n"]}
                    for r in ratings if r["kind"] == "awarded"],
        "decisions": turnaround["n"],
        "turnaround_median_days": None if median is None else round(float(median), 2),
        "pp_plus_approved": money(sum((r["amount"] for r in by_area), Decimal("0.00"))),
        "pp_plus_by_area": _amounts(by_area),
        "pp_plus_by_intervention": _amounts(by_intervention),
    }


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    """An LA's dashboard (query: la_id, and optionally academic_year, term, setting_id, status)."""
    la_id, year, term, setting_id, status = _filters(request[CLAIMS], request.query)
    async with request.app[POOL].acquire() as conn, \
            conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot, so the figures agree with each other.
        out = await figures(conn, (la_id, year, term, setting_id, status))
    return web.json_response({"la_id": str(la_id), "academic_year": year, "term": term,
                              "setting_id": str(setting_id) if setting_id else None, "status": status, **out})
