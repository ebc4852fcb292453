"""Children's core data over HTTP: list, create, profile, edit (optimistic concurrency), CSV import, siblings,
attendance. Who reaches a child is `child_access`; a child the caller does not reach answers 404."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

import asyncpg
from aiohttp import web

from services.pep import action_plan, pep_store
from services.pep import children_store as store
from services.pep.child_access import (
    CORE_DATA_EDITORS,
    as_uuid,
    child_or_404,
    editable_child_or_404,
    may_edit_core_data,
    may_move,
    movable_child_or_404,
    ref_of,
)
from services.pep.domain import core_data
from services.pep.domain.access import Access, access_to, visible_children_filter
from services.pep.domain.child_import import (
    ATTENDANCE_COLUMNS,
    CHILD_COLUMNS,
    Column,
    RowError,
    parse_attendance,
    parse_children,
)
from shared.api import children as api
from shared.api.children import (
    NOT_NULL,
    Attendance,
    AttendanceImportResult,
    AttendanceIn,
    AttendanceList,
    Change,
    ChildIn,
    ChildList,
    ChildPatch,
    ChildProfile,
    ChildQuery,
    ChildSummary,
    Choice,
    CsvImport,
    ImportResult,
    Indicators,
    PersonWithAccess,
    PlacementMove,
    RecordChoices,
    SettingMove,
    Sibling,
    SiblingLink,
)
from shared.authz import not_found, require_user, roles_at
from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import OrganisationChanged
from shared.errors import FieldError, Problem
from shared.internal_auth import Claims, Membership
from shared.schedule import now
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, serves
from shared.workdays import uk_date

routes = web.RouteTableDef()
# Who is meant by an id in each of these fields: they must hold this role in the child's LA.
PEOPLE_ROLES = {"social_worker_id": ("social_worker", "a social worker"), "iro_id": ("iro", "an IRO"),
                "carer_ids": ("carer", "a carer")}


# Who reads why a child moved (as they read case notes): not carers or invited young people.
PROFESSIONALS = frozenset({"virtual_school", "social_worker", "designated_teacher", "setting_staff", "iro"})


def invalid(errors: list[FieldError]) -> Problem:
    return Problem(422, "The request has invalid fields", "Check these fields: " + ", ".join(e.field for e in errors),
                   code="validation", errors=errors)


def _user(request: web.Request) -> tuple[Claims, uuid.UUID]:
    claims = request[CLAIMS]
    return claims, uuid.UUID(require_user(claims))


def _may_create_in(claims: Claims, la_id: uuid.UUID) -> bool:
    return bool(roles_at(claims, str(la_id)) & CORE_DATA_EDITORS)


def _holds_role(user: asyncpg.Record | None, la_id: uuid.UUID, role: str) -> bool:
    return user is not None and any(m.get("organisation_id") == str(la_id) and m.get("role") == role
                                    for m in user["memberships"])


async def _people_problems(conn: asyncpg.Connection, la_id: uuid.UUID, values: dict[str, Any],
                           fields: Iterable[str]) -> list[FieldError]:
    """Ids of people must be of people who hold the matching role in the child's LA (pep's users read model)."""
    wanted = {f: [values[f]] if f != "carer_ids" else list(values[f] or []) for f in fields
              if f in PEOPLE_ROLES and values.get(f) is not None}
    found = await store.users(conn, {i for ids in wanted.values() for i in ids})
    errors = []
    for name, ids in wanted.items():
        role, words = PEOPLE_ROLES[name]
        if any(not _holds_role(found.get(i), la_id, role) for i in ids):
            errors.append(FieldError(field=name, message=f"Choose {words} with an account in this local authority"))
    return errors


async def _setting_problems(conn: asyncpg.Connection, la_id: uuid.UUID, values: dict[str, Any],
                            fields: Iterable[str]) -> list[FieldError]:
    """A setting pep knows to be another LA's (or not a setting) is refused: its DT would reach this LA's child.
    One pep has not heard of yet (identity's event on its way) is taken as given, as it always was."""
    setting_id = values.get("setting_id")
    if "setting_id" not in fields or setting_id is None:
        return []
    known = await store.organisation(conn, setting_id)
    if known is None or (known["organisation_type"] == "setting" and known["la_id"] == la_id):
        return []
    return [FieldError(field="setting_id", message="Choose a school or setting in this local authority")]


# ---- the child's record as the API shows it -------------------------------------------------------


def _summary(row: asyncpg.Record) -> ChildSummary:
    return ChildSummary(id=row["id"], la_id=row["la_id"], given_name=row["given_name"],
                        family_name=row["family_name"], date_of_birth=row["date_of_birth"],
                        setting_id=row["setting_id"], year_group=row["year_group"],
                        key_stage=core_data.key_stage(row["year_group"]), sen_status=row["sen_status"],
                        in_care=row["in_care"], version=row["version"])


def _sibling(row: asyncpg.Record) -> Sibling:
    return Sibling(id=row["id"], given_name=row["given_name"], family_name=row["family_name"],
                   date_of_birth=row["date_of_birth"], setting_id=row["setting_id"], year_group=row["year_group"])


def _changes(rows: list[asyncpg.Record], professional: bool) -> list[Change]:
    """The history; a move's reason, like a case note, is for the professionals working with the child."""
    return [Change(what=r["what"], from_value=r["from_value"], to_value=r["to_value"], version=r["version"],
                   changed_at=r["changed_at"], changed_by=r["changed_by"], changed_by_name=r["changed_by_name"],
                   starts_on=r["starts_on"], reason=r["reason"] if professional else None)
            for r in rows]


def _claims_of(user: asyncpg.Record) -> Claims:
    return Claims(sub=str(user["id"]), memberships=[Membership.model_validate(m) for m in user["memberships"]])


async def profile(conn: asyncpg.Connection, claims: Claims, row: asyncpg.Record, access: Access) -> ChildProfile:
    """Core data, key indicators, who can see the child, siblings the caller can see, and the histories."""
    start, end = core_data.academic_year_of(date.today())
    attended, possible = await store.attendance_between(conn, row["id"], start, end)
    last_pep, next_pep = await pep_store.pep_dates(conn, row["id"], date.today())
    # Funding decisions are QA's: shown to those who see QA, as the PEP's own funding answers are.
    agreed, requests, termly, financial_year = await action_plan.pp_plus_agreed(conn, row["id"], date.today()) \
        if access.sees_qa else (None, None, None, None)
    ref = ref_of(row)
    people = []
    for user in await store.people_near(conn, [o for o in (row["la_id"], row["setting_id"]) if o is not None]):
        reach = access_to(_claims_of(user), ref)
        if reach is not None:
            people.append(PersonWithAccess(user_id=user["id"], given_name=user["given_name"],
                                           family_name=user["family_name"], email=user["email"], via=reach.via))
    siblings = [_sibling(s) for s in await store.siblings(conn, row["id"]) if access_to(claims, ref_of(s))]
    professional = access.via in PROFESSIONALS
    # The core data as stored (every field of CoreData is a column), then what is worked out from it.
    return ChildProfile.model_validate({
        **{name: row[name] for name in store.CORE_FIELDS},
        **_summary(row).model_dump(),
        "phase": core_data.phase(row["year_group"]), "carer_ids": list(row["carer_ids"]),
        "created_at": row["created_at"], "updated_at": row["updated_at"], "updated_by": row["updated_by"],
        "indicators": Indicators(last_pep_date=last_pep, next_pep_due=next_pep, year_group=row["year_group"],
                                 key_stage=core_data.key_stage(row["year_group"]),
                                 attendance_percent=core_data.attendance_percent(attended, possible),
                                 pp_plus_agreed=f"{agreed:.2f}" if agreed is not None else None,
                                 pp_plus_requests=requests,
                                 pp_plus_paid_termly=f"{termly:.2f}" if termly is not None else None,
                                 pp_plus_financial_year=financial_year),
        "people": people, "siblings": siblings,
        "moved_on": row["moved_on"], "move_kind": row["move_kind"],
        "move_reason": row["move_reason"] if professional else None,
        "placement_history": _changes(await store.history(conn, "placement_history", row["id"]), professional),
        "setting_history": _changes(await store.history(conn, "setting_history", row["id"]), professional),
        "access": access.via, "can_edit": may_edit_core_data(claims, row), "can_move": may_move(claims, row),
    })


# ---- list and create ------------------------------------------------------------------------------


@serves(routes, api.LIST_CHILDREN)
async def list_children(request: web.Request) -> ChildList:
    """The caller's children: their LA's for the Virtual School, their allocated ones for a social worker,
    their setting's for a DT (and for staff, those their DT granted)."""
    claims = request[CLAIMS]
    query = ChildQuery.model_validate({k: v for k, v in request.query.items() if v.strip()})
    scope = visible_children_filter(claims)
    async with request.app[POOL].acquire() as conn:
        rows = await store.candidates(conn, [as_uuid(i) for i in scope["la_ids"]],
                                      [as_uuid(i) for i in scope["setting_ids"]], setting_id=query.setting_id,
                                      q=query.q)
    mine = [r for r in rows if access_to(claims, ref_of(r)) is not None]
    page = mine[query.offset:query.offset + query.limit]
    return ChildList(items=[_summary(r) for r in page], total=len(mine), limit=query.limit, offset=query.offset)


@serves(routes, api.ADD_CHILD)
async def create_child(request: web.Request) -> ChildProfile:
    claims, user = _user(request)
    body = await parse_body(request, ChildIn)
    if not _may_create_in(claims, body.la_id):
        raise invalid([FieldError(field="la_id", message="Choose a local authority where you work for the "
                                                         "Virtual School")])
    values = core_data.normalise(body.model_dump(exclude={"la_id"}))
    values["contacts"] = values["contacts"] or []
    values["carer_ids"] = values["carer_ids"] or []
    values["in_care"] = True if values["in_care"] is None else values["in_care"]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        errors = core_data.problems(values, date.today())
        errors += await _people_problems(conn, body.la_id, values, PEOPLE_ROLES)
        errors += await _setting_problems(conn, body.la_id, values, values)
        if errors:
            raise invalid(errors)
        try:
            row = await store.insert_child(conn, uuid.uuid4(), body.la_id, values, user)
        except asyncpg.UniqueViolationError:
            raise invalid([_duplicate_social_care_id()]) from None
        await store.publish_changed(conn, row, request[REQUEST_ID])
        access = access_to(claims, ref_of(row))
        assert access is not None
        return await profile(conn, claims, row, access)


def _duplicate_social_care_id() -> FieldError:
    return FieldError(field="social_care_id", message="Another child in this local authority has this social care id")


# ---- one child ------------------------------------------------------------------------------------


@serves(routes, api.GET_CHILD)
async def get_child(request: web.Request) -> ChildProfile:
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        row, access = await child_or_404(conn, claims, request.match_info["child_id"])
        return await profile(conn, claims, row, access)


@serves(routes, api.CHANGE_CHILD)
async def edit_child(request: web.Request) -> ChildProfile:
    """Change some fields. The body names the version it started from: if the record changed since, 409
    with the current record, so the person can see what changed and make their change again."""
    claims, user = _user(request)
    body = await parse_body(request, ChildPatch)
    sent = body.model_dump(include=body.model_fields_set - {"version"})
    if blanked := [f for f in NOT_NULL if f in sent and sent[f] is None]:
        raise invalid([FieldError(field=f, message="This cannot be left empty") for f in blanked])
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, access = await editable_child_or_404(conn, claims, request.match_info["child_id"])
        if row["version"] != body.version:
            raise Problem(409, "Someone else changed this record", f"It is now at version {row['version']}; you "
                          f"started from version {body.version}. Check the current record and make your change "
                          "again.", code="stale_version",
                          extra={"current": (await profile(conn, claims, row, access)).model_dump(mode="json")})
        proposed = core_data.normalise(sent)
        changed = core_data.changes(dict(row), proposed)
        errors = core_data.problems({**dict(row), **proposed}, date.today(), set(changed))
        errors += await _people_problems(conn, row["la_id"], proposed, changed)
        errors += await _setting_problems(conn, row["la_id"], proposed, changed)
        if errors:
            raise invalid(errors)
        if changed:
            try:
                row = await store.update_child(conn, row, changed, user)
            except asyncpg.UniqueViolationError:
                raise invalid([_duplicate_social_care_id()]) from None
            await store.publish_changed(conn, row, request[REQUEST_ID])
        return await profile(conn, claims, row, access)


# ---- changing school, placement and the people allocated, by name -----------------------------------


def _today(request: web.Request) -> date:
    """The service's day (a test may move the clock: EPEP_CLOCK_FILE)."""
    return uk_date(now(request.app[SETTINGS].clock_file))


def _choices(rows: list[asyncpg.Record], name: Any) -> list[Choice]:
    return [Choice(id=r["id"], name=name(r)) for r in rows]


@serves(routes, api.RECORD_CHOICES)
async def record_choices(request: web.Request) -> RecordChoices:
    """The settings of the child's LA and its people with each role, by name: the pickers of the child's record."""
    async with request.app[POOL].acquire() as conn:
        row, _ = await movable_child_or_404(conn, request[CLAIMS], request.match_info["child_id"], lock=False)
        la_id = row["la_id"]

        def person(r: asyncpg.Record) -> str:
            return f"{r['given_name']} {r['family_name']}"

        return RecordChoices(
            settings=_choices(await store.settings_of(conn, la_id), lambda r: r["name"]),
            social_workers=_choices(await store.people_with_role(conn, la_id, "social_worker"), person),
            iros=_choices(await store.people_with_role(conn, la_id, "iro"), person),
            carers=_choices(await store.people_with_role(conn, la_id, "carer"), person))


def _stale(row: asyncpg.Record, version: int, current: ChildProfile) -> Problem:
    return Problem(409, "Someone else changed this record", f"It is now at version {row['version']}; you started "
                   f"from version {version}. Check the current record and make your change again.",
                   code="stale_version", extra={"current": current.model_dump(mode="json")})


def _start_problems(row: asyncpg.Record, starts_on: date, today: date) -> list[FieldError]:
    """A move's start: today or before (the child moves now), after birth, and not before the latest move (the
    clocks count from the latest)."""
    if starts_on > today:
        return [FieldError(field="starts_on", message="The start date must be today or in the past")]
    if starts_on < row["date_of_birth"]:
        return [FieldError(field="starts_on", message="The start date must be on or after the date of birth")]
    if row["moved_on"] is not None and starts_on < row["moved_on"]:
        return [FieldError(field="starts_on", message="The start date must be on or after the latest change of "
                           f"school or placement, {row['moved_on'].strftime('%-d %B %Y')}")]
    return []


async def _move(request: web.Request, body: SettingMove | PlacementMove, kind: str,
                proposed: dict[str, Any]) -> ChildProfile:
    claims, user = _user(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, access = await movable_child_or_404(conn, claims, request.match_info["child_id"])
        if row["version"] != body.version:
            raise _stale(row, body.version, await profile(conn, claims, row, access))
        errors = _start_problems(row, body.starts_on, _today(request))
        changed = core_data.changes(dict(row), proposed)
        if kind == "school":
            setting = await store.organisation(conn, proposed["setting_id"])
            if setting is None or setting["organisation_type"] != "setting" or setting["la_id"] != row["la_id"]:
                errors.insert(0, FieldError(field="setting_id", message="Choose a school or setting in this local "
                                                                       "authority"))
            elif "setting_id" not in changed:
                errors.insert(0, FieldError(field="setting_id", message="The child is already at this school or "
                                                                       "setting: choose the new one"))
        else:  # a new placement is a change even of the same type: it is kept as one
            changed.setdefault("placement_type", (row["placement_type"], proposed["placement_type"]))
        if errors:
            raise invalid(errors)
        row = await store.update_child(conn, row, changed, user, store.Move(kind, body.starts_on, body.reason))
        await store.publish_changed(conn, row, request[REQUEST_ID])
        return await profile(conn, claims, row, access)


@serves(routes, api.MOVE_SETTING)
async def move_setting(request: web.Request) -> ChildProfile:
    """A change of school: the child goes to the new setting (and its Designated Teacher) now; the review after a
    change of school is due from the start date."""
    body = await parse_body(request, SettingMove)
    return await _move(request, body, "school", {"setting_id": body.setting_id})


@serves(routes, api.MOVE_PLACEMENT)
async def move_placement(request: web.Request) -> ChildProfile:
    """A change of placement, with the carer(s) of the new placement when given (null clears them)."""
    body = await parse_body(request, PlacementMove)
    proposed: dict[str, Any] = {"placement_type": body.placement_type}
    if "carer" in body.model_fields_set:
        proposed["carer"] = body.carer.model_dump() if body.carer is not None else None
    return await _move(request, body, "placement", proposed)


async def _on_organisation_changed(ctx: MessageContext, data: OrganisationChanged) -> None:
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO organisations (id, name, organisation_type, la_id, changed_at) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (id) DO UPDATE SET name = $2, organisation_type = $3, la_id = $4, changed_at = $5 "
            "WHERE organisations.changed_at <= $5",
            data.organisation_id, data.name, data.organisation_type, data.la_id, ctx.envelope.occurred_at)


def organisations_subscription() -> Subscription:
    """identity's LAs and settings (identity.organisation.changed): the settings a child may move to."""
    return subscribe("pep.organisations", OrganisationChanged, _on_organisation_changed)


# ---- siblings -------------------------------------------------------------------------------------


@serves(routes, api.LIST_SIBLINGS)
async def list_siblings(request: web.Request) -> list[Sibling]:
    """Linked siblings the caller can see themselves; the others are not shown, not even by name."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn:
        row, _ = await child_or_404(conn, claims, request.match_info["child_id"])
        rows = await store.siblings(conn, row["id"])
    return [_sibling(s) for s in rows if access_to(claims, ref_of(s))]


@serves(routes, api.LINK_SIBLING)
async def link_sibling(request: web.Request) -> list[Sibling]:
    """Link two children of the same LA as siblings. Only a link: nothing is copied from one record to the other."""
    claims, user = _user(request)
    body = await parse_body(request, SiblingLink)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, _ = await editable_child_or_404(conn, claims, request.match_info["child_id"], lock=False)
        sibling = await store.child(conn, body.sibling_id)
        # Another LA's child, or one the caller cannot change, looks the same as one that does not exist.
        if sibling is None or sibling["id"] == row["id"] or sibling["la_id"] != row["la_id"] \
                or not may_edit_core_data(claims, sibling):
            raise invalid([FieldError(field="sibling_id", message="Choose another child of the same local authority "
                                                                  "whose record you can change")])
        await store.link_siblings(conn, row["la_id"], row["id"], sibling["id"], user)
        rows = await store.siblings(conn, row["id"])
    return [_sibling(s) for s in rows if access_to(claims, ref_of(s))]


@serves(routes, api.UNLINK_SIBLING)
async def unlink_sibling(request: web.Request) -> None:
    claims, _ = _user(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, _ = await editable_child_or_404(conn, claims, request.match_info["child_id"], lock=False)
        if not await store.unlink_siblings(conn, row["id"], as_uuid(request.match_info["sibling_id"], "sibling")):
            raise not_found("sibling")


# ---- attendance -----------------------------------------------------------------------------------


def _attendance(row: asyncpg.Record) -> Attendance:
    return Attendance(id=row["id"], period_start=row["period_start"], period_end=row["period_end"],
                      possible_sessions=row["possible_sessions"], attended_sessions=row["attended_sessions"],
                      authorised_absences=row["authorised_absences"],
                      unauthorised_absences=row["unauthorised_absences"],
                      attendance_percent=core_data.attendance_percent(row["attended_sessions"],
                                                                      row["possible_sessions"]),
                      source=row["source"], recorded_at=row["recorded_at"])


@serves(routes, api.LIST_ATTENDANCE)
async def list_attendance(request: web.Request) -> AttendanceList:
    claims = request[CLAIMS]
    today = date.today()
    start, end = core_data.academic_year_of(today)
    async with request.app[POOL].acquire() as conn:
        row, _ = await child_or_404(conn, claims, request.match_info["child_id"])
        rows = await store.attendance(conn, row["id"])
        attended, possible = await store.attendance_between(conn, row["id"], start, end)
    return AttendanceList(items=[_attendance(r) for r in rows],
                          attendance_percent_this_year=core_data.attendance_percent(attended, possible),
                          academic_year=core_data.academic_year_label(today))


@serves(routes, api.RECORD_ATTENDANCE)
async def record_attendance(request: web.Request) -> Attendance:
    """Record a period's attendance: the Virtual School, the allocated social worker or the child's DT (the school
    keeps the register). Recording the same period again replaces it; a period overlapping another is refused."""
    claims, user = _user(request)
    body = await parse_body(request, AttendanceIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, access = await child_or_404(conn, claims, request.match_info["child_id"], lock=True)
        if not (may_edit_core_data(claims, row) or access.via == "designated_teacher"):
            raise Problem(403, "You cannot record this child's attendance", code="forbidden")
        errors = core_data.attendance_problems(body)
        overlap = await store.overlapping_period(conn, row["id"], body.period_start, body.period_end)
        if overlap is not None:
            errors.append(FieldError(field="period_start", message=_overlap_message(overlap)))
        if errors:
            raise invalid(errors)
        recorded = await store.record_attendance(conn, row["id"], body, "api", user)
    return _attendance(recorded)


def _overlap_message(other: asyncpg.Record) -> str:
    return (f"This period overlaps one already recorded, {other['period_start'].isoformat()} to "
            f"{other['period_end'].isoformat()}")


# ---- CSV imports ----------------------------------------------------------------------------------


def _import_refused(errors: list[RowError], columns: tuple[Column, ...]) -> Problem:
    rows = len({e.row for e in errors})
    return Problem(422, "The file has problems, so nothing was imported",
                   f"{len(errors)} {'problem' if len(errors) == 1 else 'problems'} in {rows} "
                   f"{'row' if rows == 1 else 'rows'}. Fix them and import the whole file again.",
                   code="import_invalid",
                   errors=[FieldError(field="csv", message=f"Row {e.row}, {e.field}: {e.message}")
                           for e in errors[:50]],
                   extra={"report": [e.to_dict() for e in errors], "columns": [c.to_dict() for c in columns]})


@serves(routes, api.IMPORT_CHILDREN)
async def import_children(request: web.Request) -> ImportResult:
    """Create or update the LA's children from a CSV file, matched by social_care_id. All or nothing: a file with
    any bad row imports nothing and answers with every problem, row by row."""
    claims, user = _user(request)
    body = await parse_body(request, CsvImport)
    if not _may_create_in(claims, body.la_id):
        raise invalid([FieldError(field="la_id", message="Choose a local authority where you work for the "
                                                         "Virtual School")])
    today = date.today()
    parsed = parse_children(body.csv, today)
    if parsed.errors:
        raise _import_refused(parsed.errors, CHILD_COLUMNS)
    created = updated = unchanged = 0
    async with request.app[POOL].acquire() as conn, conn.transaction():
        people = await store.users_by_email(conn, {e for r in parsed.rows for e in r.emails.values() if e})
        existing = await store.by_social_care_ids(conn, body.la_id, [r.social_care_id for r in parsed.rows],
                                                  lock=True)
        errors: list[RowError] = []
        plans: list[tuple[Any, asyncpg.Record | None, dict[str, Any], dict[str, tuple[Any, Any]]]] = []
        for r in parsed.rows:
            values = {**r.values, "social_care_id": r.social_care_id}
            for column, (field, (role, words)) in (("social_worker_email", ("social_worker_id",
                                                                             PEOPLE_ROLES["social_worker_id"])),
                                                   ("iro_email", ("iro_id", PEOPLE_ROLES["iro_id"]))):
                if column not in r.emails:
                    continue
                email = r.emails[column]
                person = people.get(email) if email else None
                if email and not _holds_role(person, body.la_id, role):
                    errors.append(RowError(r.row, column, f"Give the email of {words} with an account in this "
                                                          "local authority"))
                values[field] = person["id"] if person else None
            current = existing.get(r.social_care_id)
            if current is None:
                values.setdefault("in_care", True)
                plans.append((r, None, values, {}))
            else:
                changed = core_data.changes(dict(current), values)
                errors.extend(RowError(r.row, e.field, e.message) for e in
                              core_data.problems({**dict(current), **values}, today, set(changed)))
                plans.append((r, current, values, changed))
        if errors:
            raise _import_refused(sorted(errors, key=lambda e: e.row), CHILD_COLUMNS)
        try:
            for _, current, values, changed in plans:
                if current is None:
                    row = await store.insert_child(conn, uuid.uuid4(), body.la_id, values, user)
                    created += 1
                elif changed:
                    row = await store.update_child(conn, current, changed, user)
                    updated += 1
                else:
                    unchanged += 1
                    continue
                await store.publish_changed(conn, row, request[REQUEST_ID])
        except asyncpg.UniqueViolationError:
            raise Problem(409, "The children changed while the file was being imported", "Import the file again.",
                          code="conflict") from None
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


@serves(routes, api.IMPORT_ATTENDANCE)
async def import_attendance(request: web.Request) -> AttendanceImportResult:
    """Attendance for the LA's children from a CSV file, each row matched by social_care_id or UPN. All or nothing."""
    claims, user = _user(request)
    body = await parse_body(request, CsvImport)
    if not _may_create_in(claims, body.la_id):
        raise invalid([FieldError(field="la_id", message="Choose a local authority where you work for the "
                                                         "Virtual School")])
    parsed = parse_attendance(body.csv)
    if parsed.errors:
        raise _import_refused(parsed.errors, ATTENDANCE_COLUMNS)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        by_id = await store.by_social_care_ids(conn, body.la_id, {r.social_care_id for r in parsed.rows
                                                                  if r.social_care_id}, lock=True)
        by_upn = await store.by_upns(conn, body.la_id, {r.upn for r in parsed.rows if r.upn and not r.social_care_id})
        errors: list[RowError] = []
        periods: dict[uuid.UUID, list[tuple[date, date, int]]] = {}
        matched = []
        for r in parsed.rows:
            if r.social_care_id:
                child = by_id.get(r.social_care_id)
                field, words = "social_care_id", "social care id"
            else:
                found = by_upn.get(r.upn, [])
                child = found[0] if len(found) == 1 else None
                field, words = "upn", "UPN"
            if child is None:
                errors.append(RowError(r.row, field, f"No child in this local authority has this {words}"
                                       if field == "social_care_id" or not by_upn.get(r.upn) else
                                       f"More than one child in this local authority has this {words}"))
                continue
            start, end = r.record.period_start, r.record.period_end
            for other_start, other_end, other_row in periods.get(child["id"], []):
                if other_start <= end and other_end >= start:
                    errors.append(RowError(r.row, "period_start", f"This period overlaps row {other_row} for the same "
                                                                  "child"))
            periods.setdefault(child["id"], []).append((start, end, r.row))
            overlap = await store.overlapping_period(conn, child["id"], start, end)
            if overlap is not None:
                errors.append(RowError(r.row, "period_start", _overlap_message(overlap)))
            matched.append((child, r))
        if errors:
            raise _import_refused(sorted(errors, key=lambda e: e.row), ATTENDANCE_COLUMNS)
        for child, r in matched:
            await store.record_attendance(conn, child["id"], r.record, "csv", user)
    return AttendanceImportResult(recorded=len(matched))
