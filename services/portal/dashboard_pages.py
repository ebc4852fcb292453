"""The Virtual School's dashboard: its LA's PEPs by status, how many were submitted within the timescale, the
latest ratings, QA turnaround and PP+ approved by area of focus and intervention type, each as a table, filtered by
academic year, term and status (and setting, from the query). qa counts every figure; another LA's dashboard is
"Page not found"."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.pagekit import gateway, optional_uuid, render_signed_in

routes = web.RouteTableDef()

VIRTUAL_SCHOOL = ("vs_admin", "vs_caseworker", "vs_approver")
TERMS = {"": "Any term", "autumn": "Autumn", "spring": "Spring", "summer": "Summer"}
STATUSES = {"": "Any status", "created": "Started", "in_progress": "In progress", "submitted": "Submitted",
            "returned": "Returned for amendment", "approved": "Approved", "finalised": "Finalised",
            "cancelled": "Cancelled"}


def _days(value: float | None) -> str:
    return "No decisions yet" if value is None else f"{value:.1f} days"


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    me = await gateway(request).me(who)
    las = sorted({m.organisation_id: m.organisation_name for m in me.memberships if m.role in VIRTUAL_SCHOOL}.items(),
                 key=lambda kv: kv[1].casefold())
    la_id = optional_uuid(request.query.get("la_id", "")) or (las[0][0] if las else "")
    if not la_id:
        raise web.HTTPNotFound()
    filters = {"academic_year": request.query.get("academic_year", "").strip()[:20],
               "term": request.query.get("term", "").strip(), "status": request.query.get("status", "").strip(),
               "setting_id": optional_uuid(request.query.get("setting_id", ""))}
    filters["term"] = filters["term"] if filters["term"] in TERMS else ""
    filters["status"] = filters["status"] if filters["status"] in STATUSES else ""
    found = await gateway(request).dashboard(who, {"la_id": la_id, **{k: v for k, v in filters.items() if v}})
    context: dict[str, Any] = {
        "current_page": "home", "la_id": la_id, "la_name": dict(las).get(la_id, "Your Virtual School"), "las": las,
        "filters": filters, "terms": TERMS, "statuses": STATUSES, "d": found,
        "percent": "Not applicable" if found.within_timescale_percent is None
        else f"{found.within_timescale_percent:.1f}%",
        "turnaround": _days(found.turnaround_median_days)}
    return await render_signed_in(request, "dashboard.html", context)
