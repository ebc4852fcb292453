"""PEP documents over HTTP: start one, read and save its sections, see what is missing, move it through its
lifecycle. The rules are in domain/peps.py and domain/lifecycle.py; the SQL in pep_store.py (reading, saving
sections) and lifecycle_store.py (starting, status changes and the events they announce)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from services.pep import contributions, lifecycle_store, reached, target_funding, views_store
from services.pep import pep_store as store
from services.pep.child_access import child_or_404, reach, ref_of
from services.pep.delegations import delegated_sections
from services.pep.domain import lifecycle
from services.pep.domain import views as views_rules
from services.pep.domain.access import Access, ChildRef, access_to
from services.pep.domain.peps import (
    MEETING,
    MEETING_KEYS,
    compare,
    held_by_delegate,
    may_edit,
    missing_for_sign_off,
    shown_state,
    with_school,
)
from services.pep.domain.templates import clean_answers, missing, progress
from shared.api import peps as api
from shared.api.operations import Operation
from shared.api.peps import (
    Difference,
    Gap,
    Missing,
    PartState,
    PepAction,
    PepOverview,
    PepStart,
    PepSummary,
    QaDecision,
    SavedVersion,
    SectionOut,
    SectionSave,
    SectionState,
    SignOff,
    TemplateRef,
)
from shared.api.templates import Section, Template
from shared.api.views import ViewsGiven
from shared.authz import not_found
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims
from shared.service import POOL
from shared.web import CLAIMS, REQUEST_ID, json_model, parse_body, path_uuid, serves

routes = web.RouteTableDef()


async def _pep_or_404(conn: asyncpg.Connection, claims: Claims, pep_id: uuid.UUID, *,
                      lock: bool = False) -> tuple[asyncpg.Record, Access, Template]:
    pep = await store.pep(conn, pep_id, lock=lock)
    if pep is None:
        raise not_found("PEP")
    child, access = await child_or_404(conn, claims, pep["child_id"])
    reached.note(child, access.via, pep["id"])
    return pep, access, await store.template_by_id(conn, pep["template_id"])


# How each PEP's child was last reached, in this process (pep_store._REACH's fingerprint, the child's facts, the PEP's
# template): ids only. A read decides on them before its statement, so that statement can write the access log's
# row as well; the statement writes it only if the child's facts are unchanged, and the read then decides again
# on what it found, the same rule on the same facts (else the row is written after the answer, as any request's).
_reaches: dict[uuid.UUID, tuple[str, ChildRef, uuid.UUID]] = {}


def _foreseen(request: web.Request, claims: Claims, pep_id: uuid.UUID, key: str | None) -> tuple[Any, ...]:
    """The access-log row a read will write if it answers, for pep_store.gathered: known only when this process
    knows the child's facts and template and, on them, the caller reaches the child (and sees the section)."""
    known = _reaches.get(pep_id)
    if known is None or claims.is_service or request.match_info.route.resource is None:
        return (None,) * 7
    facts, ref, template_id = known
    access, template = access_to(claims, ref), store.parsed(template_id)
    if access is None or template is None or (key is not None and _shown(template, access, key) is None):
        return (None,) * 7
    return (facts, access.via, uuid.UUID(claims.sub), request.method, request.match_info.route.resource.canonical,
            request.get(REQUEST_ID), claims.address)


async def _gathered(conn: asyncpg.Connection, claims: Claims, pep_id: uuid.UUID, key: str | None = None, *,
                    decisions: bool = False, read: web.Request | None = None
                    ) -> tuple[asyncpg.Record, asyncpg.Record, Access, Template]:
    """As _pep_or_404, and everything a read or save decides on with it, in one statement (pep_store.gathered);
    the views given by invitation only for a views section. A `read` writes its access-log row in it when it can."""
    log = _foreseen(read, claims, pep_id, key) if read is not None else (None,) * 7
    found = await store.gathered(conn, pep_id, key, decisions=decisions, given=key in views_rules.AUDIENCES,
                                 log=log)
    if found is None:
        raise not_found("PEP")
    child, access = reach(claims, found["child"])
    reached.note(child, access.via, found["pep"]["id"])
    template = store.template_of(found)
    if len(_reaches) >= 10_000:
        _reaches.clear()
    _reaches[pep_id] = (found["reach"], ref_of(child), uuid.UUID(found["pep"]["template_id"]))
    if found["logged"]:
        reached.logged()
    return found, found["pep"], access, template


def _parts(found: asyncpg.Record) -> dict[str, dict[str, Any]]:
    """The parts in, by part, from `gathered` (as _parts_in: when each was submitted, a time)."""
    return {r["part"]: {**r, "submitted_at": datetime.fromisoformat(r["submitted_at"])} for r in found["parts"]}


def _given_in(found: asyncpg.Record, section: Section) -> list[ViewsGiven]:
    """_given, from what `gathered` found."""
    if section.key not in views_rules.AUDIENCES:
        return []
    return [ViewsGiven(name=r["name"], audience=r["audience"], question_set=r["question_set"],
                       answered=views_rules.answered_by(section, r["question_set"], list(r["answered"])),
                       last_saved_at=r["last_saved_at"]) for r in found["given"]]


def _shown(template: Template, access: Access, key: str) -> Section | None:
    section = template.section(key)
    return section if section is not None and access.may_see(section) else None  # QA's: only if they see QA


def _section_or_404(template: Template, access: Access, key: str) -> Section:
    section = _shown(template, access, key)
    if section is None:
        raise not_found("section")
    return section


def _summary(pep: asyncpg.Record) -> PepSummary:
    return PepSummary(id=pep["id"], child_id=pep["child_id"], kind=pep["kind"], term=pep["term"],
                      academic_year=pep["academic_year"], status=pep["status"], meeting_date=pep["meeting_date"],
                      created_at=pep["created_at"], updated_at=pep["updated_at"])


@serves(routes, api.LIST_CHILD_PEPS)
async def list_peps(request: web.Request) -> list[PepSummary]:
    async with request.app[POOL].acquire() as conn:
        child, _ = await child_or_404(conn, request[CLAIMS], path_uuid(request, "child_id"))
        rows = await lifecycle_store.of_child(conn, child["id"])
    return [_summary(r) for r in rows]


@serves(routes, api.START_PEP)
async def start_pep(request: web.Request) -> PepSummary:
    """A new PEP from the right template for the child's phase, carried forward from their last one."""
    claims = request[CLAIMS]
    body = await parse_body(request, PepStart)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        child, access = await child_or_404(conn, claims, path_uuid(request, "child_id"))
        if access.via not in ("virtual_school", "social_worker"):
            raise Problem(403, "Only the Virtual School or the child's social worker can start a PEP",
                          code="forbidden")
        await lifecycle_store.hold_child(conn, child["id"])
        if await lifecycle_store.has_open_pep(conn, child["id"]):
            raise Problem(409, "This child already has a PEP in progress",
                          "Finish or cancel it before starting another.", code="pep_in_progress")
        pep = await lifecycle_store.create_pep(conn, child, body.kind, body.term, body.academic_year,
                                               body.meeting_date, claims)
    return _summary(pep)


@serves(routes, api.GET_PEP)
async def overview(request: web.Request) -> PepOverview:
    """The task list: each section with its owner, status, progress and whether the caller may edit it."""
    async with request.app[POOL].acquire() as conn:
        found, pep, access, template = await _gathered(conn, request[CLAIMS], path_uuid(request, "pep_id"),
                                                       decisions=True, read=request)
    saved = store.sections_of(found)
    delegated = frozenset(found["delegated"])
    parts_in = frozenset(_parts(found))
    visible = {s.key for s in template.sections if access.may_see(s)}  # the targets, for those who see them
    funding = target_funding.targets_funding(template, {k: r["answers"] for k, r in saved.items() if k in visible},
                                             {r["target"]: r for r in found["decisions"]})
    sections = []
    for section in template.sections:
        if not access.may_see(section):
            continue
        row = saved[section.key]
        answered, shown = progress(section, row["answers"])
        status, to_check = shown_state(pep["status"], row["status"], list(row["to_check"]))
        sections.append(SectionState(key=section.key, title=section.title, owner=section.owner,
                                     status=status, answered=answered, questions=shown,
                                     to_check=len(to_check), delegated=section.key in delegated,
                                     can_edit=may_edit(pep["status"], access, section, delegated, parts_in)))
    return PepOverview(**dict(_summary(pep)),
                       template=TemplateRef(key=template.key, name=template.name, version=template.version),
                       sections=sections, funding=funding,
                       actions=_actions(pep, access, parts_in))


@serves(routes, api.GET_SECTION)
async def read_section(request: web.Request) -> SectionOut:
    key = request.match_info["key"]
    async with request.app[POOL].acquire() as conn:
        found, pep, access, template = await _gathered(conn, request[CLAIMS], path_uuid(request, "pep_id"), key,
                                                       read=request)
    section = _section_or_404(template, access, key)
    return _section_out(pep, access, section, store.sections_of(found)[section.key], frozenset(found["delegated"]),
                        _given_in(found, section), frozenset(_parts(found)))


async def _given(conn: asyncpg.Connection, pep_id: uuid.UUID, section: Section) -> list[ViewsGiven]:
    """A views section's answers given by invitation: who, with which questions, what they answered, and when."""
    if section.key not in views_rules.AUDIENCES:
        return []
    return [ViewsGiven(name=r["name"], audience=r["audience"], question_set=r["question_set"],
                       answered=views_rules.answered_by(section, r["question_set"], list(r["answered"])),
                       last_saved_at=r["last_saved_at"])
            for r in await views_store.given(conn, pep_id, section.key)]


def _section_out(pep: asyncpg.Record, access: Access, section: Section, row: asyncpg.Record | dict[str, Any],
                 delegated: frozenset[str], given: list[ViewsGiven] | None = None,
                 parts_in: frozenset[str] = frozenset()) -> SectionOut:
    status, to_check = shown_state(pep["status"], row["status"], list(row["to_check"]))
    return SectionOut(pep_id=pep["id"], key=section.key, definition=section, answers=row["answers"],
                      version=row["version"], status=status, to_check=to_check,
                      updated_at=row["updated_at"], updated_by_name=row.get("updated_by_name"),
                      missing=[Gap(field=e.field, message=e.message) for e in missing(section.fields, row["answers"])],
                      delegated=section.key in delegated,
                      can_edit=may_edit(pep["status"], access, section, delegated, parts_in),
                      given=given or [])


@serves(routes, api.SAVE_SECTION)
async def save_section(request: web.Request) -> SectionOut:
    """A partial save: only the answers sent change. A bad answer is refused by name and nothing is saved;
    a save started from an older version gets 409 with what is there now and who saved it."""
    claims = request[CLAIMS]
    body = await parse_body(request, SectionSave)
    key = request.match_info["key"]
    async with request.app[POOL].acquire() as conn:
        # Two round trips (issue 19): what the decision rests on, read in one statement and decided here; then the
        # write, in one statement that holds only if those facts still do (pep_facts) - else as it always was,
        # under the PEP's lock. A save that moves the meeting announces it: that too goes the locked way.
        found, pep, access, template = await _gathered(conn, claims, path_uuid(request, "pep_id"), key)
        section = _section_or_404(template, access, key)
        delegated = frozenset(found["delegated"])
        _require_edit(pep, access, section, delegated, _parts(found))
        clean = _cleaned(section, body)
        if section.key == MEETING and MEETING_KEYS & set(clean):
            return await _save_locked(request, conn, claims, body)
        child = found["child"]
        done = await store.save_checked(
            conn, pep["id"], section.key, clean, body.version, uuid.UUID(claims.sub), found["facts"],
            (access.via, child["la_id"], child["id"], request.method, request.match_info.route.resource.canonical,
             request.get(REQUEST_ID), claims.address))
        if not done["held"]:
            return await _save_locked(request, conn, claims, body)
        if done["saved"] is None:
            raise _conflict((await store.sections(conn, pep["id"]))[section.key])
        reached.logged()
    row = {**done["saved"], "updated_by_name": done["saved_by_name"]}
    return _section_out(done["pep"], access, section, row, delegated, _given_in(found, section))


def _cleaned(section: Section, body: SectionSave) -> dict[str, Any]:
    clean, errors = clean_answers(section.fields, body.answers)
    if errors:
        raise Problem(422, "Some answers need changing", "Check these answers: " +
                      ", ".join(e.field for e in errors), code="validation",
                      errors=[FieldError(field=f"answers.{e.field}", message=e.message) for e in errors])
    return clean


def _conflict(current: asyncpg.Record) -> Problem:
    return Problem(409, "Someone else saved this section", f"{current['updated_by_name'] or 'Someone'} "
                   "saved it after you opened it. Your answers have not been saved: compare them with theirs.",
                   code="conflict", extra={"current": {
                       "answers": current["answers"], "version": current["version"],
                       "updated_by_name": current["updated_by_name"],
                       "updated_at": current["updated_at"].isoformat()}})


async def _save_locked(request: web.Request, conn: asyncpg.Connection, claims: Claims,
                       body: SectionSave) -> SectionOut:
    """The save decided and written under the PEP's lock, in a transaction: for a save that announces a meeting,
    and for one whose facts changed between its read and its write."""
    async with conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        section = _section_or_404(template, access, request.match_info["key"])
        delegated = await delegated_sections(conn, pep["id"])
        _require_edit(pep, access, section, delegated, await _parts_in(conn, pep["id"]))
        clean = _cleaned(section, body)
        saved = await store.save_section(conn, pep["id"], section.key, clean, body.version, uuid.UUID(claims.sub))
        if saved is None:
            raise _conflict((await store.sections(conn, pep["id"]))[section.key])
        await lifecycle_store.section_saved(conn, pep)
        if section.key == MEETING and MEETING_KEYS & set(clean):
            await lifecycle_store.meeting_changed(conn, pep, saved["answers"], request[REQUEST_ID])
        row = (await store.sections(conn, pep["id"]))[section.key]
        pep = await store.pep(conn, pep["id"])
        assert pep is not None
        given = await _given(conn, pep["id"], section)
    return _section_out(pep, access, section, row, delegated, given)


async def _parts_in(conn: asyncpg.Connection, pep_id: uuid.UUID) -> dict[str, asyncpg.Record]:
    """The parts of the PEP that are in, by part."""
    return {r["part"]: r for r in await contributions.parts_in(conn, pep_id)}


def _actions(pep: asyncpg.Record, access: Access, parts_in: frozenset[str]) -> list[str]:
    """What the caller may do now: the school, its part in, has nothing to submit until QA returns the PEP."""
    if not access.can_edit:
        return []
    actions = lifecycle.allowed_actions(pep["status"], access.via)
    if lifecycle.submitted_part(access.via, parts_in) is not None:
        actions = [a for a in actions if a != "submit"]
    return actions


def _contribution_in(found: dict[str, asyncpg.Record]) -> Problem:
    at = found[lifecycle.SCHOOL]["submitted_at"]
    return Problem(409, f"You submitted the school's contribution on {at.day} {at:%B %Y}; the Virtual School can "
                   "return it for changes", "The school's sections are read-only until the Virtual School returns "
                   "the PEP to the school.", code="contribution_submitted")


def _require_edit(pep: asyncpg.Record | dict[str, Any], access: Access, section: Section, delegated: frozenset[str],
                  parts: dict[str, asyncpg.Record] | dict[str, dict[str, Any]]) -> None:
    if held_by_delegate(section.key, access.via, delegated) and access.can_edit:
        raise Problem(403, "This section is with the school", "It is delegated to the Designated Teacher until they "
                      "submit their contribution or the task is retracted.", code="delegated")
    # While the PEP waits for its other parts, the school's part is in and read-only for the school; once the PEP
    # has gone on (QA, approved, finalised) its state says why nobody but the Virtual School writes it.
    found = parts if pep["status"] in lifecycle.EDITABLE else {}
    if access.can_edit and lifecycle.submitted_part(access.via, frozenset(found)) is not None:
        raise _contribution_in(found)
    if not may_edit(pep["status"], access, section, delegated):
        raise Problem(403, "You cannot change this section now", code="read_only",
                      detail=f"This PEP is {pep['status'].replace('_', ' ')}." if pep["status"] not in
                      lifecycle.EDITABLE else "Another role writes this section.")


@serves(routes, api.COMPLETE_SECTION)
async def mark_section_complete(request: web.Request) -> SectionOut:
    """The section's writer says it is done: only when every mandatory answer shown is there."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        section = _section_or_404(template, access, request.match_info["key"])
        delegated = await delegated_sections(conn, pep["id"])
        _require_edit(pep, access, section, delegated,
                      await _parts_in(conn, pep["id"]) if pep["status"] in lifecycle.EDITABLE else {})
        row = (await store.sections(conn, pep["id"]))[section.key]
        if gaps := missing(section.fields, row["answers"]):
            raise Problem(422, "Some answers are missing", f"{len(gaps)} mandatory answers are missing.",
                          code="incomplete", errors=[FieldError(field=f"answers.{e.field}", message=e.message)
                                                     for e in gaps])
        await lifecycle_store.complete_section(conn, pep["id"], section.key, uuid.UUID(claims.sub))
        row = (await store.sections(conn, pep["id"]))[section.key]
        given = await _given(conn, pep["id"], section)
    return _section_out(pep, access, section, row, delegated, given)


def _answers(saved: dict[str, asyncpg.Record] | dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key: row["answers"] for key, row in saved.items()}


def _my_part(access: Access) -> str | None:
    """The part of the PEP this caller submits (None: the whole PEP, for the Virtual School and those who only read)."""
    return lifecycle.part_of(access.via) if access.can_edit else None


@serves(routes, api.PEP_MISSING)
async def what_is_missing(request: web.Request) -> list[Missing]:
    """What stops the caller's sign-off, section by section: only their part's gaps, which they can fix."""
    async with request.app[POOL].acquire() as conn:
        found, _, access, template = await _gathered(conn, request[CLAIMS], path_uuid(request, "pep_id"),
                                                     read=request)
    return missing_for_sign_off(template, _answers(store.sections_of(found)), access, _my_part(access),
                                frozenset(found["delegated"]))


@serves(routes, api.GET_SIGN_OFF)
async def sign_off(request: web.Request) -> SignOff:
    """Where sign-off stands for the caller: their part, what stops it, and which parts are in."""
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        saved = await store.sections(conn, pep["id"])
        delegated = await delegated_sections(conn, pep["id"])
        rule = await contributions.goes_to_qa(conn, pep["la_id"])
        found = {r["part"]: r for r in await contributions.parts_in(conn, pep["id"])}
    part = _my_part(access)
    needed = lifecycle.parts_needed(rule, pep["status"], pep["setting_id"] is not None)
    parts = []
    for name in (lifecycle.SCHOOL, lifecycle.SOCIAL_WORKER):
        row = found.get(name)
        parts.append(PartState(
            part=name, needed=name in needed, submitted_at=row["submitted_at"] if row else None,  # type: ignore[arg-type]
            submitted_by_name=f"{row['given_name']} {row['family_name']}" if row and row["given_name"] else None,
            setting_id=row["setting_id"] if row else None))
    actions = _actions(pep, access, frozenset(found))
    return SignOff(status=pep["status"], goes_to_qa=rule, my_part=part, parts=parts,  # type: ignore[arg-type]
                   missing=missing_for_sign_off(template, _answers(saved), access, part, delegated),
                   can_submit="submit" in actions,
                   with_school=with_school(template, _answers(saved), access, delegated) if access.can_edit else [])


@serves(routes, api.SECTION_HISTORY)
async def section_history(request: web.Request) -> list[SavedVersion]:
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        rows = await store.history(conn, pep["id"], section.key)
    me = str(request[CLAIMS].sub).lower()
    return [SavedVersion(version=r["version"], changed=r["changed"], saved_at=r["saved_at"],
                         saved_by_name=r["saved_by_name"], saved_by_me=str(r["saved_by"]) == me) for r in rows]


@serves(routes, api.COMPARE_SECTION)
async def compare_versions(request: web.Request) -> list[Difference]:
    """Any two saved versions of a section (`from`, `to`), or this PEP's section beside the same section of
    another PEP of the same child (`with_pep`: term against term), question by question."""
    if "with_pep" in request.query:
        return await _compare_terms(request)
    try:
        before, after = int(request.query["from"]), int(request.query["to"])
    except (KeyError, ValueError):
        raise Problem(422, "Say which versions to compare", code="validation", errors=[
            FieldError(field="from", message="Enter a version number"),
            FieldError(field="to", message="Enter a version number")]) from None
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        old = await store.answers_at(conn, pep["id"], section.key, before)
        new = await store.answers_at(conn, pep["id"], section.key, after)
    if old is None or new is None:
        raise not_found("version")
    return compare(section.fields, old, new)


async def _compare_terms(request: web.Request) -> list[Difference]:
    try:
        other_id = uuid.UUID(request.query["with_pep"])
    except ValueError:
        raise not_found("PEP") from None
    async with request.app[POOL].acquire() as conn:
        pep, access, template = await _pep_or_404(conn, request[CLAIMS], path_uuid(request, "pep_id"))
        section = _section_or_404(template, access, request.match_info["key"])
        other = await store.pep(conn, other_id)
        if other is None or other["child_id"] != pep["child_id"]:
            raise not_found("PEP")  # only ever this child's own PEPs
        mine = (await store.sections(conn, pep["id"]))[section.key]["answers"]
        theirs_row = (await store.sections(conn, other["id"])).get(section.key)
    theirs = theirs_row["answers"] if theirs_row else {}
    earlier, later = (theirs, mine) if other["created_at"] <= pep["created_at"] else (mine, theirs)
    return compare(section.fields, earlier, later)


async def take_action(request: web.Request, action: str) -> PepSummary:
    """submit, finalise, cancel (with a reason): one table says who may. Approve and return are qa's (qa_decision)."""
    claims = request[CLAIMS]
    body = await parse_body(request, PepAction) if request.can_read_body else PepAction()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep, access, template = await _pep_or_404(conn, claims, path_uuid(request, "pep_id"), lock=True)
        via = access.via if access.can_edit else None
        if action == "submit":
            pep = await _submit(conn, pep, template, access, body.reason, claims, request[REQUEST_ID])
        else:
            pep = await _move(conn, pep, template, action, via, body.reason, claims, request[REQUEST_ID])
    return _summary(pep)


async def _submit(conn: asyncpg.Connection, pep: asyncpg.Record, template: Template, access: Access,
                  reason: str | None, actor: Claims, rid: str) -> asyncpg.Record:
    """The caller submits their part (lifecycle: PARTS): it needs only that part's mandatory answers. The PEP goes
    to QA when every part the LA's rule waits for is in; until then it stays as it is, the part recorded (and the
    school's announced, so delegation ends the school's task). The Virtual School submits the whole PEP."""
    via = access.via if access.can_edit else None
    if via is None or lifecycle.transition("submit", pep["status"], via) is None:
        return await _move(conn, pep, template, "submit", via, reason, actor, rid)  # refused there, with why
    part = lifecycle.part_of(via)
    found = await _parts_in(conn, pep["id"])
    if lifecycle.submitted_part(via, frozenset(found)) is not None:
        raise _contribution_in(found)
    delegated = await delegated_sections(conn, pep["id"])
    if gaps := missing_for_sign_off(template, _answers(await store.sections(conn, pep["id"])), None, part,
                                    delegated):
        shown = [g for g in gaps if access.may_see_section(g.section)]
        what = {lifecycle.SCHOOL: "Your contribution", lifecycle.SOCIAL_WORKER: "Your part of the PEP"}.get(
            part or "", "The PEP")
        raise Problem(422, f"{what} is not ready to submit", f"{len(gaps)} mandatory answers are missing.",
                      code="incomplete", extra={"missing": [g.model_dump(mode="json") for g in shown]})
    if part is None:
        return await _move(conn, pep, template, "submit", via, reason, actor, rid)
    await contributions.record(conn, pep["id"], part, pep["setting_id"] if part == lifecycle.SCHOOL else None,
                               uuid.UUID(actor.sub))
    rule = await contributions.goes_to_qa(conn, pep["la_id"])
    have = {r["part"] for r in await contributions.parts_in(conn, pep["id"])}
    if lifecycle.parts_needed(rule, pep["status"], pep["setting_id"] is not None) <= have:
        return await _move(conn, pep, template, "submit", via, reason, actor, rid)
    await lifecycle_store.part_submitted(conn, pep, lifecycle.CONTRIBUTED[part], actor, rid,
                                         announce=part == lifecycle.SCHOOL)
    moved = await store.pep(conn, pep["id"])
    assert moved is not None
    return moved


def _through_qa(action: str) -> Problem:
    return Problem(403, f"A PEP is {'approved' if action == 'approve' else 'returned'} through its quality assurance "
                   "review", "Open the PEP's review, rate each area and the PEP overall, then approve it or return "
                   "it to the school there.", code="qa_only")


async def qa_decision(request: web.Request, action: str) -> PepSummary:
    """Approve or return, as qa's decision on the PEP's review (services/qa/reviews.py): only qa, speaking for
    itself in a token it signed, with the reviewer's user id so the transition records who decided. qa has
    checked the reviewer is the Virtual School of this child's LA and that the review allows this outcome;
    anyone else (a person's token, another service) is refused here, whatever their role."""
    claims = request[CLAIMS]
    if not claims.is_from("qa"):
        raise _through_qa(action)
    body = await parse_body(request, QaDecision)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        pep = await store.pep(conn, path_uuid(request, "pep_id"), lock=True)
        if pep is None:
            raise not_found("PEP")
        template = await store.template_by_id(conn, pep["template_id"])
        pep = await _move(conn, pep, template, action, lifecycle.QUALITY_ASSURANCE, body.reason,
                          Claims(sub=str(body.by_user)), request[REQUEST_ID])
    return _summary(pep)


async def _move(conn: asyncpg.Connection, pep: asyncpg.Record, template: Template, action: str, via: str | None,
                reason: str | None, actor: Claims, rid: str) -> asyncpg.Record:
    """The transition, if `via` may take it now, and everything that follows from it; the PEP as it is after."""
    move = lifecycle.transition(action, pep["status"], via) if via is not None else None
    if move is None:
        if action in ("approve", "return") and via != lifecycle.QUALITY_ASSURANCE:
            raise _through_qa(action)
        raise Problem(409, "You cannot do that now", f"This PEP is {pep['status'].replace('_', ' ')}.",
                      code="not_allowed", extra={"allowed": lifecycle.allowed_actions(pep["status"], via or "")})
    if move.needs_reason and not (reason or "").strip():
        raise Problem(422, "Give a reason", code="validation",
                      errors=[FieldError(field="reason", message="Enter the reason")])
    await lifecycle_store.set_status(conn, pep["id"], move.to_state)
    if move.to_state == "returned":  # back to the school, whose amendment is a new contribution
        await contributions.take_back(conn, pep["id"], lifecycle.SCHOOL)
    if move.to_state == "submitted":
        await lifecycle_store.request_funding(conn, pep, rid)
        await lifecycle_store.outcomes_submitted(conn, pep, rid)
    if move.to_state == "cancelled" and pep["meeting_date"] is not None:
        await lifecycle_store.meeting_cancelled(conn, pep, rid)
    await lifecycle_store.record_transition(conn, pep["id"], pep["la_id"], pep["status"], move.to_state, action,
                                            reason, actor, rid)
    if move.to_state == "finalised":
        await lifecycle_store.start_next_termly(conn, pep, actor, rid)
    moved = await store.pep(conn, pep["id"])
    assert moved is not None
    return moved


def _serve_action(op: Operation, action: str) -> None:
    """Each lifecycle action is its own operation (`POST /peps/{pep_id}/actions/<action>`), served by one handler."""

    async def act(request: web.Request) -> PepSummary:
        return await take_action(request, action)

    act.__name__ = op.id
    act.__doc__ = op.summary
    serves(routes, op)(act)


for _op, _action in ((api.SUBMIT_PEP, "submit"), (api.FINALISE_PEP, "finalise"), (api.CANCEL_PEP, "cancel")):
    _serve_action(_op, _action)


def _serve_qa_decision(action: str) -> None:
    """Not in the public catalogue, so the gateway has no route to it: qa's alone (qa_decision)."""

    async def decided(request: web.Request) -> web.Response:
        return json_model(await qa_decision(request, action))

    decided.__name__ = f"qa_{action}"
    routes.post(f"/peps/{{pep_id}}/actions/{action}")(decided)


for _action in ("approve", "return"):
    _serve_qa_decision(_action)
