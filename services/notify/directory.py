"""Who to write to about a child's PEP, from notify's own read models (never another service's schema).

- `users`: identity's people with their memberships (the shared read model), for the setting's Designated
  Teachers, the child's social worker and the LA's Virtual School staff;
- `children`: pep's children (pep.child.changed), for the name in a subject and who the social worker is;
- `organisations`: identity's LAs and settings (identity.organisation.changed), for the Virtual School's
  name and contact details in every email.

Identity's own emails (codes, security notices) name no LA: `account_virtual_school` finds the Virtual
School of the account an address belongs to, from the same two read models.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import Organisation, OrganisationChanged
from shared.readmodels import ChildrenReadModel

CHILDREN = ChildrenReadModel("notify")


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID | None
    email: str
    given_name: str
    family_name: str = ""


@dataclass(frozen=True)
class Child:
    given_name: str
    family_name: str
    la_id: uuid.UUID
    setting_id: uuid.UUID | None
    social_worker_id: uuid.UUID | None

    @property
    def full_name(self) -> str:
        """First name and family name, for the body of an email to someone who works with the child."""
        return f"{self.given_name.strip()} {self.family_name.strip()}".strip()

    @property
    def short_name(self) -> str:
        """First name and family-name initial: all a subject line may say about a child."""
        initial = self.family_name.strip()[:1].upper()
        return f"{self.given_name.strip()} {initial}." if initial else self.given_name.strip()


class ChildNotKnownYet(Exception):
    """A PEP event arrived before the child's own event: retried (the bus's delays) until it has."""


# ---- keeping the read models --------------------------------------------------------------------------------


async def _on_organisation_changed(ctx: MessageContext, data: OrganisationChanged) -> None:
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO organisations (id, name, organisation_type, la_id, contact_email, contact_phone, changed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET name = $2, organisation_type = $3, "
            "la_id = $4, contact_email = $5, contact_phone = $6, changed_at = $7 "
            "WHERE organisations.changed_at <= $7",
            data.organisation_id, data.name, data.organisation_type, data.la_id, data.contact_email,
            data.contact_phone, ctx.envelope.occurred_at)


def subscriptions() -> list[Subscription]:
    return [CHILDREN.subscription(), subscribe("notify.organisations", OrganisationChanged, _on_organisation_changed)]


# ---- reading them ----------------------------------------------------------------------------------------------


async def child(pool: asyncpg.Pool, child_id: uuid.UUID) -> Child:
    row = await pool.fetchrow("SELECT * FROM children WHERE id = $1", child_id)
    if row is None:
        raise ChildNotKnownYet(str(child_id))
    return Child(row["given_name"], row["family_name"], row["la_id"], row["setting_id"], row["social_worker_id"])


async def virtual_school(pool: asyncpg.Pool, la_id: uuid.UUID) -> Organisation | None:
    row = await pool.fetchrow("SELECT name, contact_email, contact_phone FROM organisations WHERE id = $1", la_id)
    return Organisation(name=row["name"], contact_email=row["contact_email"], contact_phone=row["contact_phone"]) \
        if row else None


async def account_virtual_school(pool: asyncpg.Pool, email: str,
                                 user_id: uuid.UUID | None = None) -> Organisation | None:
    """The Virtual School of the account this address (any letter case) or user id belongs to: the LA of an LA
    membership, or the LA its setting belongs to. Someone in several LAs gets the first by name; an address with
    no account, or an account whose organisations notify has not heard of yet, gets None."""
    row = await pool.fetchrow(
        "SELECT la.name, la.contact_email, la.contact_phone FROM users u "
        "CROSS JOIN LATERAL jsonb_array_elements(u.memberships) m "
        "JOIN organisations o ON o.id::text = m->>'organisation_id' "
        "JOIN organisations la ON la.id = CASE WHEN o.organisation_type = 'local_authority' THEN o.id "
        "ELSE o.la_id END "
        "WHERE lower(u.email) = lower($1) OR u.id = $2 "
        "ORDER BY (u.id = $2) IS TRUE DESC, la.name, la.id LIMIT 1", email, user_id)
    return Organisation(name=row["name"], contact_email=row["contact_email"], contact_phone=row["contact_phone"]) \
        if row else None


async def person(pool: asyncpg.Pool, user_id: uuid.UUID | None) -> Person | None:
    if user_id is None:
        return None
    row = await pool.fetchrow("SELECT id, email, given_name, family_name FROM users WHERE id = $1 AND NOT disabled",
                              user_id)
    return _person(row) if row else None


async def people_with_role(pool: asyncpg.Pool, organisation_id: uuid.UUID | None, *roles: str) -> list[Person]:
    """Active accounts holding one of these roles at this organisation (a setting's DTs, an LA's VS staff)."""
    if organisation_id is None:
        return []
    rows = await pool.fetch(
        "SELECT id, email, given_name, family_name FROM users u WHERE NOT disabled AND EXISTS ("
        "SELECT 1 FROM jsonb_array_elements(u.memberships) m "
        "WHERE m->>'organisation_id' = $1 AND m->>'role' = ANY($2::text[])) ORDER BY email",
        str(organisation_id), list(roles))
    return [_person(r) for r in rows]


def _person(row: asyncpg.Record) -> Person:
    return Person(row["id"], row["email"], row["given_name"], row["family_name"])
