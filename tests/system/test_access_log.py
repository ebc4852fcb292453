"""The access log: every request that reaches a child's record or PEP is kept with who, how they reach the
child, what, when and from where; the Virtual School reads it per child; nobody can change it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import asyncpg
import pytest

from services.pep.domain.core_data import academic_year_label
from tests.conftest import RunningSystem
from tests.system.test_children import SW, new_child


async def _refused_to_pep(dsn: str, *statements: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET ROLE epep_pep")
        for sql in statements:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


def test_the_virtual_school_sees_who_viewed_a_childs_pep_this_month(system: RunningSystem) -> None:
    cw, dt = system.sign_in("caseworker@demo.test"), system.sign_in("dt@demo.test")
    child = new_child(system, cw, social_worker_id=SW)
    status, pep, _ = system.api("POST", f"/api/v1/children/{child['id']}/peps", {
        "kind": "initial", "term": "autumn", "academic_year": academic_year_label(date.today())}, cookie=cw)
    assert status == 201, pep
    # Dana (DT) opens the record, the PEP and one section; a request that fails is not an access.
    assert system.api("GET", f"/api/v1/children/{child['id']}", cookie=dt)[0] == 200
    assert system.api("GET", f"/api/v1/peps/{pep['id']}", cookie=dt)[0] == 200
    assert system.api("GET", f"/api/v1/peps/{pep['id']}/sections/education", cookie=dt)[0] == 200
    assert system.api("GET", f"/api/v1/peps/{pep['id']}/sections/no_such", cookie=dt)[0] == 404

    log = f"/api/v1/children/{child['id']}/access-log"
    status, body, _ = system.api("GET", f"{log}?pep_id={pep['id']}&reads_only=true", cookie=cw)
    assert status == 200, body
    dana = [(e["what"], e["via"]) for e in body["entries"] if e["name"] == "Dana Teacher"]
    assert dana == [("Read a section (Education)", "designated_teacher"), ("Opened the PEP", "designated_teacher")]
    assert all(e["address"] == "127.0.0.1" and e["request_id"] for e in body["entries"])
    whole = system.api("GET", log, cookie=cw)[1]["entries"]
    assert ("Viewed the child's record", "Dana Teacher") in {(e["what"], e["name"]) for e in whole}
    assert ("Started a PEP", "Cal Caseworker") in {(e["what"], e["name"]) for e in whole}
    # Another month has none of it.
    last_month = date.today().replace(day=1) - timedelta(days=1)
    earlier = system.api("GET", f"{log}?since={last_month.replace(day=1)}&until={last_month}", cookie=cw)[1]
    assert earlier["entries"] == []

    # The Virtual School's only: the DT may see the child but not who else did; another LA not even the child.
    assert system.api("GET", log, cookie=dt)[0] == 403
    assert system.api("GET", log, cookie=system.sign_in("admin@northshire.test"))[0] == 404
    status, body, _ = system.api("GET", f"{log}?since=yesterday", cookie=cw)
    assert status == 422
    asyncio.run(_refused_to_pep(system.admin_dsn, "UPDATE pep.access_log SET address = 'x'",
                                "DELETE FROM pep.access_log"))
