"""A child's PEP clocks over HTTP: `GET /children/{child_id}/clocks`. Who may ask is who sees the child in their
caseload (caseload.py: the LA's Virtual School, the allocated social worker, the setting's DT and the staff the DT
lets see the child); anyone else gets 404. "Today" is the service's clock (EPEP_CLOCK_FILE in tests)."""

from __future__ import annotations

from aiohttp import web

from services.delegation import timescale_store
from services.delegation.caseload import _scope_sql, _staff_may_not_see
from services.delegation.domain.clocks import ChildFacts, PepFacts, clocks, due_soon_from, escalates_on, in_date
from shared.api.clocks import GET_CHILD_CLOCKS, ChildClock, ChildClocks
from shared.authz import not_found
from shared.schedule import now
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, path_uuid, serves
from shared.workdays import uk_date

routes = web.RouteTableDef()


@serves(routes, GET_CHILD_CLOCKS)
async def child_clocks(request: web.Request) -> ChildClocks:
    claims = request[CLAIMS]
    child_id = path_uuid(request, "child_id")
    where, args = _scope_sql(claims)
    today = uk_date(now(request.app[SETTINGS].clock_file))
    async with request.app[POOL].acquire() as conn:
        child = await conn.fetchrow(f"SELECT c.* FROM children c WHERE c.id = ${len(args) + 1} AND {where}",
                                    *args, child_id)
        if child is None or _staff_may_not_see(claims, child):
            raise not_found()
        peps = [PepFacts.of(r) for r in await conn.fetch("SELECT * FROM peps WHERE child_id = $1", child_id)]
        config, _ = await timescale_store.current(conn, child["la_id"])
    facts = ChildFacts.of(child)
    found = clocks(facts, peps, config, today)
    return ChildClocks(
        child_id=child_id, today=today, in_care=facts.in_care, in_date=in_date(facts, peps, config, today),
        timescales_version=config.version,
        clocks=[ChildClock(key=c.key, label=c.label, due=c.due, state=c.state,  # type: ignore[arg-type]
                           explanation=c.explanation, met_on=c.met_on, pep_id=c.pep_id, booked_late=c.booked_late,
                           term=c.term,
                           due_soon_from=due_soon_from(config, c.due) if c.due else None,
                           escalates_on=escalates_on(config, c.due) if c.due else None) for c in found])
