from __future__ import annotations

from services.identity import accounts
from services.identity.domain.passwords import hash_password
from services.identity.membership import nominate
from shared import db, demo
from shared.settings import ServiceSettings


async def seed(settings: ServiceSettings) -> None:
    conn = await db.connect(settings, "identity")
    try:
        password_hash = await hash_password(demo.DEMO_PASSWORD)
        async with conn.transaction():
            await accounts.create_organisation(conn, demo.LA_ID, demo.LA["name"], "local_authority",
                                               contact_email="virtual.school@demo.test", contact_phone="01632 960000")
            await accounts.create_organisation(conn, demo.OTHER_LA_ID, demo.OTHER_LA["name"], "local_authority",
                                               contact_email="virtual.school@northshire.test")
            for la_id, schools in ((demo.LA_ID, demo.SCHOOLS), (demo.OTHER_LA_ID, demo.OTHER_SCHOOLS)):
                for school in schools:
                    await accounts.create_organisation(conn, school["id"], school["name"], "setting", la_id,
                                                       setting_type=school["setting_type"], phase=school["phase"],
                                                       urn=school["urn"])
            for key, email, given, family, memberships in demo.ACCOUNTS:
                created = await accounts.create_user(conn, demo.account_id(key), email, given, family,
                                                     password_hash, memberships)
                for org_id, role in memberships:
                    if created and role == "designated_teacher":
                        await nominate(conn, org_id, demo.account_id(key), None)
                    if created and role == "setting_staff":
                        # Staff see nothing until their DT grants it; the demo's DT has granted everything.
                        await conn.execute("INSERT INTO staff_access (setting_id, user_id) VALUES ($1, $2) "
                                           "ON CONFLICT DO NOTHING", org_id, demo.account_id(key))
    finally:
        await conn.close()
