"""Read models several services keep from identity's events, one way for all of them."""

from __future__ import annotations

from aiohttp import web

from shared.bus import MessageContext, Subscription
from shared.contracts import UserChanged, parse_data


async def _on_user_changed(ctx: MessageContext) -> None:
    data = parse_data(ctx.envelope)
    assert isinstance(data, UserChanged)
    async with ctx.effect() as conn:
        # Out-of-order delivery: an older event never overwrites a newer one.
        await conn.execute(
            "INSERT INTO users (id, email, given_name, family_name, memberships, disabled, changed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET email = $2, given_name = $3, "
            "family_name = $4, memberships = $5, disabled = $6, changed_at = $7 WHERE users.changed_at <= $7",
            data.user_id, data.email, data.given_name, data.family_name, data.memberships, data.disabled,
            ctx.envelope.occurred_at)


def users_subscription(service: str) -> Subscription:
    return Subscription(name=f"{service}.users", routing_keys=["identity.user.changed.v1"], handler=_on_user_changed)


def users_only(service: str):  # type: ignore[no-untyped-def]
    def subscriptions(app: web.Application) -> list[Subscription]:
        return [users_subscription(service)]
    return subscriptions
