"""Read models several services keep from others' events, one way for all of them: identity's users, and
pep's children. Each service keeps its own copy in its own schema (its connection's search path), never
reading another's."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from aiohttp import web

from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import ChildChanged, UserChanged

# ---- identity's users -----------------------------------------------------------------------------------------


async def _on_user_changed(ctx: MessageContext, user: UserChanged) -> None:
    async with ctx.effect() as conn:
        # Out-of-order delivery: an older event never overwrites a newer one.
        await conn.execute(
            "INSERT INTO users (id, email, given_name, family_name, memberships, disabled, changed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET email = $2, given_name = $3, "
            "family_name = $4, memberships = $5, disabled = $6, changed_at = $7 WHERE users.changed_at <= $7",
            user.user_id, user.email, user.given_name, user.family_name, user.memberships, user.disabled,
            ctx.envelope.occurred_at)


def users_subscription(service: str) -> Subscription:
    return subscribe(f"{service}.users", UserChanged, _on_user_changed)


def users_only(service: str):  # type: ignore[no-untyped-def]
    def subscriptions(app: web.Application) -> list[Subscription]:
        return [users_subscription(service)]
    return subscriptions


# ---- pep's children ---------------------------------------------------------------------------------------------


class ChildrenReadModel:
    """pep's children as one service keeps them (pep.child.changed), in the `children` table of its own schema:
    who the child is, their LA, current setting and social worker, and the further fields of the event that
    service needs (`extra`: delegation keeps `in_care`, qa `year_group`), each in a column of the same name.
    `version` rises with every change to the child, so an older event arriving late never overwrites a newer:

        CHILDREN = ChildrenReadModel("qa", extra=("year_group",))
        CHILDREN.subscription()          # the consumer qa.children
        await CHILDREN.apply(conn, event)  # the same, inside a transaction of the caller's
    """

    KEPT = ("la_id", "setting_id", "social_worker_id", "given_name", "family_name")

    def __init__(self, service: str, *, extra: Sequence[str] = ()) -> None:
        unknown = [name for name in extra if name not in ChildChanged.model_fields or name in self.KEPT]
        if unknown:
            raise ValueError(f"not further fields of ChildChanged: {', '.join(unknown)}")
        self.service = service
        self.fields = ("child_id", "version", *self.KEPT, *extra)
        columns = ["id", "version", *self.KEPT, *extra]
        updates = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=1) if c != "id")
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        # Every name here is one of ChildChanged's fields (checked above), never anything an event carries.
        self._upsert = (f"INSERT INTO children ({', '.join(columns)}) VALUES ({placeholders}) "
                        f"ON CONFLICT (id) DO UPDATE SET {updates} WHERE children.version < $2")

    async def apply(self, conn: asyncpg.Connection, child: ChildChanged) -> None:
        """Keep what the event says, unless a newer version of the child is kept already."""
        await conn.execute(self._upsert, *(getattr(child, name) for name in self.fields))

    async def _on_changed(self, ctx: MessageContext, child: ChildChanged) -> None:
        async with ctx.effect() as conn:
            await self.apply(conn, child)

    def subscription(self) -> Subscription:
        """The service's consumer `<service>.children` (the queue name each service has always had)."""
        return subscribe(f"{self.service}.children", ChildChanged, self._on_changed)
