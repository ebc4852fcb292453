"""The Virtual School's dashboard: its LA's PEPs by status, how many were submitted within the timescale, the
latest ratings, QA turnaround and PP+ approved by area of focus and intervention type, each as a table, filtered by
academic year, term, status, key stage and latest rating (and setting and social worker, from the query). qa counts
every figure; another LA's dashboard is "Page not found"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.file_pages import _pass_on
from services.portal.pagekit import gateway, optional_uuid, render_signed_in

routes = web.RouteTableDef()

VIRTUAL_SCHOOL = ("vs_admin", "vs_caseworker", "vs_approver")
TERMS = {"": "Any term", "autumn": "Autumn", "spring": "Spring", "summer": "Summer"}
STATUSES = {"": "Any status", "created": "Started", "in_progress": "In progress", "submitted": "Submitted",
            "returned": "Returned for amendment", "approved": "Approved", "finalised": "Finalised",
            "cancelled": "Cancelled"}
KEY_STAGES = {"": "Any key stage", "EYFS": "Early years (EYFS)", "KS1": "Key stage 1", "KS2": "Key stage 2",
              "KS3": "Key stage 3", "KS4": "Key stage 4", "KS5": "Key stage 5 (post-16)"}
RATINGS = {"": "Any rating", "gold": "Gold", "green": "Green", "amber": "Amber", "red": "Red",
           "outstanding": "Outstanding", "good": "Good", "requires_improvement": "Requires improvement",
           "inadequate": "Inadequate", "meets": "Meets the expected standard",
           "does_not_meet": "Does not meet the expected standard"}

CSV_TABLES = ("by_status", "timescale", "awarded", "ratings", "turnaround", "pp_plus_by_area",
              "pp_plus_by_intervention")


def _days(value: float | None) -> str:
    return "No decisions yet" if value is None else f"{value:.1f} days"


async def _chosen(request: web.Request) -> tuple[str, list[tuple[str, str]], dict[str, str]]:
    """The LA (the first of my Virtual Schools unless chosen), my Virtual Schools and the filters chosen."""
    who = ensure_signed_in(request)
    me = await gateway(request).me(who)
    las = sorted({m.organisation_id: m.organisation_name for m in me.memberships if m.role in VIRTUAL_SCHOOL}.items(),
                 key=lambda kv: kv[1].casefold())
    la_id = optional_uuid(request.query.get("la_id", "")) or (las[0][0] if las else "")
    if not la_id:
        raise web.HTTPNotFound()
    filters = {"academic_year": request.query.get("academic_year", "").strip()[:20],
               "term": request.query.get("term", "").strip(), "status": request.query.get("status", "").strip(),
               "setting_id": optional_uuid(request.query.get("setting_id", "")),
               "key_stage": request.query.get("key_stage", "").strip(),
               "social_worker_id": optional_uuid(request.query.get("social_worker_id", "")),
               "rating": request.query.get("rating", "").strip()}
    for key, allowed in (("term", TERMS), ("status", STATUSES), ("key_stage", KEY_STAGES), ("rating", RATINGS)):
        filters[key] = filters[key] if filters[key] in allowed else ""
    return la_id, las, filters


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    la_id, las, filters = await _chosen(request)
    query = {"la_id": la_id, **{k: v for k, v in filters.items() if v}}
    found = await gateway(request).dashboard(ensure_signed_in(request), query)
    context: dict[str, Any] = {
        "current_page": "home", "la_id": la_id, "la_name": dict(las).get(la_id, "Your Virtual School"), "las": las,
        "filters": filters, "terms": TERMS, "statuses": STATUSES, "key_stages": KEY_STAGES,
        "ratings": RATINGS, "filtered": any(filters.values()), "d": found, "csv_query": urlencode(query),
        "percent": "Not applicable" if found.within_timescale_percent is None
        else f"{found.within_timescale_percent:.1f}%",
        "turnaround": _days(found.turnaround_median_days)}
    return await render_signed_in(request, "dashboard.html", context)


@routes.get("/dashboard.csv")
async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    """One of the dashboard's tables as CSV, with the filters chosen: passed on from the gateway as it comes."""
    table = request.query.get("table", "")
    if table not in CSV_TABLES:
        raise web.HTTPNotFound()
    la_id, _, filters = await _chosen(request)
    return await _pass_on(request, "/dashboard.csv", {"la_id": la_id, "table": table,
                                                     **{k: v for k, v in filters.items() if v}})
