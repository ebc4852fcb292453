"""PEP templates, for a Virtual School administrator: the national defaults and their LAs' own templates, each
version's sections and questions, copying a default to their LA, and changing an LA's questions (the label, the
help text, whether it is mandatory), saved as the LA's next version.

Versions are never changed: a PEP keeps the version it started with, and PEPs started later use the LA's latest.
pep decides what a template may be; the portal sends the edited template and names what pep refused. Only VS
admins have these pages; anyone else, and any template of another LA, gets "Page not found".
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.portal import pep_forms
from services.portal.gateway_client import SESSION_COOKIE, Caller, GatewayProblem, NotSignedIn
from services.portal.pagekit import caller, gateway, optional_uuid, redirect, render_signed_in, require_uuid
from shared.api import peps as peps_api
from shared.api.auth import GET_ME, Me
from shared.api.peps import TemplateCopy, TemplateEdit, TemplateOut, TemplateSummary

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

PHASES = {"early_years": "Early years", "school_age": "Statutory school age", "post_16": "Post-16"}
TYPES = {"text": "Short text", "long_text": "Long text", "date": "Date", "time": "Time", "yes_no": "Yes or no",
         "single_choice": "One choice", "multiple_choice": "Choices", "number": "Number", "money": "Money",
         "score": "Score", "group": "Repeating rows"}
EDITABLE = ("label", "hint", "mandatory")
PROPERTY_WORDS = {"label": "Question", "hint": "Help text", "mandatory": "Mandatory"}
MAX_LABEL = 500
MAX_HINT = 2000
NATIONAL = "National default"


# ---- who may use these pages, and which templates they see ----------------------------------------------------


@dataclass(frozen=True)
class Admin:
    who: Caller
    las: dict[str, str]  # the LAs this person is a VS admin of: id -> name


def admin_las(me: Me) -> dict[str, str]:
    return {str(m.organisation_id): m.organisation_name for m in me.memberships
            if m.organisation_type == "local_authority" and m.role == "vs_admin"}


async def _admin(request: web.Request) -> Admin:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    who = caller(request, signed_in=True)
    las = admin_las(await gateway(request).call(GET_ME, who))
    if not las:
        raise web.HTTPNotFound()
    return Admin(who, las)


async def _template(request: web.Request, admin: Admin) -> TemplateOut:
    """The template version in the path: a national default or one of the admin's LAs' (else Page not found)."""
    template: TemplateOut = await gateway(request).call(peps_api.GET_TEMPLATE, admin.who,
                                                        template_id=require_uuid(request, "template_id"))
    if template.la_id is not None and str(template.la_id) not in admin.las:
        raise web.HTTPNotFound()  # an LA they work for in another role: not theirs to manage
    return template


def latest_versions(templates: list[TemplateSummary]) -> list[TemplateSummary]:
    """The newest version of each template (the national defaults' and each LA's), in phase order."""
    newest: dict[tuple[str, str], TemplateSummary] = {}
    for t in templates:
        kept = newest.get((_owner(t), t.key))
        if kept is None or t.version > kept.version:
            newest[(_owner(t), t.key)] = t
    phase_order = list(PHASES)
    return sorted(newest.values(), key=lambda t: (
        phase_order.index(t.phase) if t.phase in phase_order else len(phase_order), t.la_id is not None,
        _owner(t), t.name.casefold()))


def versions_of(templates: list[TemplateSummary], template: TemplateSummary) -> list[TemplateSummary]:
    """Every version of this template (the same key, of the same LA or the defaults), newest first."""
    return sorted((t for t in templates if t.key == template.key and t.la_id == template.la_id),
                  key=lambda t: t.version, reverse=True)


def owner_words(template: TemplateSummary, las: dict[str, str]) -> str:
    return NATIONAL if template.la_id is None else las.get(_owner(template), "Another local authority")


def _owner(template: TemplateSummary) -> str:
    """The template's LA as the pages key it (their ids are text), "" for a national default."""
    return "" if template.la_id is None else str(template.la_id)


# ---- questions, as the pages show them ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionRow:
    path: str  # "strengths", or "previous.name" for a field of a group's rows
    label: str
    hint: str
    mandatory: bool
    kind: str
    shown_when: str
    carried_forward: bool
    group: str  # the group's label, for a field of its rows

    def element_id(self, prop: str) -> str:
        return f"{prop}-{self.path.replace('.', '-')}"

    @property
    def legend(self) -> str:
        return f"{self.group}: {self.label}" if self.group else self.label


def _condition(field: dict[str, Any], siblings: list[dict[str, Any]]) -> str:
    """"When ‘Has the child been excluded?’ is ‘Yes’"; "" for a question always shown."""
    rule = field.get("show_when")
    if not rule:
        return ""
    controller = next((f for f in siblings if f.get("key") == rule.get("field")), None)
    if controller is None:
        return f"When {rule.get('field')} has a given answer"
    options = {o.get("value"): o.get("label") for o in controller.get("options") or []}
    words = [("Yes" if v else "No") if isinstance(v, bool) else str(options.get(v, v)) for v in rule.get("equals", [])]
    return f"When ‘{controller.get('label')}’ is " + " or ".join(f"‘{w}’" for w in words)


def question_rows(section: dict[str, Any]) -> list[QuestionRow]:
    """The section's questions top-down, each group followed by the fields of its rows."""
    rows: list[QuestionRow] = []

    def add(fields: list[dict[str, Any]], prefix: str, group: str) -> None:
        for f in fields:
            rows.append(QuestionRow(
                path=f"{prefix}{f['key']}", label=str(f.get("label", "")), hint=str(f.get("hint") or ""),
                mandatory=bool(f.get("mandatory")), kind=TYPES.get(str(f.get("type")), str(f.get("type"))),
                shown_when=_condition(f, fields), carried_forward=bool(f.get("carry_forward")), group=group))
            if f.get("fields"):
                add(f["fields"], f"{prefix}{f['key']}.", str(f.get("label", "")))

    add(section.get("fields") or [], "", "")
    return rows


def section_of(template: TemplateOut, key: str) -> dict[str, Any] | None:
    return next((s for s in template.body.get("sections", []) if s.get("key") == key), None)


def _field_at(fields: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    head, _, rest = path.partition(".")
    found = next((f for f in fields if f.get("key") == head), None)
    if found is None or not rest:
        return found
    return _field_at(found.get("fields") or [], rest)


# ---- the edit form --------------------------------------------------------------------------------------------


@dataclass
class SectionForm:
    values: dict[str, dict[str, Any]]  # question path -> {"label", "hint", "mandatory"}
    errors: dict[str, str]  # element id -> message, in page order


def form_from_section(rows: list[QuestionRow]) -> SectionForm:
    return SectionForm({r.path: {"label": r.label, "hint": r.hint, "mandatory": r.mandatory} for r in rows}, {})


def check_section_form(rows: list[QuestionRow], data: Any) -> SectionForm:
    """What was typed for each question, kept as typed, and what is wrong with it."""
    form = SectionForm({}, {})
    for r in rows:
        label = str(data.get(r.element_id("label"), "")).strip()
        hint = str(data.get(r.element_id("hint"), "")).strip()
        form.values[r.path] = {"label": label, "hint": hint, "mandatory": data.get(r.element_id("mandatory")) == "yes"}
        if not label:
            form.errors[r.element_id("label")] = f"Enter the question for ‘{r.legend}’"
        elif len(label) > MAX_LABEL:
            form.errors[r.element_id("label")] = f"The question must be {MAX_LABEL} characters or fewer"
        if len(hint) > MAX_HINT:
            form.errors[r.element_id("hint")] = f"The help text must be {MAX_HINT} characters or fewer"
    return form


def changes(rows: list[QuestionRow], form: SectionForm) -> dict[str, dict[str, Any]]:
    """What the person changed, from the version the page showed: {path: {property: new value}}."""
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        before = {"label": r.label, "hint": r.hint, "mandatory": r.mandatory}
        changed = {k: v for k, v in form.values[r.path].items() if v != before[k]}
        if changed:
            found[r.path] = changed
    return found


def apply_changes(body: dict[str, Any], section_key: str, edits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of the template's body with these questions changed (an empty help text is none)."""
    edited = copy.deepcopy(body)
    section = next((s for s in edited.get("sections", []) if s.get("key") == section_key), None)
    if section is None:
        return edited
    for path, props in edits.items():
        field = _field_at(section.get("fields") or [], path)
        if field is None:  # not in the latest version: nothing to change
            continue
        for prop, value in props.items():
            field[prop] = (value or None) if prop == "hint" else value
    return edited


def _path_from_error(body: dict[str, Any], section_key: str, location: str) -> tuple[str, str] | None:
    """("previous.name", "label") for pep's "sections.1.fields.4.fields.0.label" when it is in this section."""
    parts = location.split(".")
    if len(parts) < 5 or parts[0] != "sections" or not parts[1].isdigit():
        return None
    sections = body.get("sections", [])
    index = int(parts[1])
    if index >= len(sections) or sections[index].get("key") != section_key:
        return None
    fields, path, rest = sections[index].get("fields") or [], [], parts[2:]
    while len(rest) >= 3 and rest[0] == "fields" and rest[1].isdigit():
        i = int(rest[1])
        if i >= len(fields):
            return None
        path.append(str(fields[i].get("key")))
        fields, rest = fields[i].get("fields") or [], rest[2:]
    if len(rest) != 1 or rest[0] not in EDITABLE or not path:
        return None
    return ".".join(path), rest[0]


def refusal_errors(problem: GatewayProblem, body: dict[str, Any], section_key: str,
                   rows: list[QuestionRow]) -> tuple[dict[str, str], str | None]:
    """pep's field errors on this page's inputs, in page order; what does not fit one is said at the top."""
    by_path = {r.path: r for r in rows}
    found: dict[str, str] = {}
    elsewhere = []
    for e in problem.errors:
        where = _path_from_error(body, section_key, str(e.get("field", "")))
        row = by_path.get(where[0]) if where else None
        if where is None or row is None:
            elsewhere.append(str(e.get("message", "")))
            continue
        found.setdefault(row.element_id(where[1]),
                         f"{PROPERTY_WORDS[where[1]]} for ‘{row.legend}’: {e.get('message', 'is not valid')}")
    order = [r.element_id(p) for r in rows for p in EDITABLE]
    errors = {k: found[k] for k in order if k in found}
    problem_text = None
    if elsewhere or not errors:
        problem_text = problem.message + (f" ({'; '.join(m for m in elsewhere if m)})" if any(elsewhere) else "")
    return errors, problem_text


# ---- pages --------------------------------------------------------------------------------------------------


@routes.get("/templates")
async def template_list(request: web.Request) -> web.Response:
    admin = await _admin(request)
    templates = await gateway(request).call(peps_api.LIST_TEMPLATES, admin.who)
    shown = [t for t in latest_versions(templates) if t.la_id is None or _owner(t) in admin.las]
    return await render_signed_in(request, "template_list.html", {
        "templates": shown, "owner": lambda t: owner_words(t, admin.las), "phases": PHASES,
        "earlier": {t.id: len(versions_of(templates, t)) - 1 for t in shown}})


def _banner(request: web.Request, template: TemplateOut, las: dict[str, str]) -> dict[str, str] | None:
    done = request.query.get("done", "")
    if done == "copied":
        return {"heading": f"Copied to {owner_words(template, las)}",
                "body": f"This is its version {template.version}. PEPs started from now use it; change its "
                        "questions below."}
    if done == "saved":
        return {"heading": f"Version {template.version} saved",
                "body": f"PEPs started from now use version {template.version}. PEPs already started keep the "
                        "version they started with."}
    return None


@routes.get("/templates/{template_id}")
async def template_page(request: web.Request) -> web.Response:
    admin = await _admin(request)
    template = await _template(request, admin)
    templates = await gateway(request).call(peps_api.LIST_TEMPLATES, admin.who)
    versions = versions_of(templates, template)
    latest = versions[0] if versions else template
    # A default is copied; an LA's latest version is changed; older versions are only read.
    editable = template.la_id is not None and latest.id == template.id
    own_copies = {_owner(t): t for t in latest_versions(templates) if _owner(t) in admin.las and t.key == template.key}
    sections = [{"key": s.get("key"), "title": s.get("title"), "description": s.get("description"),
                 "owner": pep_forms.owner_name(str(s.get("owner", ""))), "questions": question_rows(s)}
                for s in template.body.get("sections", [])]
    return await render_signed_in(request, "template.html", {
        "template": template, "owner": owner_words(template, admin.las), "phases": PHASES, "sections": sections,
        "versions": versions if template.la_id else [], "latest": latest, "editable": editable,
        "copy_to": [{"id": la_id, "name": name, "existing": own_copies.get(la_id)}
                    for la_id, name in sorted(admin.las.items(), key=lambda item: item[1].casefold())]
        if template.la_id is None else [],
        "done": _banner(request, template, admin.las)})


@routes.post("/templates/{template_id}/copy")
async def copy_template(request: web.Request) -> web.Response:
    admin = await _admin(request)
    template = await _template(request, admin)
    la_id = optional_uuid(str((await request.post()).get("la_id", "")))
    if template.la_id is not None or la_id not in admin.las:
        raise web.HTTPNotFound()
    copied = await gateway(request).call(peps_api.COPY_TEMPLATE, admin.who, TemplateCopy(from_template_id=template.id),
                                         la_id=la_id)
    log.info("template copied", extra={"template_key": template.key, "version": copied.version})
    return redirect(f"/templates/{copied.id}?done=copied")


async def _editable_section(request: web.Request) -> tuple[Admin, TemplateOut, dict[str, Any]]:
    admin = await _admin(request)
    template = await _template(request, admin)
    section = section_of(template, request.match_info.get("key", ""))
    if template.la_id is None or section is None:
        raise web.HTTPNotFound()  # a national default is copied, never changed
    return admin, template, section


async def _section_page(request: web.Request, admin: Admin, template: TemplateOut, section: dict[str, Any],
                        rows: list[QuestionRow], form: SectionForm, problem: str | None = None) -> web.Response:
    return await render_signed_in(request, "template_section.html", {
        "template": template, "owner": owner_words(template, admin.las), "section": section,
        "section_owner": pep_forms.owner_name(str(section.get("owner", ""))), "rows": rows, "form": form,
        "errors": form.errors, "problem": problem})


@routes.get("/templates/{template_id}/sections/{key}")
async def section_form(request: web.Request) -> web.Response:
    admin, template, section = await _editable_section(request)
    rows = question_rows(section)
    return await _section_page(request, admin, template, section, rows, form_from_section(rows))


@routes.post("/templates/{template_id}/sections/{key}")
async def save_section(request: web.Request) -> web.Response:
    admin, template, section = await _editable_section(request)
    rows = question_rows(section)
    form = check_section_form(rows, await request.post())
    if form.errors:
        return await _section_page(request, admin, template, section, rows, form)
    edits = changes(rows, form)
    if not edits:
        return redirect(f"/templates/{template.id}")
    client = gateway(request)
    # The changes go onto the LA's latest version: if another admin saved one since this page was opened,
    # what they changed is kept, and only what this person changed is put on top.
    versions = versions_of(await client.call(peps_api.LIST_TEMPLATES, admin.who), template)
    latest = template if not versions or versions[0].id == template.id else await client.call(
        peps_api.GET_TEMPLATE, admin.who, template_id=versions[0].id)
    body = apply_changes(latest.body, str(section.get("key")), edits)
    try:
        saved = await client.call(peps_api.EDIT_TEMPLATE, admin.who, TemplateEdit(body=body), template_id=latest.id)
    except GatewayProblem as p:
        if p.status != 422:
            raise
        log.info("template change refused", extra={"status": p.status, "code": p.code})
        form.errors, problem = refusal_errors(p, body, str(section.get("key")), rows)
        return await _section_page(request, admin, template, section, rows, form, problem)
    log.info("template saved", extra={"template_key": saved.key, "version": saved.version})
    return redirect(f"/templates/{saved.id}?done=saved")
