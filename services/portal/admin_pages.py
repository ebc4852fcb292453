"""Administration: an LA's or a setting's page, inviting people, settings, the Designated Teacher, staff
access, deactivating accounts and the audit log.

The gateway decides every action; links and buttons are only offered to those `/me` says may use them.
Anything of another organisation answers 404 from the gateway, and so is the "Page not found" page here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from services.portal import accounts, forms
from services.portal.gateway_client import SESSION_COOKIE, GatewayProblem, NotSignedIn
from services.portal.pagekit import caller, gateway, optional_uuid, redirect, render_signed_in, require_uuid
from shared.api import identity
from shared.api.auth import GET_ME, Me
from shared.api.children import LIST_CHILDREN, ChildList, ChildSummary
from shared.api.identity import Member, OpenInvitation, OrganisationOut, SettingSummary

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

DONE = {
    "invited": ("Invitation sent", "We’ve emailed them a link to create their account."),
    "withdrawn": ("Invitation withdrawn", "The link in the email no longer works."),
    "deactivated": ("{name}’s account has been deactivated", "They have been signed out and cannot sign in."),
    "reactivated": ("{name}’s account has been reactivated", "They can sign in again."),
    "signed-out": ("{name} has been signed out", "They have been signed out of all their sessions."),
    "designated-teacher": ("Designated Teacher changed", "{name} is now the nominated Designated Teacher."),
    "access": ("{name}’s access has been changed", ""),
    "setting-added": ("Setting added", "You can now invite its Designated Teacher."),
    "details": ("Details saved", ""),
    "tray-settings": ("Task trays saved", "Retracted and submitted tasks stay in the trays for the days you chose."),
    "retention": ("Record retention saved", "Children’s records are kept until the birthday you chose."),
    "submission-settings": ("Submission saved", "PEPs go to quality assurance when you chose."),
    "session-rules": ("Signing out saved", "People are signed out after the time you chose, from their next page."),
}


def _ensure_signed_in(request: web.Request) -> None:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()


async def _me_and_organisation(request: web.Request, org_id: str) -> tuple[Me, OrganisationOut]:
    _ensure_signed_in(request)
    who = caller(request, signed_in=True)
    me, org = await asyncio.gather(gateway(request).call(GET_ME, who),
                                   gateway(request).call(identity.GET_ORGANISATION, who, org_id=org_id))
    return me, org


def _powers(me: Me, org: OrganisationOut) -> accounts.Powers:
    return accounts.powers([m.model_dump() for m in me.memberships], org.organisation_type, str(org.id),
                           str(org.la_id) if org.la_id else None)


def _done_banner(request: web.Request, members: list[Member]) -> dict[str, str] | None:
    key = request.query.get("done", "")
    if key not in DONE:
        return None
    user_id = optional_uuid(request.query.get("user", ""))
    person = next((m for m in members if str(m.user_id) == user_id), None)
    name = accounts.full_name(person) if person else "They"
    heading, body = DONE[key]
    if person is None and "{name}" in heading:
        heading = {"deactivated": "Account deactivated", "reactivated": "Account reactivated",
                   "signed-out": "Signed out of all sessions", "access": "Access changed"}.get(key, heading)
    return {"heading": heading.format(name=name), "body": body.format(name=name)}


@routes.get("/organisations/{org_id}")
async def organisation(request: web.Request) -> web.Response:
    org_id = require_uuid(request, "org_id")
    me, org = await _me_and_organisation(request, org_id)
    powers = _powers(me, org)
    who = caller(request, signed_in=True)
    client = gateway(request)
    members: list[Member] = []
    invitations: list[OpenInvitation] = []
    settings: list[SettingSummary] = []
    if org.can_manage:
        calls: list[Any] = [client.call(identity.LIST_MEMBERS, who, org_id=org.id),
                            client.call(identity.LIST_INVITATIONS, who, org_id=org.id)]
        if org.organisation_type == "local_authority":
            calls.append(client.call(identity.LIST_SETTINGS, who, la_id=org.id))
        found = await asyncio.gather(*calls)
        members, invitations = found[0], found[1]
        settings = found[2] if len(found) > 2 else []
    members.sort(key=lambda m: (m.deactivated, m.family_name.casefold(), m.given_name.casefold()))
    settings.sort(key=lambda s: s.name.casefold())
    return await render_signed_in(request, "organisation.html", {
        "org": org, "me": me, "powers": powers, "members": members, "invitations": invitations,
        "settings": settings, "done": _done_banner(request, members)})


# ---- inviting ------------------------------------------------------------------------------------


def _role_items(roles: tuple[str, ...], chosen: str) -> list[dict[str, Any]]:
    return [{"value": r, "text": accounts.role_name(r), "hint": {"text": accounts.ROLE_HINTS.get(r, "")},
             "checked": r == chosen} for r in roles]


async def _invite_page(request: web.Request, org: OrganisationOut, powers: accounts.Powers, form: forms.Form,
                       problem: str | None = None) -> web.Response:
    return await render_signed_in(request, "invite.html", {
        "org": org, "form": form, "errors": form.errors, "problem": problem,
        "role_items": _role_items(powers.invitable_roles, form.values.get("role", ""))})


@routes.get("/organisations/{org_id}/invitations/new")
async def invite_form(request: web.Request) -> web.Response:
    me, org = await _me_and_organisation(request, require_uuid(request, "org_id"))
    powers = _powers(me, org)
    if not org.can_manage or not powers.can_invite:
        raise web.HTTPNotFound()
    return await _invite_page(request, org, powers, forms.Form({"given_name": "", "family_name": "", "email": "",
                                                                "role": ""}))


@routes.post("/organisations/{org_id}/invitations/new")
async def invite(request: web.Request) -> web.Response:
    me, org = await _me_and_organisation(request, require_uuid(request, "org_id"))
    powers = _powers(me, org)
    if not org.can_manage or not powers.can_invite:
        raise web.HTTPNotFound()
    form = forms.check_invitation(await request.post(), list(powers.invitable_roles))
    if form.errors:
        return await _invite_page(request, org, powers, form)
    v = form.values
    try:
        await gateway(request).call(identity.INVITE, caller(request, signed_in=True), {
            "given_name": v["given_name"], "family_name": v["family_name"], "email": v["email"], "role": v["role"]},
            org_id=org.id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("invitation refused", extra={"status": p.status, "code": p.code})
        problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
        return await _invite_page(request, org, powers, form, problem)
    return redirect(f"/organisations/{org.id}?done=invited")


@routes.post("/organisations/{org_id}/invitations/{invitation_id}/withdraw")
async def withdraw_invitation(request: web.Request) -> web.Response:
    org_id, invitation_id = require_uuid(request, "org_id"), require_uuid(request, "invitation_id")
    _ensure_signed_in(request)
    await gateway(request).call(identity.WITHDRAW_INVITATION, caller(request, signed_in=True),
                                invitation_id=invitation_id)
    return redirect(f"/organisations/{org_id}?done=withdrawn")


# ---- people: deactivate, reactivate, sign out everywhere -------------------------------------------


async def _user_action(request: web.Request, action: str) -> web.Response:
    org_id, user_id = require_uuid(request, "org_id"), require_uuid(request, "user_id")
    _ensure_signed_in(request)
    op = {"deactivated": identity.DEACTIVATE_USER, "reactivated": identity.REACTIVATE_USER,
          "signed-out": identity.END_USER_SESSIONS}[action]
    await gateway(request).call(op, caller(request, signed_in=True), user_id=user_id)
    return redirect(f"/organisations/{org_id}?done={action}&user={user_id}")


@routes.post("/organisations/{org_id}/users/{user_id}/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    return await _user_action(request, "deactivated")


@routes.post("/organisations/{org_id}/users/{user_id}/reactivate")
async def reactivate(request: web.Request) -> web.Response:
    return await _user_action(request, "reactivated")


@routes.post("/organisations/{org_id}/users/{user_id}/sign-out")
async def sign_out_user(request: web.Request) -> web.Response:
    return await _user_action(request, "signed-out")


# ---- settings: add and change --------------------------------------------------------------------


def _setting_items(values: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {
        "setting_type_items": [{"value": k, "text": v, "checked": values.get("setting_type") == k}
                               for k, v in accounts.SETTING_TYPES.items()],
        "phase_items": [{"value": k, "text": v, "checked": values.get("phase") == k}
                        for k, v in accounts.PHASES.items()],
    }


async def _setting_page(request: web.Request, org: OrganisationOut, form: forms.Form, *, adding: bool,
                        problem: str | None = None) -> web.Response:
    return await render_signed_in(request, "setting_form.html", {
        "org": org, "form": form, "errors": form.errors, "problem": problem, "adding": adding,
        **_setting_items(form.values)})


async def _admin_of(request: web.Request, org_id: str, kind: str) -> tuple[Me, OrganisationOut]:
    """The organisation, when it is of this kind and the caller is a VS admin for it (else Page not found)."""
    me, org = await _me_and_organisation(request, org_id)
    if org.organisation_type != kind or not org.can_manage or not _powers(me, org).la_admin:
        raise web.HTTPNotFound()
    return me, org


@routes.get("/organisations/{org_id}/settings/new")
async def add_setting_form(request: web.Request) -> web.Response:
    _, la = await _admin_of(request, require_uuid(request, "org_id"), "local_authority")
    return await _setting_page(request, la, forms.Form({k: "" for k in forms.SETTING_FIELDS}), adding=True)


@routes.post("/organisations/{org_id}/settings/new")
async def add_setting(request: web.Request) -> web.Response:
    _, la = await _admin_of(request, require_uuid(request, "org_id"), "local_authority")
    form = forms.check_setting(await request.post(), accounts.SETTING_TYPES, accounts.PHASES)
    if form.errors:
        return await _setting_page(request, la, form, adding=True)
    try:
        setting = await gateway(request).call(identity.ADD_SETTING, caller(request, signed_in=True),
                                              forms.setting_body(form), la_id=la.id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("setting refused", extra={"status": p.status, "code": p.code})
        problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
        return await _setting_page(request, la, form, adding=True, problem=problem)
    return redirect(f"/organisations/{setting.id}?done=setting-added")


def _setting_values(org: OrganisationOut) -> dict[str, str]:
    return {"name": org.name, "setting_type": org.setting_type or "", "urn": org.urn or "",
            "phase": org.phase or "", "address": org.address or ""}


@routes.get("/organisations/{org_id}/edit")
async def edit_setting_form(request: web.Request) -> web.Response:
    _, setting = await _admin_of(request, require_uuid(request, "org_id"), "setting")
    return await _setting_page(request, setting, forms.Form(_setting_values(setting)), adding=False)


@routes.post("/organisations/{org_id}/edit")
async def edit_setting(request: web.Request) -> web.Response:
    _, setting = await _admin_of(request, require_uuid(request, "org_id"), "setting")
    form = forms.check_setting(await request.post(), accounts.SETTING_TYPES, accounts.PHASES)
    if form.errors:
        return await _setting_page(request, setting, form, adding=False)
    try:
        await gateway(request).call(identity.CHANGE_ORGANISATION, caller(request, signed_in=True),
                                    forms.setting_body(form), org_id=setting.id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("setting change refused", extra={"status": p.status, "code": p.code})
        problem = None if form.merge_gateway_errors(p.field_errors()) else p.message
        return await _setting_page(request, setting, form, adding=False, problem=problem)
    return redirect(f"/organisations/{setting.id}?done=details")


# ---- the Designated Teacher ----------------------------------------------------------------------


async def _designated_teacher_page(request: web.Request, setting: OrganisationOut, chosen: str,
                                   errors: dict[str, str] | None = None, problem: str | None = None) -> web.Response:
    who = caller(request, signed_in=True)
    members, history = await asyncio.gather(
        gateway(request).call(identity.LIST_MEMBERS, who, org_id=setting.id),
        gateway(request).call(identity.DESIGNATED_TEACHER_HISTORY, who, setting_id=setting.id))
    candidates = sorted((m for m in members if not m.deactivated),
                        key=lambda m: (m.family_name.casefold(), m.given_name.casefold()))
    history.sort(key=lambda n: n.nominated_at, reverse=True)
    items = [{"value": str(m.user_id), "text": accounts.full_name(m),
              "hint": {"text": ", ".join([m.email or "", *(accounts.role_name(r) for r in m.roles)]).strip(", ")},
              "checked": str(m.user_id) == chosen} for m in candidates]
    return await render_signed_in(request, "designated_teacher.html", {
        "org": setting, "items": items, "history": history, "errors": errors or {}, "problem": problem})


@routes.get("/organisations/{org_id}/designated-teacher")
async def designated_teacher_form(request: web.Request) -> web.Response:
    _, setting = await _admin_of(request, require_uuid(request, "org_id"), "setting")
    current = str(setting.designated_teacher.user_id) if setting.designated_teacher else ""
    return await _designated_teacher_page(request, setting, current)


@routes.post("/organisations/{org_id}/designated-teacher")
async def nominate_designated_teacher(request: web.Request) -> web.Response:
    _, setting = await _admin_of(request, require_uuid(request, "org_id"), "setting")
    user_id = optional_uuid(str((await request.post()).get("user_id", "")))
    if not user_id:
        return await _designated_teacher_page(request, setting, "",
                                              errors={"user_id": "Select who is the Designated Teacher"})
    if setting.designated_teacher and str(setting.designated_teacher.user_id) == user_id:
        # Saved without a change: nothing to record.
        return redirect(f"/organisations/{setting.id}")
    try:
        await gateway(request).call(identity.NOMINATE_DESIGNATED_TEACHER, caller(request, signed_in=True),
                                    {"user_id": user_id}, setting_id=setting.id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("designated teacher refused", extra={"status": p.status, "code": p.code})
        field_errors = p.field_errors()
        errors = {"user_id": field_errors["user_id"]} if "user_id" in field_errors else {}
        return await _designated_teacher_page(request, setting, user_id, errors=errors,
                                              problem=None if errors else p.message)
    return redirect(f"/organisations/{setting.id}?done=designated-teacher&user={user_id}")


# ---- what setting staff may see --------------------------------------------------------------------


async def _staff_member(request: web.Request) -> tuple[OrganisationOut, Member]:
    setting_id, user_id = require_uuid(request, "org_id"), require_uuid(request, "user_id")
    me, setting = await _me_and_organisation(request, setting_id)
    if setting.organisation_type != "setting" or not _powers(me, setting).designated_teacher:
        raise web.HTTPNotFound()
    members = await gateway(request).call(identity.LIST_MEMBERS, caller(request, signed_in=True), org_id=setting.id)
    member = next((m for m in members if str(m.user_id) == user_id and "setting_staff" in m.roles), None)
    if member is None:
        raise web.HTTPNotFound()
    return setting, member


async def _setting_children(request: web.Request, setting: OrganisationOut) -> list[ChildSummary]:
    """The setting's children the DT can see (all of them): the ones staff access can be narrowed to."""
    who, found, offset = caller(request, signed_in=True), [], 0
    while True:
        page: ChildList = await gateway(request).call(
            LIST_CHILDREN, who, query={"setting_id": setting.id, "limit": 200, "offset": offset})
        found += page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return sorted(found, key=lambda c: (c.family_name.casefold(), c.given_name.casefold()))


async def _access_page(request: web.Request, setting: OrganisationOut, member: Member, form: forms.Form,
                       children: list[ChildSummary], problem: str | None = None) -> web.Response:
    ticked = set(filter(None, form.values.get("sections", "").split(",")))
    chosen = set(filter(None, form.values.get("children", "").split(",")))
    return await render_signed_in(request, "staff_access.html", {
        "org": setting, "member": member, "form": form, "errors": form.errors, "problem": problem,
        "all_sections": forms.ALL_SECTIONS in ticked, "all_children": forms.ALL_CHILDREN in chosen,
        "child_items": [{"value": str(c.id), "text": accounts.full_name(c),
                         "hint": {"text": c.year_group} if c.year_group else None,
                         "checked": str(c.id) in chosen} for c in children],
        "section_items": [{"value": k, "text": v, "checked": k in ticked}
                          for k, v in accounts.SECTIONS.items()]})


@routes.get("/organisations/{org_id}/staff/{user_id}/access")
async def staff_access_form(request: web.Request) -> web.Response:
    setting, member = await _staff_member(request)
    sections = member.access.sections if member.access else None
    children = member.access.children if member.access else None
    form = forms.Form({"sections": forms.ALL_SECTIONS if sections is None else ",".join(sections),
                       "children": forms.ALL_CHILDREN if children is None else ",".join(map(str, children))})
    return await _access_page(request, setting, member, form, await _setting_children(request, setting))


@routes.post("/organisations/{org_id}/staff/{user_id}/access")
async def change_staff_access(request: web.Request) -> web.Response:
    setting, member = await _staff_member(request)
    data = await request.post()
    setting_children = await _setting_children(request, setting)
    form, sections = forms.check_access(data, accounts.SECTIONS)
    children_form, children = forms.check_children(data, [str(c.id) for c in setting_children])
    form.values.update(children_form.values)
    form.errors = {**children_form.errors, **form.errors}  # in page order: children, then sections
    if form.errors:
        return await _access_page(request, setting, member, form, setting_children)
    try:
        await gateway(request).call(identity.SET_STAFF_ACCESS, caller(request, signed_in=True),
                                    {"children": children, "sections": sections},
                                    setting_id=setting.id, user_id=member.user_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("staff access refused", extra={"status": p.status, "code": p.code})
        return await _access_page(request, setting, member, form, setting_children, problem=p.message)
    return redirect(f"/organisations/{setting.id}?done=access&user={member.user_id}")


# ---- the audit log -------------------------------------------------------------------------------------


@routes.get("/organisations/{org_id}/audit")
async def audit(request: web.Request) -> web.Response:
    _, la = await _admin_of(request, require_uuid(request, "org_id"), "local_authority")
    action = request.query.get("action", "").strip()[:100]
    user_id = optional_uuid(request.query.get("user_id", ""))
    who = caller(request, signed_in=True)
    members, entries = await asyncio.gather(
        gateway(request).call(identity.LIST_MEMBERS, who, org_id=la.id),
        gateway(request).call(identity.LIST_AUDIT, who, query={"action": action, "user_id": user_id, "limit": 50},
                              la_id=la.id))
    actions = sorted({*accounts.AUDIT_ACTIONS, *(e.action for e in entries), *([action] if action else [])})
    members.sort(key=lambda m: (m.family_name.casefold(), m.given_name.casefold()))
    return await render_signed_in(request, "audit.html", {
        "org": la, "entries": entries, "filtered": bool(action or user_id),
        "action_items": [{"value": "", "text": "All actions"}]
        + [{"value": a, "text": accounts.action_name(a), "selected": a == action} for a in actions],
        "user_items": [{"value": "", "text": "Everyone"}]
        + [{"value": str(m.user_id), "text": accounts.full_name(m), "selected": str(m.user_id) == user_id}
           for m in members]})
