from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.pep import children_store
from services.pep.domain import core_data
from shared import db, demo
from shared.settings import ServiceSettings

SW, IRO, CARER = demo.account_id("sw"), demo.account_id("iro"), demo.account_id("carer")
# Who entered each LA's children: a real person of that LA, so the record's activity names them as it would anyone.
ENTERED_BY = {demo.LA_ID: demo.account_id("caseworker"), demo.OTHER_LA_ID: demo.account_id("admin2")}
CHILD_IDS: list[uuid.UUID] = [c["id"] for c in demo.CHILDREN]  # type: ignore[misc]
# A Northshire child at Hillside, so every screen can be seen to keep LAs apart.
NORTHSHIRE_CHILD: dict[str, Any] = {"id": demo._id("child/5"), "given_name": "Avery", "family_name": "Northern",
                    "date_of_birth": "2015-11-02", "setting_id": demo.HILLSIDE, "year_group": "Year 6"}
# Made-up core data with valid check characters (UPN 938: a made-up LA number).
DETAILS: dict[uuid.UUID, dict[str, Any]] = {
    CHILD_IDS[0]: {
        "gender": "male", "ethnicity": "White British", "first_language": "English", "upn": "Y938200116001",
        "social_care_id": "DEMO-0001", "date_entered_care": date(2022, 3, 14), "legal_status": "full_care_order",
        "placement_type": "foster_care", "carer": {"name": "Cara Carer", "phone": "01632 960111", "email": None,
                                                   "address": None},
        "sen_status": "sen_support", "health_notes": "Asthma: inhaler kept in class.",
        "contacts": [{"name": "Pat Example", "relationship": "Birth mother", "phone": None, "email": None,
                      "address": None, "notes": "Supervised contact monthly"}],
        "social_worker_id": SW, "iro_id": IRO, "carer_ids": [CARER]},
    CHILD_IDS[1]: {
        "gender": "female", "first_language": "English", "upn": "M938200116002", "social_care_id": "DEMO-0002",
        "date_entered_care": date(2022, 3, 14), "legal_status": "interim_care_order", "placement_type": "foster_care",
        "sen_status": "none"},
    CHILD_IDS[2]: {
        "gender": "not_known", "first_language": "Polish", "upn": "X938200115007", "social_care_id": "DEMO-0003",
        "date_entered_care": date(2024, 9, 2), "legal_status": "s20", "placement_type": "residential",
        "sen_status": "ehcp"},
    CHILD_IDS[3]: {
        "gender": "female", "first_language": "English", "upn": "M938200110023", "uln": "1234567899",
        "social_care_id": "DEMO-0004", "date_entered_care": date(2019, 1, 7), "legal_status": "full_care_order",
        "placement_type": "semi_independent", "sen_status": "none"},
    NORTHSHIRE_CHILD["id"]: {
        "gender": "male", "first_language": "English", "upn": "V865700119004", "social_care_id": "NS-0005",
        "date_entered_care": date(2023, 5, 30), "legal_status": "s20", "placement_type": "kinship_care",
        "sen_status": "none"},
}


async def seed(settings: ServiceSettings) -> None:
    conn = await db.connect(settings, "pep")
    try:
        async with conn.transaction():
            await _seed_organisations(conn)
            for la_id, child in [*((demo.LA_ID, c) for c in demo.CHILDREN), (demo.OTHER_LA_ID, NORTHSHIRE_CHILD)]:
                await _seed_child(conn, la_id, child)
            first, second = CHILD_IDS[0], CHILD_IDS[1]
            await children_store.link_siblings(conn, demo.LA_ID, first, second, ENTERED_BY[demo.LA_ID])
    finally:
        await conn.close()


async def _seed_organisations(conn: asyncpg.Connection) -> None:
    """The demo's LAs and schools as identity announces them, for a database that had them before pep kept its
    read model of organisations: dated at the epoch, so anything identity has said since wins."""
    rows = [(demo.LA_ID, demo.LA["name"], "local_authority", None),
            (demo.OTHER_LA_ID, demo.OTHER_LA["name"], "local_authority", None),
            *((s["id"], s["name"], "setting", demo.LA_ID) for s in demo.SCHOOLS),
            *((s["id"], s["name"], "setting", demo.OTHER_LA_ID) for s in demo.OTHER_SCHOOLS)]
    await conn.executemany("INSERT INTO organisations (id, name, organisation_type, la_id, changed_at) "
                           "VALUES ($1, $2, $3, $4, to_timestamp(0)) ON CONFLICT (id) DO NOTHING", rows)


async def _seed_child(conn: asyncpg.Connection, la_id: uuid.UUID, child: dict[str, Any]) -> None:
    values = {"given_name": child["given_name"], "family_name": child["family_name"],
              "date_of_birth": date.fromisoformat(child["date_of_birth"]), "setting_id": child["setting_id"],
              "year_group": child["year_group"], **DETAILS[child["id"]]}
    current, by = await children_store.child(conn, child["id"], lock=True), ENTERED_BY[la_id]
    if current is None:
        row = await children_store.insert_child(conn, child["id"], la_id, values, by)
    elif current["social_care_id"] is None:  # seeded before core data had these fields
        row = await children_store.update_child(conn, current, core_data.changes(dict(current), values), by)
    else:
        return  # already there: keep whatever was done with it since
    await children_store.publish_changed(conn, row, None)
