"""An LA's timescales over HTTP: read by its Virtual School, changed by its VS admin (each change a new version,
kept with who, when, what and why), and a preview of the deadlines they give for a meeting or a date entered
care. Anyone outside the LA's Virtual School gets 404: another LA's configuration is not theirs to know of."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.delegation import timescale_store as store
from services.delegation.domain.timescales import (
    RULES,
    Rule,
    TermlyDeadline,
    TermPeriod,
    Timescales,
    changes,
    deadlines,
    next_version,
)
from shared.api import timescales as api
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, require_user, roles_at
from shared.bus import add_event
from shared.contracts import TermDates, TimescaleRuleData, TimescalesChanged
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, parse_body, path_uuid, serves

routes = web.RouteTableDef()


def _virtual_school_roles(claims: Claims, la_id: uuid.UUID) -> set[str]:
    roles = roles_at(claims, str(la_id)) & VIRTUAL_SCHOOL_ROLES
    if not roles:
        raise not_found()
    return roles


def _out(la_id: uuid.UUID, config: Timescales, row: asyncpg.Record | None) -> api.TimescalesOut:
    rules = {}
    for name, spec in RULES.items():
        rule = config.rule(name)
        rules[name] = api.TimescaleRuleOut(amount=rule.amount, unit=rule.unit, version=rule.version,
                                           label=spec.label, counts=spec.counts)
    return api.TimescalesOut(
        la_id=la_id, version=config.version, changed_at=row["changed_at"] if row else None,
        changed_by=row["changed_by_name"] if row else None, rules=api.TimescaleRulesOut(**rules),
        term_periods=[api.TermPeriod(term=p.term, start=p.start, end=p.end) for p in config.term_periods],
        inset_days=sorted(config.inset_days),
        termly_deadlines=[api.TermlyDeadline(term=d.term, due=d.due) for d in config.termly_deadlines],
        term_dates_version=config.term_dates_version, termly_deadlines_version=config.termly_deadlines_version)


def _edited(body: api.TimescalesIn, current: Timescales) -> Timescales:
    """The configuration as sent; a rule left out (the PEP clocks' rules came later) keeps its current value."""
    return Timescales(
        rules={name: Rule(rule.amount, rule.unit) if rule is not None else current.rule(name)
               for name, rule in body.rules},
        term_periods=tuple(TermPeriod(p.term, p.start, p.end) for p in body.term_periods),
        inset_days=frozenset(body.inset_days),
        termly_deadlines=tuple(TermlyDeadline(d.term, d.due) for d in body.termly_deadlines))


@serves(routes, api.GET_TIMESCALES)
async def get_timescales(request: web.Request) -> api.TimescalesOut:
    la_id = path_uuid(request, "la_id")
    _virtual_school_roles(request[CLAIMS], la_id)
    async with request.app[POOL].acquire() as conn:
        config, row = await store.current(conn, la_id)
    return _out(la_id, config, row)


@serves(routes, api.SET_TIMESCALES)
async def change_timescales(request: web.Request) -> api.TimescalesOut:
    """Saves the LA's next version. Rules left as they were keep the version that set them; a save that changes
    nothing makes no version."""
    claims = request[CLAIMS]
    la_id = path_uuid(request, "la_id")
    if "vs_admin" not in _virtual_school_roles(claims, la_id):
        raise Problem(403, "Only a Virtual School administrator can change the timescales", code="forbidden")
    user_id = uuid.UUID(require_user(claims))
    body = await parse_body(request, api.TimescalesIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        config, row = await store.current(conn, la_id)
        if body.based_on_version != config.version:
            raise _conflict(config.version)
        saved = next_version(config, _edited(body, config))
        what = changes(config, saved)
        if not what:
            return _out(la_id, config, row)
        try:
            await store.save(conn, la_id, saved, what, user_id, body.note)
        except store.VersionConflict:
            raise _conflict(config.version + 1) from None
        # Through the outbox, with the save: qa counts its dashboard's QA timescale by the LA's own rule.
        await add_event(conn, "delegation", changed_event(la_id, saved), tenant=str(la_id))
        config, row = await store.current(conn, la_id)
    return _out(la_id, config, row)


def changed_event(la_id: uuid.UUID, config: Timescales) -> TimescalesChanged:
    """What other services are told of a saved version: every rule, and the term dates school days count in."""
    return TimescalesChanged(
        la_id=la_id, version=config.version,
        rules={name: TimescaleRuleData(amount=r.amount, unit=r.unit, version=r.version)
               for name in RULES for r in (config.rule(name),)},
        term_periods=[TermDates(term=p.term, start=p.start, end=p.end) for p in config.term_periods],
        inset_days=sorted(config.inset_days))


def _conflict(version: int) -> Problem:
    return Problem(409, "The timescales have changed since you started", "Someone saved a newer version. Look at "
                   "it and make your changes again.", code="conflict", extra={"current_version": version})


@serves(routes, api.TIMESCALES_HISTORY)
async def timescales_history(request: web.Request) -> list[api.TimescalesVersion]:
    la_id = path_uuid(request, "la_id")
    _virtual_school_roles(request[CLAIMS], la_id)
    async with request.app[POOL].acquire() as conn:
        rows = await store.history(conn, la_id)
    return [api.TimescalesVersion(version=r["version"], changed_at=r["changed_at"], changed_by_id=r["changed_by"],
                                  changed_by=r["changed_by_name"], note=r["note"],
                                  changes=[api.TimescaleChange(**c) for c in r["changes"]]) for r in rows]


@serves(routes, api.PREVIEW_DEADLINES)
async def preview_deadlines(request: web.Request) -> api.DeadlinePreview:
    la_id = path_uuid(request, "la_id")
    _virtual_school_roles(request[CLAIMS], la_id)
    body = await parse_body(request, api.DeadlinePreviewIn)
    if all(day is None for day in (body.meeting_date, body.date_entered_care, body.moved_on, body.submitted_on)):
        message = ("Enter a meeting date, a date entered care, the date of a change of school or placement, or the "
                   "date a PEP was submitted")
        raise Problem(422, "Give a date to work from", message, code="validation",
                      errors=[FieldError(field="meeting_date", message=message)])
    async with request.app[POOL].acquire() as conn:
        config, _ = await store.current(conn, la_id)
    return _preview(config, body)


def _preview(config: Timescales, body: api.DeadlinePreviewIn) -> api.DeadlinePreview:
    found = deadlines(config, meeting=body.meeting_date, entered_care=body.date_entered_care,
                      placement=body.placement, moved_on=body.moved_on, submitted_on=body.submitted_on,
                      post16=True)
    return api.DeadlinePreview(version=config.version, deadlines=[
        api.DeadlineOut(key=d.key, label=d.label, due=d.due, rule=d.rule, rule_version=d.rule_version,
                        explanation=d.explanation) for d in found.values()])
