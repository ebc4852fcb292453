"""The Full PEP carries its QA (issue 22, item 4; Welfare Call): once the Virtual School has decided a PEP, the
Full PEP PDF prints each area's rating and feedback, the overall rating (Gold where awarded) and its feedback, in
the framework's words, escaped once; the Termly PEP, shared with carers, prints none of it. pep learns the review
from qa's event. The rating shows where people look: the child's PEP ratings and the home page's latest ratings
for the social worker and the DT. Anyone who may not see the child gets 404."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.conftest import RunningSystem
from tests.system.test_pep_files import fetch, pdf_text
from tests.system.test_qa import cookies, last_working_day_before, queued, submitted_pep  # noqa: F401 (fixture)
from tests.system.test_tasks import eventually

AREA_FEEDBACK = "Targets <b>SMART</b> & measurable"
OVERALL_FEEDBACK = "A strong plan & <b>clear</b> voice"


def _framework(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any]:
    return dict(system.api("GET", f"/api/v1/peps/{pep_id}/review", cookie=cookie)[1]["framework"])


def _pdf(system: RunningSystem, cookie: str, pep_id: str, variant: str) -> tuple[int, str]:
    status, body, _ = fetch(system, cookie, "GET", f"/api/v1/peps/{pep_id}/export.pdf?variant={variant}")
    return status, pdf_text(body) if status == 200 else ""


def test_the_full_pep_prints_the_review_and_the_termly_pep_does_not(
        system: RunningSystem, cookies: dict[str, str]) -> None:  # noqa: F811
    cw, sw, dt = cookies["caseworker"], cookies["sw"], cookies["dt"]
    child, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    eventually(lambda: queued(system, cw, pep_id), "the PEP reaches the QA queue")
    framework = _framework(system, cw, pep_id)
    areas = {a["key"]: {"grade": "green"} for a in framework["areas"]}
    first = framework["areas"][0]
    areas[first["key"]]["feedback"] = AREA_FEEDBACK
    status, body, _ = system.api("PUT", f"/api/v1/peps/{pep_id}/review", {
        "areas": areas, "overall_grade": "green", "overall_feedback": OVERALL_FEEDBACK}, cookie=cw)
    assert status == 200 and body["current"]["awarded_label"] == "Gold", body

    # Before QA has decided, the Full PEP has no QA section.
    status, text = _pdf(system, dt, pep_id, "full")
    assert status == 200 and "Quality assurance" not in text and AREA_FEEDBACK not in text

    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200 and body["status"] == "approved", body

    # pep hears qa's decision; the Full PEP then carries it, for the DT as for the Virtual School.
    text = eventually(lambda: (t := _pdf(system, dt, pep_id, "full")[1]) and "Quality assurance" in t and t,
                      "the Full PEP with its QA")
    assert "Overall rating Gold (rated Green" in text, text[-2000:]
    assert OVERALL_FEEDBACK in text and AREA_FEEDBACK in text and "&amp;" not in text and "&lt;" not in text
    assert "Framework Redcar & Cleveland" in text and "Outcome Approved" in text
    for area in framework["areas"]:
        assert " ".join(area["title"].split()) in text, area["title"]
    assert text.count("Rating Green") == len(framework["areas"])
    assert _pdf(system, cw, pep_id, "full")[1].count("Rating Green") == len(framework["areas"])

    # The Termly PEP leaves the QA out.
    status, termly = _pdf(system, dt, pep_id, "termly")
    assert status == 200 and termly
    assert "Quality assurance" not in termly and "Gold" not in termly
    assert AREA_FEEDBACK not in termly and OVERALL_FEEDBACK not in termly and "Rating Green" not in termly

    # Who may not see the child (or, a carer, not its QA) gets 404 for the Full PEP.
    for outsider in ("dt2", "admin2", "staff"):
        assert _pdf(system, cookies[outsider], pep_id, "full")[0] == 404, outsider
    assert _pdf(system, cookies["carer"], pep_id, "full")[0] == 404
    assert _pdf(system, cookies["carer"], pep_id, "termly")[0] == 200

    # The child's PEP ratings, and the home page's latest ratings of the social worker's and the DT's children.
    status, body, _ = system.api("GET", f"/api/v1/children/{child['id']}/pep-ratings", cookie=sw)
    assert status == 200 and [(r["pep_id"], r["grade_label"], r["outcome"]) for r in body["items"]] == [
        (pep_id, "Gold", "approve")], body
    for outsider in ("carer", "dt2", "admin2"):
        assert system.api("GET", f"/api/v1/children/{child['id']}/pep-ratings", cookie=cookies[outsider])[0] == 404
    for who in ("sw", "dt"):
        status, body, _ = system.api("GET", "/api/v1/pep-ratings", cookie=cookies[who])
        assert status == 200, body
        mine = [r for r in body["items"] if r["child_id"] == child["id"]]
        assert [(r["pep_id"], r["grade_label"], r["child_name"]) for r in mine] == [
            (pep_id, "Gold", f"{child['given_name']} {child['family_name']}")], who
    for outsider in ("dt2", "carer"):
        body = system.api("GET", "/api/v1/pep-ratings", cookie=cookies[outsider])[1]
        assert not [r for r in body["items"] if r["child_id"] == child["id"]], outsider
