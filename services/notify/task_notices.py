"""Which emails delegation's task events become, and to whom.

- A task assigned: for a setting, its Designated Teachers and the staff their DT lets see the child; for a
  person (the social worker's finalise task), that person; for a role (the approvers' approve_funding task),
  everyone holding it at the LA. The email links to the task (`/tasks/<id>`),
  which opens after signing in; the link carries no token, so a mail scanner following it uses nothing up.
- Retracted or re-dated: the same people, with the reason or the new date.
- Due soon, due today, overdue: the same people. Escalated: the LA's Virtual School caseworkers, and whoever
  delegated it.
Never the person who did it. Subjects name the child by first name and family-name initial only.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.notify import digest, directory
from services.notify.directory import Child, Person
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from services.notify.wording import day_in_words
from shared.bus import MessageContext
from shared.contracts import Organisation, TaskChanged, TaskReminder

KIND_WORDS = {"complete_sections": "complete sections of", "amend": "amend", "finalise": "sign off",
              "approve_funding": "decide the PP+ funding asked for in",
              "second_review": "make the second quality assurance review of"}
CHANGE_TEMPLATES = {"assign": "task_assigned", "retract": "task_retracted", "reschedule": "task_rescheduled"}
REMINDER_TEMPLATES = {"due_soon": "task_due_soon", "due_today": "task_due_today", "overdue": "task_overdue",
                      "escalated": "task_escalated"}


async def setting_people(pool: asyncpg.Pool, setting_id: uuid.UUID | None, child_id: uuid.UUID) -> list[Person]:
    """The setting's DTs, and its staff whose DT lets them see this child."""
    if setting_id is None:
        return []
    rows = await pool.fetch(
        "SELECT id, email, given_name, family_name FROM users u WHERE NOT disabled AND EXISTS ("
        "SELECT 1 FROM jsonb_array_elements(u.memberships) m WHERE m->>'organisation_id' = $1 AND ("
        "m->>'role' = 'designated_teacher' OR (m->>'role' = 'setting_staff' AND (m->'children' IS NULL OR "
        "jsonb_typeof(m->'children') = 'null' OR m->'children' ? $2)))) ORDER BY email",
        str(setting_id), str(child_id))
    return [Person(r["id"], r["email"], r["given_name"], r["family_name"]) for r in rows]


async def _doers(pool: asyncpg.Pool, data: TaskChanged | TaskReminder) -> list[Person]:
    if data.assignee_user_id is not None:
        return [p for p in [await directory.person(pool, data.assignee_user_id)] if p is not None]
    if data.assignee_role is not None:  # a task for a role at the LA (approve_funding: its approvers)
        return await directory.people_with_role(pool, data.la_id, data.assignee_role)
    return await setting_people(pool, data.setting_id, data.child_id)


def _unique(people: list[Person], actor: uuid.UUID | None) -> list[Person]:
    seen: dict[str, Person] = {}
    for p in people:
        if actor is None or p.user_id != actor:
            seen.setdefault(p.email.casefold(), p)
    return list(seen.values())


def _values(p: Person, child: Child, data: TaskChanged | TaskReminder, settings: NotifySettings,
            **more: Any) -> dict[str, Any]:
    return {"given_name": p.given_name, "child": child.short_name, "child_name": child.full_name,
            "what": KIND_WORDS.get(data.kind, "work on"),
            # A PP+ request for a target raised between PEPs has no PEP to name.
            "plan": "a target set between PEPs" if data.pep_id is None else "the Personal Education Plan (PEP)",
            "due": day_in_words(data.due_date) if data.due_date else "", "sections": len(getattr(data, "sections", [])),
            "link": f"{settings.portal_url.rstrip('/')}/tasks/{data.task_id}", **more}


def change_emails(data: TaskChanged, *, child: Child, recipients: list[Person], reason: str,
                  virtual_school: Organisation | None, settings: NotifySettings) -> list[Email]:
    template = CHANGE_TEMPLATES.get(data.action)
    if template is None:
        return []
    return [Email(template, p.email, _values(p, child, data, settings, reason=reason), virtual_school=virtual_school)
            for p in recipients]


def reminder_emails(data: TaskReminder, *, child: Child, recipients: list[Person],
                    virtual_school: Organisation | None, settings: NotifySettings) -> list[Email]:
    template = REMINDER_TEMPLATES[data.rule]
    return [Email(template, p.email, _values(p, child, data, settings), virtual_school=virtual_school)
            for p in recipients]


# ---- composing from notify's read models -------------------------------------------------------------------


async def task_changed(ctx: MessageContext, data: TaskChanged, settings: NotifySettings) -> list[Email]:
    if data.action not in CHANGE_TEMPLATES:
        return []  # submitted, completed, cancelled: the PEP's own emails say so
    pool = ctx.pool
    child = await directory.child(pool, data.child_id)
    return change_emails(data, child=child, recipients=_unique(await _doers(pool, data), data.by_user),
                         reason=(data.reason or "").strip(),
                         virtual_school=await directory.virtual_school(pool, data.la_id), settings=settings)


async def task_reminder(ctx: MessageContext, data: TaskReminder, settings: NotifySettings) -> list[Email]:
    pool = ctx.pool
    child = await directory.child(pool, data.child_id)
    if data.rule == "escalated":
        people = await directory.people_with_role(pool, data.la_id, "vs_caseworker")
        people += [p for p in [await directory.person(pool, data.originator_id)] if p is not None]
    else:
        people = await _doers(pool, data)
    recipients = _unique(people, None)
    outgoing = reminder_emails(data, child=child, recipients=recipients,
                               virtual_school=await directory.virtual_school(pool, data.la_id), settings=settings)
    return await digest.hold_for_digest(ctx, recipients, outgoing, data.la_id)
