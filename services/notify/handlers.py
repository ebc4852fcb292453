"""notify's internal API: the delivery log (the full admin page is its own issue)."""

from __future__ import annotations

from aiohttp import web

from shared.errors import Problem
from shared.service import POOL
from shared.web import CLAIMS

routes = web.RouteTableDef()


@routes.get("/deliveries/summary")
async def delivery_summary(request: web.Request) -> web.Response:
    """Counts by status: what an operator on call looks at first."""
    if not request[CLAIMS].is_service:
        raise Problem(403, "Forbidden", code="forbidden")
    rows = await request.app[POOL].fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    return web.json_response({r["status"]: r["n"] for r in rows})
