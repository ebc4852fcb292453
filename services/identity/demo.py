from __future__ import annotations

from services.identity import accounts
from services.identity.domain.passwords import hash_password
from shared import db, demo
from shared.settings import ServiceSettings


async def seed(settings: ServiceSettings) -> None:
    conn = await db.connect(settings, "identity")
    try:
        password_hash = await hash_password(demo.DEMO_PASSWORD)
        async with conn.transaction():
            await accounts.create_organisation(conn, demo.LA["id"], demo.LA["name"], "local_authority")
            for school in demo.SCHOOLS:
                await accounts.create_organisation(conn, school["id"], school["name"], "setting", demo.LA["id"])
            for key, email, given, family, memberships in demo.ACCOUNTS:
                await accounts.create_user(conn, demo.account_id(key), email, given, family, password_hash,
                                           memberships)
    finally:
        await conn.close()
