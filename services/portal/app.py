"""The portal: server-rendered GOV.UK pages that call the gateway. No database, no bus, no business rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.portal import (
    account_pages,
    accounts,
    action_plan_pages,
    admin_pages,
    child_admin_pages,
    child_move_pages,
    children_pages,
    cookie_pages,
    dashboard_pages,
    delivery_pages,
    email_preview_pages,
    file_pages,
    pages,
    pep_forms,
    pep_pages,
    pep_words,
    qa_pages,
    registration_pages,
    retention_pages,
    session_rule_pages,
    submission_pages,
    task_pages,
    template_pages,
    text_limits,
    timescale_pages,
    views_pages,
)
from services.portal.errors import error_pages
from services.portal.gateway_client import SESSION_COOKIE, GatewayClient, gateway_session
from services.portal.pagekit import GATEWAY, session_before_body
from services.portal.security import (
    BROWSER_SECRET,
    csp_nonce,
    csrf_middleware,
    csrf_token_for,
    security_headers,
)
from services.portal.settings import PortalSettings
from shared.api.attachments import ATTACHMENT_MAX_BYTES
from shared.service import SETTINGS, ServiceSpec
from shared.settings import ServiceSettings

TEMPLATES = Path(__file__).parent / "templates"
STATIC_URL = "/static"
FORM_ROOM = 1024 * 1024  # the multipart framing and the fields around a file


def _settings(app: web.Application) -> PortalSettings:
    settings = app[SETTINGS]
    assert isinstance(settings, PortalSettings)
    return settings


async def _page_context(request: web.Request) -> dict[str, Any]:
    """What every template can use (the header's sign-out form needs the CSRF token)."""
    settings = _settings(request.app)
    return {
        "static_url": STATIC_URL,
        "signed_in": SESSION_COOKIE in request.cookies,
        "csrf_token": csrf_token_for(request, settings) if BROWSER_SECRET in request else "",
        "cspNonce": csp_nonce(request),  # GOV.UK Frontend's template puts it on its inline script
        "errors": {},
        "problem": None,
    }


def _setup(app: web.Application) -> None:
    settings = _settings(app)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(TEMPLATES),
            jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}),
        ]),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        context_processors=[_page_context],
        default_helpers=False,
    )
    env.trim_blocks = env.lstrip_blocks = True
    env.filters.update(date_time=accounts.date_time, date_only=accounts.date_only, role_name=accounts.role_name,
                       action_name=accounts.action_name, full_name=accounts.full_name)
    env.globals.update(choice_name=accounts.choice_name, access_summary=accounts.access_summary,
                       setting_types=accounts.SETTING_TYPES, phases=accounts.PHASES)
    env.filters.update(long_date=pep_forms.long_date)
    env.globals.update(limits=text_limits.LIMITS)  # each free-text answer's maximum, for its character count
    env.globals.update(pep_title=pep_words.pep_title, pep_status=pep_words.pep_status,
                       sen_words=lambda key: pep_words.words(pep_words.SEN_STATUSES, key),
                       access_words=lambda key: pep_words.words(pep_words.ACCESS_VIA, key))
    app.on_response_prepare.append(security_headers(settings))
    # child_admin_pages before children_pages: its /children/add and /children/import come before /children/{child_id}
    for module in (pages, registration_pages, account_pages, admin_pages, child_admin_pages, children_pages,
                   file_pages, pep_pages, template_pages):
        app.router.add_routes(module.routes)
    app.router.add_routes(timescale_pages.routes)  # an LA's timescales, for its Virtual School
    app.router.add_routes(delivery_pages.routes)  # the delivery log, for VS admins
    app.router.add_routes(email_preview_pages.routes)  # every kind of email with sample values, for VS admins
    app.router.add_routes(task_pages.routes)  # trays, tasks, delegating a PEP
    app.router.add_routes(qa_pages.routes)  # the QA queue, reviews, PP+ funding decisions
    app.router.add_routes(dashboard_pages.routes)  # the Virtual School's dashboard
    app.router.add_routes(retention_pages.routes)  # how long the LA keeps children's records
    app.router.add_routes(submission_pages.routes)  # when the LA's PEPs go to quality assurance
    app.router.add_routes(session_rule_pages.routes)  # when the LA's people are signed out for doing nothing
    app.router.add_routes(views_pages.routes)  # the child's and carer's views by secure invitation
    app.router.add_routes(cookie_pages.routes)  # the cookies page, linked from every page's footer
    app.router.add_routes(action_plan_pages.routes)  # targets raised between PEPs, from the child's profile
    app.router.add_routes(child_move_pages.routes)  # a child's school, placement and people, changed by name
    if not settings.static_dir.is_dir():
        raise RuntimeError(f"{settings.static_dir} is missing: run `npm ci && npm run build:portal` first")
    app.router.add_static("/static/", settings.static_dir)


async def _gateway_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = _settings(app)
    async with gateway_session(settings.gateway_timeout) as session:
        app[GATEWAY] = GatewayClient(settings.gateway_url, session)
        yield


def _middlewares(settings: ServiceSettings) -> list[Any]:
    assert isinstance(settings, PortalSettings)
    return [error_pages, csrf_middleware(settings, before_body=session_before_body)]


SPEC = ServiceSpec(name="portal", settings_class=PortalSettings, routes=_setup, migrations=None,
                   uses_bus=False, internal=False, extra_contexts=[_gateway_ctx], middlewares=_middlewares,
                   # A form may carry an attachment (pep and the gateway decide its limit).
                   client_max_size=ATTACHMENT_MAX_BYTES + FORM_ROOM)
