"""The delivery log: an LA's Virtual School admins see every email sent about their LA, search it, and send a
failed one again.

The gateway (and notify behind it) decides who may: anyone but a VS admin of the LA gets 404, shown here as
"Page not found". The page shows the kind of email, to whom, its status, attempts and times: never its words.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from services.portal.gateway_client import SESSION_COOKIE, GatewayProblem, NotSignedIn
from services.portal.pagekit import caller, gateway, redirect, render_signed_in, require_uuid
from shared.api.identity import GET_ORGANISATION
from shared.api.notifications import LIST_DELIVERIES, RESEND_DELIVERY, DeliveryPage

routes = web.RouteTableDef()

STATUS_WORDS = {"created": ("Waiting", "govuk-tag--grey"), "sending": ("Sending", "govuk-tag--blue"),
                "sent": ("Sent", "govuk-tag--green"), "temporary_failure": ("Not sent yet", "govuk-tag--yellow"),
                "permanent_failure": ("Failed", "govuk-tag--red")}
SEARCH_FIELDS = ("recipient", "template", "status", "page")
RESULTS = {
    "sent": ("success", "Email sent again", "It has been sent."),
    "not_sent": ("important", "Email not sent yet", "The mail server could not be reached. Try again later."),
    "failed": ("important", "Email refused again", "The mail server refused it again. Check the address."),
    "refused": ("important", "That email cannot be sent again",
                "Only an email that failed, and held no code or link, can be sent again."),
}


def _query(request: web.Request) -> dict[str, str]:
    q = request.query
    page = q.get("page", "1")
    return {"recipient": q.get("recipient", "").strip()[:254], "template": q.get("template", "").strip()[:64],
            "status": q.get("status", "").strip()[:32], "page": page if page.isdigit() else "1"}


def _pagination(base: str, found: DeliveryPage, query: dict[str, str]) -> dict[str, Any] | None:
    if found.pages <= 1:
        return None

    def href(n: int) -> str:
        return f"{base}?" + urlencode({**{k: v for k, v in query.items() if v and k != "page"}, "page": str(n)})

    shown = sorted({1, found.pages, *range(max(1, found.page - 1), min(found.pages, found.page + 1) + 1)})
    items: list[dict[str, Any]] = []
    for before, n in zip([0, *shown], shown, strict=False):
        if before and n - before > 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": href(n), "current": n == found.page})
    params: dict[str, Any] = {"items": items, "landmarkLabel": "Pages of the delivery log"}
    if found.page > 1:
        params["previous"] = {"href": href(found.page - 1)}
    if found.page < found.pages:
        params["next"] = {"href": href(found.page + 1)}
    return params


@routes.get("/organisations/{org_id}/deliveries")
async def delivery_log(request: web.Request) -> web.Response:
    org_id = require_uuid(request, "org_id")
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    who = caller(request, signed_in=True)
    query = _query(request)
    try:
        org, found = await asyncio.gather(
            gateway(request).call(GET_ORGANISATION, who, org_id=org_id),
            gateway(request).call(LIST_DELIVERIES, who, query={k: v for k, v in query.items() if v}, la_id=org_id))
    except GatewayProblem as problem:
        if problem.status != 422:
            raise
        # A filter value not in the lists (an old link): show the log unfiltered rather than an error.
        raise web.HTTPSeeOther(f"/organisations/{org_id}/deliveries") from None
    base = f"/organisations/{org_id}/deliveries"
    result = RESULTS.get(request.query.get("result", ""))
    return await render_signed_in(request, "deliveries.html", {
        "org": org, "found": found, "query": query, "status_words": STATUS_WORDS,
        "filtered": any(query[k] for k in ("recipient", "template", "status")),
        "result": {"type": result[0], "heading": result[1], "body": result[2]} if result else None,
        "template_items": [{"value": "", "text": "All emails"}] + [
            {"value": t.value, "text": t.name, "selected": t.value == query["template"]} for t in found.templates],
        "status_items": [{"value": "", "text": "Any status"}] + [
            {"value": s, "text": STATUS_WORDS.get(s, (s, ""))[0], "selected": s == query["status"]}
            for s in found.statuses],
        "pagination": _pagination(base, found, query),
        "back_query": urlencode({k: v for k, v in query.items() if v and not (k == "page" and v == "1")})})


@routes.post("/organisations/{org_id}/deliveries/{delivery_id}/resend")
async def resend(request: web.Request) -> web.Response:
    org_id, delivery_id = require_uuid(request, "org_id"), require_uuid(request, "delivery_id")
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    form = await request.post()
    # Only the search's own fields are carried back; anything else in the form is dropped.
    back = urlencode([(k, v) for k, v in parse_qsl(str(form.get("back", ""))) if k in SEARCH_FIELDS])
    try:
        done = await gateway(request).call(RESEND_DELIVERY, caller(request, signed_in=True), la_id=org_id,
                                           delivery_id=delivery_id)
        result = {"sent": "sent", "permanent_failure": "failed"}.get(done.status, "not_sent")
    except GatewayProblem as problem:
        if problem.status != 409:
            raise
        result = "refused"
    # Back to the same search, so the admin sees the email's new status where they left it.
    return redirect(f"/organisations/{org_id}/deliveries?{back + '&' if back else ''}result={result}")
