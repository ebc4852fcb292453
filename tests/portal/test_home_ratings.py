"""The home page's latest QA ratings (issue 22, item 4; Welfare Call's "last Virtual School rating" box): asked of
pep for a social worker, DT or IRO only, shown in words with the grade's tag, escaped once; the home page still
works when pep cannot answer."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from tests.portal.fake_gateway import ME, FakeGateway, problem

CHILD = "5f6d2c3e-9a1b-4c7d-8e2f-0a1b2c3d4e5f"
PEP = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
SCHOOL = "c4d7d9a8-7f55-5b8e-9a64-3f1cf4bd6a11"
DT = {**ME, "memberships": [{"organisation_id": SCHOOL, "organisation_name": "Oakfield <b>&</b> Co",
                             "organisation_type": "setting", "role": "designated_teacher"}]}
RATING = {"pep_id": PEP, "child_id": CHILD, "child_name": "Riley <b>&</b> Smith", "kind": "termly_review",
          "term": "autumn", "academic_year": "2026/27", "status": "approved", "grade": "gold", "grade_label": "Gold",
          "outcome": "approve", "decided_at": "2026-11-23T10:00:00+00:00"}


def _signed_in(portal: TestClient, fake: FakeGateway, me: dict[str, Any]) -> None:
    fake.signed_in(me)
    portal.session.cookie_jar.update_cookies({"epep_session": "session-token"})


async def test_a_dt_sees_the_latest_rating_of_each_of_their_children(portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake, DT)
    fake.answer("GET", "/pep-ratings", 200, {"items": [RATING]})
    html = await (await portal.get("/home")).text()
    assert "Latest quality assurance ratings" in html
    assert "Riley &lt;b&gt;&amp;&lt;/b&gt; Smith" in html and "<b>&</b>" not in html
    assert re.search(r'govuk-tag--yellow"?[^>]*>\s*Gold\s*<', html), html
    assert f'href="/peps/{PEP}/review"' in html and f'href="/children/{CHILD}"' in html


async def test_the_virtual_school_is_not_asked_for_ratings_and_pep_away_leaves_home_working(
        portal: TestClient, fake: FakeGateway) -> None:
    _signed_in(portal, fake, ME)  # a VS admin: the QA queue is theirs, not this box
    html = await (await portal.get("/home")).text()
    assert "Latest quality assurance ratings" not in html and not fake.asked("GET", "/pep-ratings")

    _signed_in(portal, fake, DT)
    fake.answer("GET", "/pep-ratings", *problem(503, "Service unavailable", code="unavailable"))
    resp = await portal.get("/home")
    assert resp.status == 200
    html = await resp.text()
    assert "Signed in as" in html and "Latest quality assurance ratings" not in html
