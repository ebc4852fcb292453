"""Which emails delegation's PEP clock prompts (delegation.clock.prompt) become, and to whom.

- Due soon and overdue: the people responsible for the child, their allocated social worker and the Designated
  Teachers of their setting; for the QA clock (the Virtual School's own review of a submitted PEP), the LA's
  Virtual School caseworkers instead.
- Escalated (overdue for the LA's escalation period): the LA's Virtual School, its caseworkers and admins.
Each email says what is due, by when, the rule that set the date, and links to the child's page (which opens
after signing in; the link carries no token). Subjects name the child by first name and family-name initial
only. Delegation sends each prompt once; notify's delivery rows make each email go once per recipient. Someone
who chose reminders once a day gets prompts in their daily digest instead.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.notify import digest, directory
from services.notify.directory import Child, Person
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from services.notify.wording import day_in_words
from shared.bus import MessageContext
from shared.contracts import Organisation, PepClockPrompt

TEMPLATES = {"due_soon": "clock_due_soon", "overdue": "clock_overdue", "escalated": "clock_escalated"}
VIRTUAL_SCHOOL_CLOCKS = frozenset({"qa_review"})  # the Virtual School's own deadline: it alone is prompted
ESCALATED_TO = ("vs_caseworker", "vs_admin")


def _unique(people: list[Person]) -> list[Person]:
    seen: dict[str, Person] = {}
    for p in people:
        seen.setdefault(p.email.casefold(), p)
    return list(seen.values())


async def recipients(pool: asyncpg.Pool, data: PepClockPrompt) -> list[Person]:
    if data.stage == "escalated":
        return _unique(await directory.people_with_role(pool, data.la_id, *ESCALATED_TO))
    if data.clock in VIRTUAL_SCHOOL_CLOCKS:
        return _unique(await directory.people_with_role(pool, data.la_id, "vs_caseworker"))
    people = [p for p in [await directory.person(pool, data.social_worker_id)] if p is not None]
    people += await directory.people_with_role(pool, data.setting_id, "designated_teacher")
    return _unique(people)


def prompt_emails(data: PepClockPrompt, *, child: Child, recipients: list[Person],
                  virtual_school: Organisation | None, settings: NotifySettings) -> list[Email]:
    template = TEMPLATES.get(data.stage)
    if template is None:
        return []  # a stage this version does not know (contracts grow additively): nothing to say yet
    link = f"{settings.portal_url.rstrip('/')}/children/{data.child_id}"

    def values(p: Person) -> dict[str, Any]:
        return {"given_name": p.given_name, "child": child.short_name, "child_name": child.full_name,
                "label": data.label, "due": day_in_words(data.due), "explanation": data.explanation,
                "escalation": data.escalation or "", "vs_clock": data.clock in VIRTUAL_SCHOOL_CLOCKS,
                "link": link}

    return [Email(template, p.email, values(p), virtual_school=virtual_school) for p in recipients]


async def clock_prompt(ctx: MessageContext, data: PepClockPrompt, settings: NotifySettings) -> list[Email]:
    pool = ctx.pool
    # directory.ChildNotKnownYet propagates: retried until the child's own event has arrived.
    child = await directory.child(pool, data.child_id)
    people = await recipients(pool, data)
    outgoing = prompt_emails(data, child=child, recipients=people,
                             virtual_school=await directory.virtual_school(pool, data.la_id), settings=settings)
    # Like task reminders: someone who chose one email a day gets their prompts in it.
    return await digest.hold_for_digest(ctx, people, outgoing, data.la_id)
