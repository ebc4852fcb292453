"""SQL for PEP documents, their sections, history and templates (pep's own schema only)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.pep.template_library import default_for_phase
from services.pep.views_store import GIVEN_JSON
from shared.api.templates import Phase, Template


def phase_for(year_group: str | None) -> Phase:
    """Which template a child's year group calls for: Early Years, Statutory School Age or Post-16."""
    group = (year_group or "").strip().lower()
    if group in ("nursery", "early years", "pre-school", "preschool"):
        return "early_years"
    if group.startswith("year "):
        try:
            return "post_16" if int(group.split()[1]) >= 12 else "school_age"
        except ValueError:
            pass
    return "school_age"


async def template_for(conn: asyncpg.Connection, la_id: uuid.UUID, phase: Phase) -> tuple[uuid.UUID, Template]:
    """The LA's own latest template for this phase, else the national default (stored on first use)."""
    row = await conn.fetchrow(
        "SELECT id, la_id, body FROM templates WHERE phase = $1 AND (la_id = $2 OR la_id IS NULL) "
        "ORDER BY la_id IS NULL, version DESC LIMIT 1", phase, la_id)
    default = default_for_phase(phase)
    stale_default = row is not None and row["la_id"] is None and row["body"]["version"] < default.version
    if row is None or stale_default:
        template_id = await conn.fetchval(
            "INSERT INTO templates (id, key, version, la_id, phase, body) VALUES ($1, $2, $3, NULL, $4, $5) "
            "ON CONFLICT DO NOTHING RETURNING id", uuid.uuid4(), default.key, default.version, phase,
            default.model_dump(mode="json"))
        if template_id is None:  # another request stored it first
            template_id = await conn.fetchval("SELECT id FROM templates WHERE key = $1 AND version = $2 "
                                              "AND la_id IS NULL", default.key, default.version)
        return template_id, default
    return row["id"], Template.model_validate(row["body"])


# A stored template version never changes (an edit is stored as the next version), so each process keeps the
# versions it has parsed: validating the body again was 40% of pep's CPU on every section read and save
# (docs/performance.md). Bounded, for an LA that edits its templates every day for years.
_parsed: dict[uuid.UUID, Template] = {}


async def template_by_id(conn: asyncpg.Connection, template_id: uuid.UUID) -> Template:
    template = _parsed.get(template_id)
    if template is None:
        template = Template.model_validate(await conn.fetchval("SELECT body FROM templates WHERE id = $1",
                                                               template_id))
        if len(_parsed) < 1000:
            _parsed[template_id] = template
    return template


async def pep(conn: asyncpg.Connection, pep_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM peps WHERE id = $1" + (" FOR UPDATE" if lock else ""), pep_id)


async def sections(conn: asyncpg.Connection, pep_id: uuid.UUID) -> dict[str, asyncpg.Record]:
    # A save by an invited young person or carer names them: "Alex (by invitation)".
    rows = await conn.fetch("SELECT s.*, coalesce(u.given_name || ' ' || u.family_name, "
                            "v.given_name || ' (by invitation)') AS updated_by_name FROM pep_sections s "
                            "LEFT JOIN users u ON u.id = s.updated_by LEFT JOIN views_invitations v "
                            "ON v.id = s.updated_by WHERE s.pep_id = $1", pep_id)
    return {r["section_key"]: r for r in rows}


async def previous_answers(conn: asyncpg.Connection, child_id: uuid.UUID) -> tuple[uuid.UUID | None,
                                                                                     dict[str, dict[str, Any]]]:
    """This child's last finalised PEP's answers (or their last PEP's, if none was finalised)."""
    last = await conn.fetchval(
        "SELECT id FROM peps WHERE child_id = $1 AND status <> 'cancelled' "
        "ORDER BY (status = 'finalised') DESC, created_at DESC LIMIT 1", child_id)
    if last is None:
        return None, {}
    rows = await conn.fetch("SELECT section_key, answers FROM pep_sections WHERE pep_id = $1", last)
    return last, {r["section_key"]: r["answers"] for r in rows}


# A professional's save ($1 PEP, $2 section, $3 the answers sent, $4 the version they started from, $5 who, $6 the
# questions sent): merged in only if nobody saved since; a question answered is no longer waiting to be checked.
_SAVE = ("UPDATE pep_sections SET answers = answers || $3::jsonb, version = version + 1, updated_by = $5, "
         "updated_at = now(), status = CASE WHEN status = 'complete' THEN 'in_progress' "
         "WHEN status = 'not_started' THEN 'in_progress' ELSE status END, "
         "to_check = array(SELECT k FROM unnest(to_check) k WHERE split_part(k, '.', 1) <> ALL($6::text[])) "
         "WHERE pep_id = $1 AND section_key = $2 AND version = $4 RETURNING *")
_HISTORY = "INSERT INTO section_history (pep_id, section_key, version, changed, answers, saved_by) "


async def save_section(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str, changes: dict[str, Any],
                       expected_version: int, user_id: uuid.UUID) -> asyncpg.Record | None:
    """Merge these answers in, if nobody saved since `expected_version`; None if somebody did."""
    row = await conn.fetchrow(_SAVE, pep_id, key, changes, expected_version, user_id, list(changes))
    if row is not None:
        await conn.execute(_HISTORY + "VALUES ($1, $2, $3, $4, $5, $6)", pep_id, key, row["version"],
                           sorted(changes), row["answers"], user_id)
    return row


# ---- one round trip (issue 19) ----------------------------------------------------------------------------------

_NAME = ("coalesce(u.given_name || ' ' || u.family_name, v.given_name || ' (by invitation)')")


# What decides how a caller reaches a PEP's child (domain.access.access_to: the child's LA, setting, social worker,
# IRO and carers), fingerprinted, so a read can write its access-log row in the statement that gathers its data when
# the process already knows how this caller reaches the child and the child's facts have not changed since.
_REACH = "md5(row(p.child_id, c.la_id, c.setting_id, c.social_worker_id, c.iro_id, c.carer_ids)::text)"


async def gathered(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str | None = None, *,
                   decisions: bool = False, given: bool = False,
                   log: tuple[Any, ...] = (None,) * 7) -> asyncpg.Record | None:
    """Everything a read or save of a PEP decides on, in one statement: the PEP (`pep`), its child (`child`, None
    if the child is gone), its sections (`sections`, only `key`'s when given) with who last saved each
    (`names`), the sections delegated now (`delegated`), the parts in (`parts`, pep_contributions rows), the
    fingerprint of these facts a save's write checks (`facts`: pep_facts), with `decisions` the funding decisions
    and with `given` the views given by invitation in `key` (views_store.GIVEN). The template's body only when
    this process has not parsed it yet (`template`). Rows come as JSON objects (asyncpg cannot decode a row type
    holding jsonb): ids and times as text, which the answer's models read back.
    `log` (reach: the `reach` fingerprint the caller's access was decided on, via, user, method, endpoint, request
    id, address) writes the request's access-log row too, if the child's facts are still those (`logged`)."""
    return await conn.fetchrow(
        "WITH logged AS (INSERT INTO access_log (user_id, via, la_id, child_id, pep_id, method, endpoint, "
        "section_key, request_id, address) SELECT $8, $7, c.la_id, c.id, p.id, $9, $10, $2, $11, $12 FROM peps p "
        f"JOIN children c ON c.id = p.child_id WHERE p.id = $1 AND $7::text IS NOT NULL AND {_REACH} = $6 "
        "RETURNING 1) "
        f"SELECT {_REACH} AS reach, EXISTS (SELECT 1 FROM logged) AS logged, "
        "to_jsonb(p) AS pep, to_jsonb(c) AS child, pep_facts(p.id) AS facts, "
        "(SELECT coalesce(jsonb_agg(s), '[]') FROM pep_sections s WHERE s.pep_id = p.id "
        "AND ($2::text IS NULL OR s.section_key = $2)) AS sections, "
        f"(SELECT jsonb_object_agg(s.section_key, {_NAME}) FROM pep_sections s LEFT JOIN users u "
        "ON u.id = s.updated_by LEFT JOIN views_invitations v ON v.id = s.updated_by WHERE s.pep_id = p.id "
        "AND ($2::text IS NULL OR s.section_key = $2)) AS names, "
        "array(SELECT DISTINCT k FROM delegated_sections d, unnest(d.sections) k WHERE d.pep_id = p.id AND d.open) "
        "AS delegated, "
        "(SELECT coalesce(jsonb_agg(r), '[]') FROM pep_contributions r WHERE r.pep_id = p.id) AS parts, "
        "CASE WHEN $3 THEN (SELECT coalesce(jsonb_agg(f), '[]') FROM funding_decisions f WHERE f.pep_id = p.id) "
        "END AS decisions, "
        f"CASE WHEN $4 THEN ({GIVEN_JSON}) END AS given, "
        "CASE WHEN p.template_id <> ALL($5::uuid[]) THEN (SELECT body FROM templates WHERE id = p.template_id) END "
        "AS template "
        "FROM peps p LEFT JOIN children c ON c.id = p.child_id WHERE p.id = $1",
        pep_id, key, decisions, given, list(_parsed), *log)


def parsed(template_id: uuid.UUID) -> Template | None:
    """The template, if this process has parsed it already."""
    return _parsed.get(template_id)


def template_of(found: asyncpg.Record) -> Template:
    """The PEP's template, from `gathered`: parsed once per process, as `template_by_id`."""
    template_id = uuid.UUID(found["pep"]["template_id"])
    template = _parsed.get(template_id)
    if template is None:
        template = Template.model_validate(found["template"])
        if len(_parsed) < 1000:
            _parsed[template_id] = template
    return template


def sections_of(found: asyncpg.Record) -> dict[str, dict[str, Any]]:
    """The sections `gathered` found, by key, each with who last saved it (`updated_by_name`), as `sections`."""
    names = found["names"] or {}
    return {s["section_key"]: {**s, "updated_by_name": names.get(s["section_key"])} for s in found["sections"]}


async def save_checked(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str, changes: dict[str, Any],
                       expected_version: int, user_id: uuid.UUID, facts: str,
                       logged: tuple[Any, ...]) -> asyncpg.Record:
    """A save in one statement, atomic without BEGIN and COMMIT: with the PEP locked, if the facts the caller
    decided on still hold (`facts` from `gathered`) and nobody saved since `expected_version`, the answers merged
    in, the history row, the PEP changed now (in progress once anything is written) and the access-log row
    (`logged`: user, via, LA, child, method, endpoint, request id, address). Answers `held` (the facts held),
    `saved` (the section after, None on a version conflict), `pep` (the PEP after) and `saved_by_name`. (Postgres
    runs every data-modifying part of a WITH whether the SELECT reads it or not.)"""
    return await conn.fetchrow(
        "WITH locked AS (SELECT id FROM peps WHERE id = $1 FOR UPDATE), "
        "held AS (SELECT id FROM locked WHERE pep_facts(id) = $7), "
        f"saved AS ({_SAVE.replace('AND version = $4', 'AND version = $4 AND EXISTS (SELECT 1 FROM held)')}), "
        f"history AS ({_HISTORY}SELECT $1, $2, version, $8::text[], answers, $5 FROM saved RETURNING 1), "
        "touched AS (UPDATE peps SET status = CASE WHEN status = 'created' THEN 'in_progress' ELSE status END, "
        "updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM saved) RETURNING *), "
        "logged AS (INSERT INTO access_log (user_id, via, la_id, child_id, pep_id, method, endpoint, section_key, "
        "request_id, address) SELECT $5, $9, $10, $11, $1, $12, $13, $2, $14, $15 FROM saved RETURNING 1) "
        "SELECT EXISTS (SELECT 1 FROM held) AS held, (SELECT to_jsonb(s) FROM saved s) AS saved, "
        "(SELECT to_jsonb(t) FROM touched t) AS pep, "
        "(SELECT given_name || ' ' || family_name FROM users WHERE id = $5) AS saved_by_name",
        pep_id, key, changes, expected_version, user_id, list(changes), facts, sorted(changes), *logged)


async def save_section_as(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str, changes: dict[str, Any],
                          invitation_id: uuid.UUID) -> asyncpg.Record:
    """Merge in answers given by an invited young person or carer: no version to match (they only ever write
    their own questions, and a phone that slept must not lose them); the save is in the history as theirs.
    What they answered is no longer a carried answer waiting to be checked: they have just given it."""
    row = await conn.fetchrow(
        "UPDATE pep_sections SET answers = answers || $3::jsonb, version = version + 1, updated_by = $4, "
        "updated_at = now(), status = CASE WHEN status IN ('complete', 'not_started') THEN 'in_progress' "
        "ELSE status END, "
        "to_check = array(SELECT k FROM unnest(to_check) k WHERE split_part(k, '.', 1) <> ALL($5::text[])) "
        "WHERE pep_id = $1 AND section_key = $2 RETURNING *", pep_id, key, changes, invitation_id, list(changes))
    await conn.execute(
        "INSERT INTO section_history (pep_id, section_key, version, changed, answers, saved_by) "
        "VALUES ($1, $2, $3, $4, $5, $6)", pep_id, key, row["version"], sorted(changes), row["answers"],
        invitation_id)
    return row


async def history(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT h.version, h.changed, h.saved_at, h.saved_by, coalesce(u.given_name || ' ' || u.family_name, "
        "v.given_name || ' (by invitation)') AS saved_by_name FROM section_history h "
        "LEFT JOIN users u ON u.id = h.saved_by LEFT JOIN views_invitations v ON v.id = h.saved_by "
        "WHERE h.pep_id = $1 AND h.section_key = $2 ORDER BY h.version DESC", pep_id, key)


async def answers_at(conn: asyncpg.Connection, pep_id: uuid.UUID, key: str, version: int) -> dict[str, Any] | None:
    """The section as it stood after save `version` (0: as the PEP started)."""
    return await conn.fetchval("SELECT answers FROM section_history WHERE pep_id = $1 AND section_key = $2 "
                               "AND version = $3", pep_id, key, version)


async def pep_dates(conn: asyncpg.Connection, child_id: uuid.UUID, today: date) -> tuple[date | None, date | None]:
    """(last PEP meeting held, next PEP due) for a child's profile and the caseload trackers."""
    last = await conn.fetchval("SELECT max(meeting_date) FROM peps WHERE child_id = $1 AND status <> 'cancelled' "
                               "AND meeting_date <= $2", child_id, today)
    upcoming = await conn.fetchval("SELECT meeting_date FROM peps WHERE child_id = $1 AND status NOT IN "
                                   "('finalised', 'cancelled') AND meeting_date > $2", child_id, today)
    if upcoming is not None:
        return last, upcoming
    planned = await conn.fetchval(
        "SELECT s.answers->>'next_meeting_date' FROM peps p JOIN pep_sections s ON s.pep_id = p.id "
        "AND s.section_key = 'meeting' WHERE p.child_id = $1 AND p.status <> 'cancelled' "
        "ORDER BY p.created_at DESC LIMIT 1", child_id)
    try:
        return last, date.fromisoformat(planned) if planned else None
    except ValueError:
        return last, None
