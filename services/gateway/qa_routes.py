"""Quality assurance and PP+ funding through the gateway: qa decides who sees and acts on each review and request,
asking pep with the caller's own claims whether they may see the PEP or child."""

from __future__ import annotations

from aiohttp import web

from services.gateway.forwarding import forward
from services.gateway.handlers import CLIENTS, authenticate
from services.gateway.openapi import Operation, ProblemDocument, operation
from shared.api import qa as api
from shared.web import REQUEST_ID

routes = web.RouteTableDef()
tags = ("quality assurance",)
forward("get", "/organisations/{la_id}/qa-framework", "The LA's QA framework (its grades, areas with a descriptor "
        "per grade, overall rule) and the frameworks it may choose (the Virtual School)", response=api.LaQaFramework,
        service="qa", tags=tags)
forward("put", "/organisations/{la_id}/qa-framework", "Choose the LA's QA framework (VS admin); reviews already "
        "written keep theirs", body=api.FrameworkChoiceIn, response=api.LaQaFramework, service="qa", tags=tags)
forward("get", "/qa/queue", "PEPs awaiting review in my LAs, oldest submission first (the Virtual School; query: "
        "la_id)", response=api.Queue, service="qa", tags=tags)
forward("get", "/peps/{pep_id}/review", "A PEP's review of its latest submission and every earlier one (the Virtual "
        "School, the social worker, the DT, the IRO; never carers)", response=api.PepReview, service="qa", tags=tags)
forward("put", "/peps/{pep_id}/review", "Save a caseworker's ratings so far: per area a grade and feedback, overall "
        "a grade and feedback (each save is kept)", body=api.ReviewDraftIn, response=api.PepReview, service="qa",
        tags=tags)
forward("post", "/peps/{pep_id}/review/decide", "Approve the PEP, or return it to the school with a reason (taken "
        "through the PEP's own lifecycle; the school gets an amend task with the feedback)", body=api.DecideIn,
        response=api.PepReview, service="qa", tags=tags)
forward("post", "/peps/{pep_id}/review/confirm", "Confirm or change a decided review's overall grade (a VS approver "
        "or admin)", body=api.ConfirmIn, response=api.PepReview, service="qa", tags=tags)

funding_tags = ("pp+ funding",)
forward("get", "/funding", "An LA's PP+ requests, oldest first, with the count of each status (the Virtual School; "
        "query: la_id, status = pending | more_information | approved | refused | all)", response=api.FundingList,
        service="qa", tags=funding_tags)
forward("post", "/funding/{request_id}/decide", "Approve a PP+ request (at most the amount asked), refuse it or ask "
        "for more information, with a reason (a VS approver or admin)", body=api.FundingDecideIn,
        response=api.FundingRequestOut, service="qa", tags=funding_tags)
forward("get", "/children/{child_id}/funding", "A child's PP+ requests and totals per financial year against the "
        "LA's allocation (those who see QA)", response=api.ChildFunding, service="qa", tags=funding_tags)
forward("get", "/organisations/{la_id}/pp-plus-allocation", "The LA's PP+ allocation per child per financial year",
        response=api.Allocation, service="qa", tags=funding_tags)
forward("put", "/organisations/{la_id}/pp-plus-allocation", "Set the LA's PP+ allocation per child (VS admin)",
        body=api.AllocationIn, response=api.Allocation, service="qa", tags=funding_tags)

operation(Operation("get", "/api/v1/funding.csv", "Every PP+ request of an LA with its decision, as CSV for finance "
                    "(the Virtual School; query: la_id)", None,
                    {200: None, 401: ProblemDocument, 404: ProblemDocument}, tags=list(funding_tags)))


@routes.get("/api/v1/funding.csv")
async def funding_csv(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    target = "/funding.csv" + (f"?{request.query_string}" if request.query_string else "")
    async with request.app[CLIENTS]["qa"].raw("GET", target, claims, request_id=request[REQUEST_ID]) as upstream:
        body = await upstream.read()
        disposition = upstream.headers.get("Content-Disposition", 'attachment; filename="pp-plus.csv"')
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": disposition, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

forward("get", "/dashboard", "The Virtual School's dashboard for its LA: PEPs by status, submitted within the "
        "timescale, latest ratings, QA turnaround, PP+ approved by area of focus and intervention type (query: la_id, "
        "academic_year, term, setting_id, status, key_stage, social_worker_id, caseworker_id, rating), with PEPs due, "
        "overdue and completed, PP+ paid termly, attendance and attainment", response=api.Dashboard,
        service="qa", tags=tags)

operation(Operation("get", "/api/v1/dashboard.csv", "One table of the Virtual School's dashboard as CSV (query: the "
                    "dashboard's, and table = by_status | timescale | awarded | ratings | ratings_by_term | "
                    "turnaround | pp_plus_by_area | pp_plus_by_intervention | pp_plus_by_setting | progress | "
                    "pp_plus_termly | attendance | attainment | attainment_progress)", None,
                    {200: None, 401: ProblemDocument, 404: ProblemDocument, 422: ProblemDocument}, tags=list(tags)))


@routes.get("/api/v1/dashboard.csv")
async def dashboard_csv(request: web.Request) -> web.Response:
    claims = await authenticate(request)
    target = "/dashboard.csv" + (f"?{request.query_string}" if request.query_string else "")
    async with request.app[CLIENTS]["qa"].raw("GET", target, claims, request_id=request[REQUEST_ID]) as upstream:
        body = await upstream.read()
        disposition = upstream.headers.get("Content-Disposition", 'attachment; filename="dashboard.csv"')
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": disposition, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
