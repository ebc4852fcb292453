"""A PEP: its task list, each section's form (saved with or without JavaScript, merged when two people saved at
once), check your answers, what stops sign-off, the lifecycle's actions, and each section's history.

pep decides everything: who may see and change which section, what an answer may be, what is missing. The
portal turns forms into answers and back (pep_forms), and never overwrites someone else's save: a save carries
the version it started from, and when someone saved since, only the questions both changed are put to the
person, side by side; their other changes and ours are kept.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aiohttp import web

from services.portal import accounts, clock_words, contribution_words, pep_forms, pep_words, task_pages
from services.portal.children_pages import ensure_signed_in, setting_names
from services.portal.gateway_client import Caller, GatewayProblem, GatewayUnavailable, NotSignedIn
from services.portal.pagekit import gateway, redirect, render_signed_in, require_uuid
from shared.api import peps as peps_api
from shared.api.auth import GET_SESSION
from shared.api.children import GET_CHILD, ChildProfile
from shared.api.operations import Operation
from shared.api.peps import CompareQuery, PepAction, PepOverview, PepSummary, SectionOut, SectionSave, SignOff
from shared.api.templates import Section, TemplateField, visible

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SECTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SAVED_NOTICES = {
    "saved": "Your answers have been saved",
    "merged": "Your answers have been saved with theirs",
    "kept": "Their answers have been kept",
    "delegated": "Sections delegated to the school",
}


# The lifecycle's actions, each an operation of its own.
PEP_ACTIONS: dict[str, Operation] = {"submit": peps_api.SUBMIT_PEP, "finalise": peps_api.FINALISE_PEP,
                                     "cancel": peps_api.CANCEL_PEP}


def _key(request: web.Request) -> str:
    key = request.match_info.get("key", "")
    if not SECTION_KEY.match(key):
        raise web.HTTPNotFound()
    return key


def _base(pep_id: str, key: str | None = None) -> str:
    return f"/peps/{pep_id}" + (f"/sections/{key}" if key else "")


async def _pep_and_child(request: web.Request, who: Caller, pep_id: str) -> tuple[PepOverview, ChildProfile]:
    pep = await gateway(request).call(peps_api.GET_PEP, who, pep_id=pep_id)
    child = await gateway(request).call(GET_CHILD, who, child_id=pep.child_id)
    return pep, child


async def _section_page_data(request: web.Request, who: Caller, pep_id: str, key: str) -> tuple[
        PepOverview, ChildProfile, SectionOut, Section]:
    pep, section = await asyncio.gather(gateway(request).call(peps_api.GET_PEP, who, pep_id=pep_id),
                                        gateway(request).call(peps_api.GET_SECTION, who, pep_id=pep_id, key=key))
    child = await gateway(request).call(GET_CHILD, who, child_id=pep.child_id)
    return pep, child, section, section.definition


def _common(pep: PepOverview, child: ChildProfile, **more: Any) -> dict[str, Any]:
    return {"current_page": "children", "pep": pep, "child": child,
            "pep_name": pep_words.pep_title(pep.kind, pep.term, pep.academic_year), **more}


# ---- the task list ---------------------------------------------------------------------------------------------


def previous_pep(peps: list[PepSummary], current: PepSummary) -> PepSummary | None:
    """The child's PEP before this one (not a cancelled one): what "last term" means."""
    earlier = [p for p in peps if p.id != current.id and p.status != "cancelled" and p.created_at < current.created_at]
    return max(earlier, key=lambda p: p.created_at, default=None)


def task_items(pep: PepOverview) -> list[dict[str, Any]]:
    items = []
    for s in pep.sections:
        href = _base(str(pep.id), s.key)
        progress = f"{s.answered} of {s.questions} questions answered" if s.questions else ""
        items.append({"key": s.key, "title": s.title, "href": href if s.can_edit else None, "view_href": href,
                      "owner": pep_forms.owner_name(s.owner), "progress": progress, "can_edit": s.can_edit,
                      "delegated": s.delegated,
                      "status": pep_words.section_status(s.status, s.to_check)})
    return items


@routes.get("/peps/{pep_id}")
async def overview(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep, child = await _pep_and_child(request, who, require_uuid(request, "pep_id"))
    peps = await gateway(request).call(peps_api.LIST_CHILD_PEPS, who, child_id=pep.child_id)
    done = request.query.get("done", "")
    banner = None
    if done in pep_words.ACTION_DONE:
        banner = {"heading": pep_words.ACTION_DONE[done], "body": ""}
    elif done == "complete":
        banner = {"heading": "Section marked as complete", "body": ""}
    elif done in SAVED_NOTICES:
        banner = {"heading": SAVED_NOTICES[done], "body": ""}
    elif done in contribution_words.DONE:
        banner = {"heading": contribution_words.DONE[done], "body": ""}
    delegation = await task_pages.pep_delegation(request, who, pep, child)
    state = await gateway(request).call(peps_api.GET_SIGN_OFF, who, pep_id=str(pep.id))
    names = await setting_names(request, who) if any(p.submitted_at for p in state.parts) else {}
    late = clock_words.late_meeting(await clock_words.child_clocks(request, who, str(pep.child_id)), pep)
    return await render_signed_in(request, "pep_overview.html", _common(
        pep, child, items=task_items(pep), previous=previous_pep(peps, pep), done=banner, delegation=delegation,
        late_meeting=late,
        status_tag=pep_words.pep_status(pep.status), submitted=contribution_words.banner_lines(state, names),
        actions=[a for a in pep.actions if a in pep_words.ACTIONS],
        action_names={**pep_words.ACTIONS, "submit": contribution_words.SUBMIT_WORDS[state.my_part][1]}))


# ---- saving a section ------------------------------------------------------------------------------------------


@dataclass
class Theirs:
    """What someone else saved since the version a person started from."""

    answers: dict[str, Any]
    version: int
    by: str
    at: datetime | None


@dataclass
class Outcome:
    kind: Literal["saved", "unchanged", "merged", "invalid", "conflict", "read_only"]
    section: SectionOut | None = None
    errors: dict[str, str] = field(default_factory=dict)  # by question path
    problem: str | None = None
    theirs: Theirs | None = None
    my_changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    auto: list[str] = field(default_factory=list)


async def answers_at(request: web.Request, who: Caller, pep_id: str, key: str, version: int) -> dict[str, Any]:
    """The section's answers as they stood at a saved version ({} when that version cannot be had, so that
    every answer there now counts as someone else's, and nothing of theirs is overwritten unseen)."""
    try:
        rows = await _compare(request, who, pep_id, key, version, version)
    except GatewayProblem as p:
        if p.status in (404, 422):
            return {}
        raise
    return {d.field: d.before for d in rows}


async def _compare(request: web.Request, who: Caller, pep_id: str, key: str, before: int,
                   after: int) -> list[peps_api.Difference]:
    query = CompareQuery.model_validate({"from": before, "to": after})
    found: list[peps_api.Difference] = await gateway(request).call(peps_api.COMPARE_SECTION, who, query=query,
                                                                   pep_id=pep_id, key=key)
    return found


def _theirs_from(problem: GatewayProblem) -> Theirs:
    current = problem.extra.get("current") or {}
    at = current.get("updated_at")
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        when = None
    return Theirs(answers=dict(current.get("answers") or {}), version=int(current.get("version") or 0),
                  by=str(current.get("updated_by_name") or "Someone"), at=when)


def _theirs_now(section: SectionOut) -> Theirs:
    return Theirs(answers=section.answers, version=section.version, by=section.updated_by_name or "Someone",
                  at=section.updated_at)


async def own_saves_since(request: web.Request, who: Caller, pep_id: str, key: str, version: int,
                          latest: int) -> int:
    """How far the person's own saves carried the section on from `version`: the last of the saves just after it
    that were all theirs (an autosave the page had not heard back from, another tab of theirs). Those are not
    someone else's answers to merge with: the page's answers already hold them, or newer ones."""
    if version >= latest:
        return version
    try:
        saves = await gateway(request).call(peps_api.SECTION_HISTORY, who, pep_id=pep_id, key=key)
    except GatewayProblem:
        return version  # no history to read: every save since counts as someone else's, as before
    mine = {s.version for s in saves if s.saved_by_me}
    while version < latest and version + 1 in mine:
        version += 1
    return version


async def commit(request: web.Request, who: Caller, pep_id: str, definition: Section, current: SectionOut,
                 my_changes: dict[str, Any], base_version: int, base: dict[str, Any], *, merge: bool,
                 rows: dict[str, list[int]] | None = None) -> Outcome:
    """Save my changes, made from `base_version` (whose answers were `base`).

    Nobody else saved since: saved as they are ("saved"). My own saves since (my autosave, still on its way when I
    pressed Save) are mine, not theirs: my changes are saved on top of them, as from their version. Someone else
    saved since (seen now, or as a 409 from the gateway): questions only I changed are saved on top of theirs when
    `merge` allows it ("merged": saved with theirs); questions we both changed are a conflict."""
    client = gateway(request)
    key = definition.key
    latest = _theirs_now(current)
    for _attempt in range(3):
        if base_version != latest.version:
            mine_to = await own_saves_since(request, who, pep_id, key, base_version, latest.version)
            if mine_to != base_version:
                new_base = latest.answers if mine_to == latest.version else await answers_at(
                    request, who, pep_id, key, mine_to)
                my_changes = pep_forms.changes(definition.fields, {**base, **my_changes}, new_base)
                base_version, base = mine_to, new_base
        if base_version != latest.version:
            break  # someone else saved since: merge below
        if not my_changes:
            if latest.version == current.version:
                return Outcome("unchanged", section=current)
            fresh = await client.call(peps_api.GET_SECTION, who, pep_id=pep_id, key=key)
            return Outcome("unchanged", section=fresh)
        try:
            saved = await client.call(peps_api.SAVE_SECTION, who, SectionSave(answers=my_changes, version=base_version),
                                      pep_id=pep_id, key=key)
        except GatewayProblem as p:
            if p.status == 409 and p.code == "conflict":
                latest = _theirs_from(p)
                continue
            return _refused(definition, p, rows)
        return Outcome("saved", section=saved)
    theirs = latest
    plan = pep_forms.three_way(my_changes, base, theirs.answers)
    if plan.conflicts or not merge:
        return Outcome("conflict", theirs=theirs, my_changes=dict(my_changes), conflicts=plan.conflicts,
                       auto=list(plan.auto))
    if not plan.auto:
        return Outcome("merged", theirs=theirs)
    try:
        saved = await client.call(peps_api.SAVE_SECTION, who, SectionSave(answers=plan.auto, version=theirs.version),
                                  pep_id=pep_id, key=key)
    except GatewayProblem as p:
        if p.status == 409 and p.code == "conflict":
            again = _theirs_from(p)
            second = pep_forms.three_way(my_changes, base, again.answers)
            return Outcome("conflict", theirs=again, my_changes=dict(my_changes), conflicts=second.conflicts,
                           auto=list(second.auto))
        return _refused(definition, p, rows)
    return Outcome("merged", section=saved, theirs=theirs)


def _refused(definition: Section, problem: GatewayProblem, rows: dict[str, list[int]] | None) -> Outcome:
    if problem.status == 422:
        errors, other = pep_forms.gateway_errors(definition.fields, problem.errors, rows)
        return Outcome("invalid", errors=errors, problem=None if errors and not other else
                       " ".join([problem.message, *other]))
    if problem.status == 403:
        return Outcome("read_only", problem=problem.message)
    raise problem


def given_lines(section: SectionOut) -> list[str]:
    """Who gave a views section's answers by invitation, with which questions and when, in words."""
    return [pep_words.given_by(g.name, g.audience, g.question_set, accounts.date_only(g.last_saved_at))
            for g in section.given]


def _form_page_context(pep: PepOverview, child: ChildProfile, section: SectionOut, definition: Section,
                       raw: dict[str, Any], errors: dict[str, str], version: int, *, extra_row: str | None = None,
                       problem: str | None = None, notice: str | None = None) -> dict[str, Any]:
    ordered = pep_forms.in_page_order(definition.fields, errors)
    found = pep_forms.widgets(definition.fields, raw, ordered, section.to_check, extra_row=extra_row)
    return _common(
        pep, child, section=section, definition=definition, version=version, problem=problem, notice=notice,
        owner=pep_forms.owner_name(definition.owner), given=given_lines(section),
        widgets=pep_forms.always_shown(found, pep_forms.shown_anyway(section.given, section.answers)),
        errors={pep_forms.element_id(p): m for p, m in ordered.items()}, error_list=pep_forms.summary_items(ordered),
        base=_base(str(pep.id), definition.key), to_check=len(section.to_check))


def _read_only_context(pep: PepOverview, child: ChildProfile, section: SectionOut, definition: Section,
                       problem: str | None = None) -> dict[str, Any]:
    return _common(pep, child, section=section, definition=definition, editable=False, problem=problem,
                   rows=pep_forms.read_only_rows(definition, section.answers,
                                                 also=pep_forms.shown_anyway(section.given, section.answers)),
                   given=given_lines(section),
                   owner=pep_forms.owner_name(definition.owner), base=_base(str(pep.id), definition.key),
                   heading=definition.title)


@routes.get("/peps/{pep_id}/sections/{key}")
async def section_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    pep, child, section, definition = await _section_page_data(request, who, pep_id, key)
    if not section.can_edit:
        return await render_signed_in(request, "pep_check.html", _read_only_context(pep, child, section, definition))
    raw = pep_forms.answers_to_raw(definition.fields, section.answers)
    add = request.query.get("add", "")
    notice = SAVED_NOTICES.get(request.query.get("saved", ""))
    context = _form_page_context(pep, child, section, definition, raw, {}, section.version, extra_row=add or None,
                                 notice=notice)
    if key == MEETING_KEY:
        context["views_panels"] = await views_beside_minutes(request, who, pep)
        context["late_meeting"] = clock_words.late_meeting(
            await clock_words.child_clocks(request, who, str(pep.child_id)), pep)
    return await render_signed_in(request, "pep_section.html", context)


MEETING_KEY, VIEWS_KEYS = "meeting", ("views", "carer_views")


async def views_beside_minutes(request: web.Request, who: Caller, pep: PepOverview) -> list[dict[str, Any]]:
    """The child's and the carer's views, answered, shown beside the meeting's minutes: the meeting should act on
    them, and the targets answer them ("you said…, so we will…")."""
    panels = []
    for s in pep.sections:
        if s.key not in VIEWS_KEYS:
            continue
        try:
            found = await gateway(request).call(peps_api.GET_SECTION, who, pep_id=pep.id, key=s.key)
        except GatewayProblem:
            continue
        definition = found.definition
        rows = [r for r in pep_forms.read_only_rows(definition, found.answers,
                                                    also=pep_forms.shown_anyway(found.given, found.answers))
                if r["lines"]]
        panels.append({"title": definition.title, "rows": rows, "href": _base(str(pep.id), s.key),
                       "given": given_lines(found)})
    return panels


def _version(data: Any) -> int:
    try:
        return max(0, int(str(data.get("version", ""))))
    except ValueError:
        raise web.HTTPBadRequest() from None


@routes.post("/peps/{pep_id}/sections/{key}")
async def save_section(request: web.Request) -> web.Response:
    """Save (and stay), Save and continue (to the task list), Add another row, Remove a row: all save first."""
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    data = await request.post()
    action = str(data.get("action", "save"))
    posted_version = _version(data)
    pep, child, current, definition = await _section_page_data(request, who, pep_id, key)
    if not current.can_edit:
        return await render_signed_in(request, "pep_check.html", _read_only_context(
            pep, child, current, definition, problem="You cannot change this section now."), status=403)
    raw = pep_forms.raw_from_post(definition.fields, data)
    extra_row = None
    if action.startswith("remove:"):
        _, group, number = (action.split(":") + ["", ""])[:3]
        raw = pep_forms.remove_row(raw, group, int(number) if number.isdigit() else 0)
    elif action.startswith("add:"):
        extra_row = action.removeprefix("add:")
    parsed = pep_forms.raw_to_answers(definition.fields, raw)
    if parsed.errors:
        return await render_signed_in(request, "pep_section.html", _form_page_context(
            pep, child, current, definition, raw, parsed.errors, posted_version, extra_row=extra_row))
    base = current.answers if posted_version == current.version else await answers_at(
        request, who, pep_id, key, posted_version)
    my_changes = pep_forms.changes(definition.fields, parsed.answers, base)
    outcome = await commit(request, who, pep_id, definition, current, my_changes, posted_version, base, merge=True,
                           rows=parsed.rows)
    if outcome.kind == "invalid":
        return await render_signed_in(request, "pep_section.html", _form_page_context(
            pep, child, current, definition, raw, outcome.errors, posted_version, extra_row=extra_row,
            problem=outcome.problem))
    if outcome.kind == "read_only":
        return await render_signed_in(request, "pep_check.html", _read_only_context(
            pep, child, current, definition, problem=outcome.problem), status=403)
    if outcome.kind == "conflict":
        return await _conflict_page(request, pep, child, current, definition, outcome, base_version=posted_version)
    saved = "merged" if outcome.kind == "merged" else "saved"
    return _after_save(pep_id, definition, action, saved, outcome.section)


def _after_save(pep_id: str, definition: Section, action: str, saved: str,
                section: SectionOut | None) -> web.Response:
    base = _base(pep_id, definition.key)
    if action == "continue":
        return redirect(f"{_base(pep_id)}?done={saved}")
    if action.startswith("add:"):
        group = action.removeprefix("add:")
        question = definition.field(group)
        if question is not None and question.type == "group":
            rows = (section.answers.get(group) if section else None) or []
            first = question.fields[0].key if question.fields else ""
            anchor = pep_forms.element_id(f"{group}.{len(rows) + 1}.{first}")
            return redirect(f"{base}?add={group}#{anchor}")
    if action.startswith("remove:"):
        group = action.split(":")[1] if ":" in action else ""
        return redirect(f"{base}?saved={saved}#{pep_forms.element_id(group)}")
    return redirect(f"{base}?saved={saved}")


# ---- autosave (JavaScript) --------------------------------------------------------------------------------------


def _json(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


@routes.post("/peps/{pep_id}/sections/{key}/autosave")
async def autosave(request: web.Request) -> web.Response:
    """The page's script sends the whole form a moment after typing stops; only what changed is saved.

    Never merges: if anyone else saved since the page's version, the answer is a conflict and the person chooses
    on the conflict page (the form keeps everything they typed); their own saves since are not a conflict.
    Answers the gateway refuses are left out, so the rest are saved, and named in the answer."""
    try:
        who = ensure_signed_in(request)
    except NotSignedIn:
        return _json(401, status="signed_out", message="You have been signed out. Your latest answers are not saved.")
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    data = await request.post()
    try:
        posted_version = _version(data)
        current = await gateway(request).call(peps_api.GET_SECTION, who, pep_id=pep_id, key=key)
    except web.HTTPBadRequest:
        return _json(400, status="error", message="Your answers could not be saved. Use the Save button.")
    except GatewayProblem as p:
        return _json(404 if p.status == 404 else 400, status="error", message=p.message)
    except GatewayUnavailable:
        return _json(503, status="error", message="Your answers could not be saved just now. Try again shortly.")
    definition = current.definition
    if not current.can_edit:
        return _json(403, status="read_only", message="You cannot change this section now.")
    parsed = pep_forms.raw_to_answers(definition.fields, pep_forms.raw_from_post(definition.fields, data))
    errors = dict(parsed.errors)
    mine = {k: v for k, v in parsed.answers.items() if not any(p.split(".")[0] == k for p in errors)}
    if posted_version != current.version:
        # Saves since the page's version that were all the person's own are not a conflict: the page holds them.
        posted_version = await own_saves_since(request, who, pep_id, key, posted_version, current.version)
        if posted_version != current.version:
            return _conflict_json(_theirs_now(current))
    my_changes = pep_forms.changes(definition.fields, mine, current.answers)
    outcome = await commit(request, who, pep_id, definition, current, my_changes, posted_version, current.answers,
                           merge=False, rows=parsed.rows)
    if outcome.kind == "invalid" and outcome.errors:
        # Save the rest: leave out the questions the gateway refused, and say which they were.
        errors.update(outcome.errors)
        refused = {p.split(".")[0] for p in outcome.errors}
        rest = {k: v for k, v in my_changes.items() if k not in refused}
        outcome = await commit(request, who, pep_id, definition, current, rest, posted_version, current.answers,
                               merge=False, rows=parsed.rows)
    if outcome.kind == "conflict" and outcome.theirs is not None:
        return _conflict_json(outcome.theirs)
    if outcome.kind in ("invalid", "read_only"):
        return _json(422 if outcome.kind == "invalid" else 403, status=outcome.kind,
                     message=outcome.problem or "Your answers could not be saved. Use the Save button.",
                     errors=_json_errors(definition, {**errors, **outcome.errors}))
    section = outcome.section or current
    body: dict[str, Any] = {"status": "saved" if outcome.kind == "saved" else "unchanged",
                            "version": section.version, "saved_at": pep_forms.saved_time(section.updated_at,
                                                                                         accounts.UK),
                            "errors": _json_errors(definition, errors)}
    body["message"] = (f"Saved at {body['saved_at']}" if outcome.kind == "saved" else "No changes to save")
    if errors:
        body["message"] += f". {len(errors)} {'answer needs' if len(errors) == 1 else 'answers need'} changing " \
                           "before they can be saved."
    try:
        times = await gateway(request).call(GET_SESSION, who)
        body["idle_expires_at"] = times.idle_expires_at.isoformat()
    except (GatewayProblem, GatewayUnavailable, NotSignedIn):
        pass
    return _json(200, **body)


def _json_errors(definition: Section, errors: dict[str, str]) -> list[dict[str, str]]:
    ordered = pep_forms.in_page_order(definition.fields, errors)
    return [{"id": pep_forms.element_id(p), "message": m} for p, m in ordered.items()]


def _conflict_json(theirs: Theirs) -> web.Response:
    when = accounts.date_time(theirs.at) if theirs.at else ""
    return _json(409, status="conflict", by=theirs.by, at=when, version=theirs.version,
                 message=f"Not saved: {theirs.by} saved this section{' on ' + when if when else ''}, after you "
                         "opened it.")


# ---- conflicts --------------------------------------------------------------------------------------------------


def conflict_rows(definition: Section, outcome: Outcome) -> list[dict[str, Any]]:
    assert outcome.theirs is not None
    rows = []
    for key in outcome.conflicts:
        q = definition.field(key) or TemplateField.model_construct(key=key, label=key, type="text")
        rows.append({"key": key, "label": q.label, "id": f"choice-{key}",
                     "theirs": pep_forms.in_words(q, outcome.theirs.answers.get(key)),
                     "mine": pep_forms.in_words(q, outcome.my_changes.get(key))})
    return rows


async def _conflict_page(request: web.Request, pep: PepOverview, child: ChildProfile, current: SectionOut,
                         definition: Section, outcome: Outcome, *, base_version: int,
                         errors: dict[str, str] | None = None, chosen: dict[str, str] | None = None) -> web.Response:
    assert outcome.theirs is not None
    labels = {q.key: q.label for q in definition.fields}
    return await render_signed_in(request, "pep_conflict.html", _common(
        pep, child, section=current, definition=definition, theirs=outcome.theirs,
        at=accounts.date_time(outcome.theirs.at) if outcome.theirs.at else "",
        rows=conflict_rows(definition, outcome), chosen=chosen or {},
        others=[labels.get(k, k) for k in outcome.auto],
        mine=pep_forms.encode_changes(outcome.my_changes), conflicts=outcome.conflicts, base_version=base_version,
        base=_base(str(pep.id), definition.key), errors=errors or {}), status=409)


@routes.post("/peps/{pep_id}/sections/{key}/merge")
async def merge(request: web.Request) -> web.Response:
    """The conflict page's choices: for each question both changed, their answer or mine (or all of one).

    The form carries my changes, the version they were made from (`base_version`) and the version of theirs
    I chose against (`version`); if someone saved yet again meanwhile, the choice is put again."""
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    data = await request.post()
    version = _version(data)
    try:
        base_version = max(0, int(str(data.get("base_version", version))))
    except ValueError:
        base_version = version
    pep, child, current, definition = await _section_page_data(request, who, pep_id, key)
    if not current.can_edit:
        return await render_signed_in(request, "pep_check.html", _read_only_context(
            pep, child, current, definition, problem="You cannot change this section now."), status=403)
    my_changes = pep_forms.decode_changes(str(data.get("mine", "")), definition.fields)
    conflicts = [k for k in data.getall("conflict", []) if isinstance(k, str) and k in my_changes]
    every = str(data.get("all", ""))
    if every in ("mine", "theirs"):
        choices = {k: every for k in conflicts}
    else:
        choices = {k: str(data.get(f"choice.{k}", "")) for k in conflicts}
    unanswered = [k for k, v in choices.items() if v not in ("mine", "theirs")]
    if unanswered:
        base = current.answers if base_version == current.version else await answers_at(
            request, who, pep_id, key, base_version)
        plan = pep_forms.three_way(my_changes, base, current.answers)
        outcome = Outcome("conflict", theirs=_theirs_now(current), my_changes=my_changes, conflicts=plan.conflicts,
                          auto=list(plan.auto))
        errors = {f"choice-{k}": "Select whose answer to keep for ‘" + _label(definition, k) + "’"
                  for k in unanswered if k in plan.conflicts}
        return await _conflict_page(request, pep, child, current, definition, outcome, base_version=base_version,
                                    errors=errors, chosen=choices)
    intent = pep_forms.resolve(my_changes, conflicts, [k for k, v in choices.items() if v == "mine"])
    base = current.answers if version == current.version else await answers_at(request, who, pep_id, key, version)
    intent = pep_forms.changes(definition.fields, intent, base)
    outcome = await commit(request, who, pep_id, definition, current, intent, version, base, merge=True)
    if outcome.kind == "conflict":
        return await _conflict_page(request, pep, child, current, definition, outcome, base_version=version)
    if outcome.kind in ("invalid", "read_only"):
        # Answers that were fine a moment ago are refused now (the template or the PEP changed): show the form.
        raw = pep_forms.answers_to_raw(definition.fields, {**current.answers, **intent})
        return await render_signed_in(request, "pep_section.html", _form_page_context(
            pep, child, current, definition, raw, outcome.errors, current.version, problem=outcome.problem))
    nothing_of_mine = outcome.kind == "unchanged" or (outcome.kind == "merged" and outcome.section is None)
    return redirect(f"{_base(pep_id, key)}?saved={'kept' if nothing_of_mine else 'saved'}")


def _label(definition: Section, key: str) -> str:
    q = definition.field(key)
    return q.label if q else key


# ---- check your answers, and marking a section complete ---------------------------------------------------------


def _check_context(pep: PepOverview, child: ChildProfile, section: SectionOut, definition: Section,
                   **more: Any) -> dict[str, Any]:
    base = _base(str(pep.id), definition.key)
    return _common(pep, child, section=section, definition=definition, editable=section.can_edit,
                   rows=pep_forms.read_only_rows(definition, section.answers, base if section.can_edit else None,
                                                 also=pep_forms.shown_anyway(section.given, section.answers)),
                   given=given_lines(section),
                   owner=pep_forms.owner_name(definition.owner), base=base,
                   heading="Check your answers", **more)


@routes.get("/peps/{pep_id}/sections/{key}/check")
async def check_answers(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep, child, section, definition = await _section_page_data(request, who, require_uuid(request, "pep_id"),
                                                               _key(request))
    return await render_signed_in(request, "pep_check.html", _check_context(pep, child, section, definition))


@routes.post("/peps/{pep_id}/sections/{key}/complete")
async def complete(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    try:
        await gateway(request).call(peps_api.COMPLETE_SECTION, who, pep_id=pep_id, key=key)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("section not completed", extra={"status": p.status, "code": p.code})
        pep, child, section, definition = await _section_page_data(request, who, pep_id, key)
        errors, other = pep_forms.gateway_errors(definition.fields, p.errors)
        ordered = pep_forms.in_page_order(definition.fields, errors)
        return await render_signed_in(request, "pep_check.html", _check_context(
            pep, child, section, definition, errors={pep_forms.element_id(k): v for k, v in ordered.items()},
            error_list=pep_forms.summary_items(ordered, _base(pep_id, key)),
            problem=" ".join([p.message, *other]) if other or not ordered else
            "Answer these questions before marking the section as complete."))
    return redirect(f"{_base(pep_id)}?done=complete")


# ---- sign-off and the lifecycle's actions -----------------------------------------------------------------------


@routes.get("/peps/{pep_id}/sign-off")
async def sign_off(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id = require_uuid(request, "pep_id")
    (pep, child), state = await asyncio.gather(_pep_and_child(request, who, pep_id),
                                               gateway(request).call(peps_api.GET_SIGN_OFF, who, pep_id=pep_id))
    return await _sign_off_page(request, who, pep, child, state)


async def _sign_off_page(request: web.Request, who: Caller, pep: PepOverview, child: ChildProfile,
                         state: SignOff, problem: str | None = None) -> web.Response:
    """What the person signing submits, only the gaps they can fix (pep says which: their part's), each linked
    to its question, and which parts of the PEP are in."""
    groups: dict[str, dict[str, Any]] = {}
    for g in state.missing:
        group = groups.setdefault(g.section, {"title": g.section_title, "href": _base(str(pep.id), g.section),
                                              "items": []})
        group["items"].append({"text": g.message,
                               "href": f"{_base(str(pep.id), g.section)}#{pep_forms.element_id(g.field)}"})
    names = await setting_names(request, who)
    heading, button = contribution_words.SUBMIT_WORDS[state.my_part]
    return await render_signed_in(request, "pep_sign_off.html", _common(
        pep, child, groups=list(groups.values()), count=len(state.missing), can_submit=state.can_submit,
        problem=problem, status_tag=pep_words.pep_status(pep.status), heading=heading, button=button,
        my_part=state.my_part, part_rows=contribution_words.part_rows(state, names), with_school=state.with_school,
        rule=contribution_words.RULES[state.goes_to_qa], waiting=contribution_words.waiting_for(state),
        submitted=contribution_words.banner_lines(state, names)))


async def _allowed(request: web.Request, who: Caller, pep_id: str, action: str) -> tuple[PepOverview, ChildProfile]:
    if action not in pep_words.ACTIONS:
        raise web.HTTPNotFound()
    pep, child = await _pep_and_child(request, who, pep_id)
    return pep, child


async def _action_page(request: web.Request, pep: PepOverview, child: ChildProfile, action: str,
                       reason: str = "", errors: dict[str, str] | None = None, problem: str | None = None,
                       status: int = 200) -> web.Response:
    return await render_signed_in(request, "pep_action.html", _common(
        pep, child, action=action, action_name=pep_words.ACTIONS[action], reason=reason, errors=errors or {},
        problem=problem, needs_reason=action in pep_words.ACTIONS_WITH_REASON,
        allowed=action in pep.actions), status=status)


@routes.get("/peps/{pep_id}/actions/{action}")
async def action_form(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, action = require_uuid(request, "pep_id"), request.match_info["action"]
    if action in pep_words.DECIDED_IN_REVIEW:  # an old link or bookmark: approving is the review's decision
        return redirect(f"{_base(pep_id)}/review")
    pep, child = await _allowed(request, who, pep_id, action)
    if action == "submit":
        return redirect(f"{_base(pep_id)}/sign-off")
    return await _action_page(request, pep, child, action)


@routes.post("/peps/{pep_id}/actions/{action}")
async def take_action(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, action = require_uuid(request, "pep_id"), request.match_info["action"]
    if action in pep_words.DECIDED_IN_REVIEW:
        return redirect(f"{_base(pep_id)}/review")
    if action not in pep_words.ACTIONS:
        raise web.HTTPNotFound()
    data = await request.post()
    reason = str(data.get("reason", "")).strip()
    if action in pep_words.ACTIONS_WITH_REASON and not reason:
        pep, child = await _allowed(request, who, pep_id, action)
        return await _action_page(request, pep, child, action, reason,
                                  errors={"reason": "Enter the reason for cancelling the PEP"})
    if len(reason) > 2000:
        pep, child = await _allowed(request, who, pep_id, action)
        return await _action_page(request, pep, child, action, reason,
                                  errors={"reason": "The reason must be 2000 characters or fewer"})
    try:
        body = PepAction(reason=reason) if reason else PepAction()
        done = await gateway(request).call(PEP_ACTIONS[action], who, body, pep_id=pep_id)
    except GatewayProblem as p:
        if p.status == 404:
            raise
        log.info("PEP action refused", extra={"action": action, "status": p.status, "code": p.code})
        pep, child = await _allowed(request, who, pep_id, action)
        if action == "submit":
            state = await gateway(request).call(peps_api.GET_SIGN_OFF, who, pep_id=pep_id)
            return await _sign_off_page(request, who, pep, child, state, problem=p.message)
        errors = {k: m for k, m in p.field_errors().items() if k == "reason"}
        return await _action_page(request, pep, child, action, reason, errors=errors,
                                  problem=None if errors else p.message)
    if action == "cancel":
        return redirect(f"/children/{done.child_id}?done=cancel")
    if action == "submit" and done.status != "submitted":  # my part is in; the PEP waits for another
        return redirect(f"{_base(pep_id)}?done=contributed")
    return redirect(f"{_base(pep_id)}?done={action}")


# ---- history and comparing ----------------------------------------------------------------------------------------


@routes.get("/peps/{pep_id}/sections/{key}/history")
async def history(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    (pep, child, section, definition), versions = await asyncio.gather(
        _section_page_data(request, who, pep_id, key),
        gateway(request).call(peps_api.SECTION_HISTORY, who, pep_id=pep_id, key=key))
    labels = {q.key: q.label for q in definition.fields}
    rows = []
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    for i, v in enumerate(ordered):
        before = ordered[i + 1].version if i + 1 < len(ordered) else None
        rows.append({"version": v.version, "at": accounts.date_time(v.saved_at), "by": v.saved_by_name or "",
                     "changed": [labels[k] for k in labels if k in v.changed]
                     + [k for k in v.changed if k not in labels],
                     "compare": f"{_base(pep_id, key)}/compare?from={before}&to={v.version}"
                     if before is not None else None})
    choices = [{"value": str(v.version), "text": _version_words(v.version, accounts.date_time(v.saved_at))}
               for v in ordered]
    return await render_signed_in(request, "pep_history.html", _common(
        pep, child, section=section, definition=definition, rows=rows, base=_base(pep_id, key),
        from_items=[{**c, "selected": i == 1} for i, c in enumerate(choices)],
        to_items=[{**c, "selected": i == 0} for i, c in enumerate(choices)]))


def _version_words(version: int, when: str) -> str:
    return f"As the PEP started ({when})" if version == 0 else f"Version {version} ({when})"


def compare_rows(definition: Section, before: dict[str, Any], after: dict[str, Any],
                 previous: Section | None = None) -> list[dict[str, Any]]:
    """Question, before and after in words, and whether it changed: for two versions, or two PEPs."""
    rows = []
    for q in definition.fields:
        old_q = (previous.field(q.key) if previous else None) or q
        old, new = before.get(q.key), after.get(q.key)
        unanswered = pep_forms.normal(old) is None and pep_forms.normal(new) is None
        if unanswered and not visible(q, after, definition.fields):
            continue
        rows.append({"key": q.key, "label": q.label, "before": pep_forms.in_words(old_q, old),
                     "after": pep_forms.in_words(q, new), "changed": not pep_forms.same(old, new)})
    return rows


@routes.get("/peps/{pep_id}/sections/{key}/compare")
async def compare(request: web.Request) -> web.Response:
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    try:
        before, after = int(request.query.get("from", "")), int(request.query.get("to", ""))
    except ValueError:
        return redirect(f"{_base(pep_id, key)}/history")
    if before < 0 or after < 0:
        raise web.HTTPNotFound()
    (pep, child, section, definition), diff = await asyncio.gather(
        _section_page_data(request, who, pep_id, key), _compare(request, who, pep_id, key, before, after))
    old = {d.field: d.before for d in diff}
    new = {d.field: d.after for d in diff}
    only_changed = request.query.get("changed") == "1"
    rows = [r for r in compare_rows(definition, old, new) if r["changed"] or not only_changed]
    return await render_signed_in(request, "pep_compare.html", _common(
        pep, child, section=section, definition=definition, rows=rows, base=_base(pep_id, key),
        heading=f"Compare versions {before} and {after}" if before and after else
        f"Compare version {after or before} with the start", before_label=f"Version {before}" if before else
        "As started", after_label=f"Version {after}" if after else "As started", only_changed=only_changed,
        toggle=f"{_base(pep_id, key)}/compare?from={before}&to={after}" + ("" if only_changed else "&changed=1"),
        changed_count=sum(1 for r in compare_rows(definition, old, new) if r["changed"])))


@routes.get("/peps/{pep_id}/sections/{key}/last-term")
async def last_term(request: web.Request) -> web.Response:
    """This PEP's section beside the same section of the child's previous PEP (two reads; no API compares PEPs)."""
    who = ensure_signed_in(request)
    pep_id, key = require_uuid(request, "pep_id"), _key(request)
    pep, child, section, definition = await _section_page_data(request, who, pep_id, key)
    earlier = previous_pep(await gateway(request).call(peps_api.LIST_CHILD_PEPS, who, child_id=pep.child_id), pep)
    old_section = None
    if earlier is not None:
        try:
            old_section = await gateway(request).call(peps_api.GET_SECTION, who, pep_id=earlier.id, key=key)
        except GatewayProblem as p:
            if p.status != 404:
                raise
    previous_definition = old_section.definition if old_section else None
    rows = compare_rows(definition, old_section.answers, section.answers, previous_definition) if old_section else []
    return await render_signed_in(request, "pep_last_term.html", _common(
        pep, child, section=section, definition=definition, earlier=earlier, rows=rows,
        earlier_title=pep_words.pep_title(earlier.kind, earlier.term, earlier.academic_year) if earlier else "",
        has_section=old_section is not None, base=_base(pep_id, key),
        changed_count=sum(1 for r in rows if r["changed"])))
