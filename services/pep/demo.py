from __future__ import annotations

from datetime import date

from shared import db, demo
from shared.settings import ServiceSettings


async def seed(settings: ServiceSettings) -> None:
    conn = await db.connect(settings, "pep")
    try:
        await conn.executemany(
            "INSERT INTO children (id, la_id, given_name, family_name, date_of_birth, setting_id, year_group) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            [(c["id"], demo.LA["id"], c["given_name"], c["family_name"], date.fromisoformat(c["date_of_birth"]),
              c["setting_id"], c["year_group"]) for c in demo.CHILDREN])
    finally:
        await conn.close()
