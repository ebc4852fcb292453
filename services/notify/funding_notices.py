"""Which emails a PP+ funding decision (qa.funding.decided) becomes, and to whom.

The people who asked for it and work with the child: the Designated Teachers of the child's setting and the
child's social worker. Never carers (a funding decision is the school's and the LA's business), and nobody
outside the child's circle. Approved says how much (in pounds); refused says why; more information says what
is needed. Each links to the PEP, which opens after signing in. The body names the child in full.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from services.notify import directory
from services.notify.directory import Child, Person
from services.notify.emails import Email
from services.notify.settings import NotifySettings
from shared.bus import MessageContext
from shared.contracts import FundingDecided, Organisation

DECISION_TEMPLATES = {"approved": "funding_approved", "refused": "funding_refused",
                      "more_information": "funding_more_information"}


def pounds(amount: str | None) -> str:
    """"£1,250.00", or "" when there is no amount (a refusal, or an event without one)."""
    try:
        return f"£{Decimal(amount):,.2f}" if amount else ""
    except InvalidOperation:
        return ""


def funding_recipients(*, social_worker: Person | None, designated_teachers: list[Person]) -> list[Person]:
    """The setting's Designated Teachers and the child's social worker, each address once."""
    seen: dict[str, Person] = {}
    for p in [*designated_teachers, *([social_worker] if social_worker else [])]:
        seen.setdefault(p.email.casefold(), p)
    return list(seen.values())


def funding_emails(data: FundingDecided, *, child: Child, recipients: list[Person],
                   virtual_school: Organisation | None, settings: NotifySettings) -> list[Email]:
    template = DECISION_TEMPLATES.get(data.decision)
    if template is None:
        return []
    # The subject names the child as subjects do (first name, initial: it shows on lock screens and in the
    # delivery log); the body, read by someone who works with the child, names them in full.
    values = {"child": child.short_name, "child_name": child.full_name, "target": data.target,
              "academic_year": data.academic_year,
              "amount": pounds(data.amount) if data.decision == "approved" else "",
              "reason": (data.reason or "").strip(),
              # A target raised between PEPs has no PEP: its link is the child's targets between PEPs.
              "link": f"{settings.portal_url.rstrip('/')}/peps/{data.pep_id}" if data.pep_id is not None
              else f"{settings.portal_url.rstrip('/')}/children/{data.child_id}/action-plan"}
    return [Email(template, p.email, {"given_name": p.given_name, **values}, virtual_school=virtual_school)
            for p in recipients]


async def funding_decided(ctx: MessageContext, data: FundingDecided, settings: NotifySettings) -> list[Email]:
    pool = ctx.pool
    child = await directory.child(pool, data.child_id)
    recipients = funding_recipients(
        social_worker=await directory.person(pool, child.social_worker_id),
        designated_teachers=await directory.people_with_role(pool, child.setting_id, "designated_teacher"))
    return funding_emails(data, child=child, recipients=recipients,
                          virtual_school=await directory.virtual_school(pool, data.la_id), settings=settings)
