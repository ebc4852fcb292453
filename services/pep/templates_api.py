"""An LA's own templates: copy a default, edit it (a new version each time, so PEPs already started keep theirs),
for example to make more answers mandatory. PEPs started afterwards use the LA's latest version."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.pep import pep_store
from services.pep.template_library import load_default_templates
from shared.api import peps as api
from shared.api.peps import TemplateCopy, TemplateEdit, TemplateOut, TemplateSummary
from shared.api.templates import Template
from shared.authz import not_found, roles_at
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, parse_body, serves

routes = web.RouteTableDef()


def _summary(row: asyncpg.Record) -> TemplateSummary:
    return TemplateSummary(id=row["id"], key=row["key"], name=row["body"]["name"], phase=row["phase"],
                           version=row["version"], la_id=row["la_id"], changed_at=row["created_at"])


def _out(row: asyncpg.Record) -> TemplateOut:
    return TemplateOut(**_summary(row).model_dump(), body=row["body"])


async def _ensure_defaults(conn: asyncpg.Connection) -> None:
    for template in load_default_templates().values():
        await pep_store.template_for(conn, uuid.UUID(int=0), template.phase)


def _admin_of(claims: Claims, la_id: uuid.UUID) -> bool:
    return "vs_admin" in roles_at(claims, str(la_id))


def _may_see(claims: Claims, row: asyncpg.Record) -> bool:
    return row["la_id"] is None or bool(roles_at(claims, str(row["la_id"])))


@serves(routes, api.LIST_TEMPLATES)
async def list_templates(request: web.Request) -> list[TemplateSummary]:
    """The national defaults and the templates of the caller's own LAs."""
    claims = request[CLAIMS]
    las = [uuid.UUID(m.organisation_id) for m in claims.memberships if m.organisation_type == "local_authority"]
    async with request.app[POOL].acquire() as conn:
        await _ensure_defaults(conn)
        rows = await conn.fetch("SELECT * FROM templates WHERE la_id IS NULL OR la_id = ANY($1::uuid[]) "
                                "ORDER BY phase, la_id NULLS FIRST, version DESC", las)
    return [_summary(r) for r in rows]


@serves(routes, api.GET_TEMPLATE)
async def get_template(request: web.Request) -> TemplateOut:
    async with request.app[POOL].acquire() as conn:
        row = await _template_or_404(conn, request)
    if not _may_see(request[CLAIMS], row):
        raise not_found("template")
    return _out(row)


async def _template_or_404(conn: asyncpg.Connection, request: web.Request) -> asyncpg.Record:
    try:
        row = await conn.fetchrow("SELECT * FROM templates WHERE id = $1", uuid.UUID(request.match_info["template_id"]))
    except ValueError:
        row = None
    if row is None:
        raise not_found("template")
    return row


@serves(routes, api.COPY_TEMPLATE)
async def copy_template(request: web.Request) -> TemplateOut:
    claims = request[CLAIMS]
    try:
        la_id = uuid.UUID(request.match_info["la_id"])
    except ValueError:
        raise not_found() from None
    if not _admin_of(claims, la_id):
        raise not_found()
    body = await parse_body(request, TemplateCopy)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        source = await conn.fetchrow("SELECT * FROM templates WHERE id = $1", body.from_template_id)
        if source is None or not _may_see(claims, source):
            raise Problem(422, "Choose a template to copy", code="validation", errors=[
                FieldError(field="from_template_id", message="Choose a template you can see")])
        row = await _save_version(conn, la_id, Template.model_validate(source["body"]))
    return _out(row)


@serves(routes, api.EDIT_TEMPLATE)
async def edit_template(request: web.Request) -> TemplateOut:
    """Saves the edited template as the LA's next version; a template that does not validate names the problem."""
    claims = request[CLAIMS]
    body = await parse_body(request, TemplateEdit)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        current = await _template_or_404(conn, request)
        if current["la_id"] is None or not _admin_of(claims, current["la_id"]):
            if _may_see(claims, current):
                raise Problem(403, "Copy the template to your LA before editing it", code="forbidden")
            raise not_found("template")
        edited = Template.model_validate({**body.body, "key": current["key"], "phase": current["phase"]})
        row = await _save_version(conn, current["la_id"], edited)
    return _out(row)


async def _save_version(conn: asyncpg.Connection, la_id: uuid.UUID, template: Template) -> asyncpg.Record:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"template:{la_id}:{template.key}")
    version = await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM templates WHERE la_id = $1 AND key = $2",
                                  la_id, template.key)
    body = {**template.model_dump(mode="json"), "version": version}
    return await conn.fetchrow(
        "INSERT INTO templates (id, key, version, la_id, phase, body) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        uuid.uuid4(), template.key, version, la_id, template.phase, body)
