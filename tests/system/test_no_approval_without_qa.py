"""No approval without QA (issue 22, item 1; issue 23, finding 9): a PEP is approved or returned only by a decided
QA review. The attacks: a caseworker approves through the PEP's old action, through the gateway and straight at
pep with a person's token or another service's; approves a review with no ratings or half of them; approves an
Amber PEP under Redcar & Cleveland's framework (Amber and Red go back to the school). Each is refused with a clear
message and the PEP stays submitted; a fully rated Green review approves it, and pep records who decided."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date
from typing import Any

from pydantic import SecretStr

from shared import demo
from shared.internal_auth import Claims, Membership, Signer, development_private_key
from tests.conftest import RunningSystem
from tests.system.qa_steps import rate, rate_fully
from tests.system.test_qa import LA, cookies, last_working_day_before, submitted_pep  # noqa: F401 (fixture)

CASEWORKER = str(demo.account_id("caseworker"))


def _status(system: RunningSystem, cookie: str, pep_id: str) -> str:
    return str(system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cookie)[1]["status"])


def _straight_to_pep(system: RunningSystem, pep_id: str, issuer: str, claims: Claims) -> tuple[int, Any]:
    """pep's internal approve, called past the gateway with a token `issuer` signed (development keys)."""
    token = Signer(issuer, [SecretStr(development_private_key(issuer))]).sign(claims, "pep")
    body = json.dumps({"by_user": CASEWORKER}).encode()
    req = urllib.request.Request(f"{system.local.url('pep')}/peps/{pep_id}/actions/approve", data=body,
                                 method="POST", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_caseworker_cannot_approve_without_a_decided_review(system: RunningSystem,
                                                               cookies: dict[str, str]) -> None:  # noqa: F811
    cw = cookies["caseworker"]
    _, pep_id = submitted_pep(system, cookies, last_working_day_before(date.today()))
    review = f"/api/v1/peps/{pep_id}/review"

    # The PEP's own actions are gone from the API: not in the catalogue, so the gateway has no such route.
    for action in ("approve", "return"):
        status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/actions/{action}", {"reason": "x"}, cookie=cw)
        assert status == 404, body
    assert "approve" not in system.api("GET", f"/api/v1/peps/{pep_id}", cookie=cw)[1]["actions"]

    # Straight at pep: a person's token (even a VS admin's, from the gateway) or another service's is refused.
    vs_admin = Claims(sub=CASEWORKER, memberships=[Membership(organisation_id=LA, organisation_type="local_authority",
                                                              role="vs_admin")])
    for issuer, claims in (("gateway", vs_admin), ("gateway", Claims(sub="service:qa")),
                           ("delegation", Claims(sub="service:delegation"))):
        status, body = _straight_to_pep(system, pep_id, issuer, claims)
        assert (status, body["title"]) == (403, "A PEP is approved through its quality assurance review"), issuer
    assert _status(system, cw, pep_id) == "submitted"

    # No ratings at all, then only some: refused, saying what is needed.
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert (status, body["code"], body["title"]) == (422, "not_rated", "Rate the PEP before approving it"), body
    rate(system, cw, pep_id, {"areas": {"education": {"grade": "green"}}, "overall_grade": "green"})
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert (status, body["code"], body["title"]) == (422, "not_rated", "Rate the PEP before approving it"), body
    assert "areas.smart_targets.grade" in [e["field"] for e in body["errors"]]

    # Every area rated, Amber overall: Redcar & Cleveland sends it back to the school, it is not approved.
    framework = system.api("GET", review, cookie=cw)[1]["framework"]
    assert (framework["key"], framework["approvable"]) == ("redcar_cleveland", ["green"])
    rate(system, cw, pep_id, {"areas": {a["key"]: {"grade": "amber"} for a in framework["areas"]},
                              "overall_grade": "amber"})
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert (status, body["code"], body["title"]) == (422, "not_approvable", "A PEP rated “Amber” cannot be approved")
    assert body["errors"] == [{"field": "overall_grade", "message": "A PEP rated “Amber” goes back to the school: "
                               "only Green can be approved"}]
    assert _status(system, cw, pep_id) == "submitted"
    assert system.admin_sql("SELECT count(*) AS n FROM qa.reviews WHERE pep_id = $1 AND stage <> 'draft'",
                            pep_id)[0]["n"] == 0

    # Rated fully, Green: approved, in pep too, with the caseworker as who approved it.
    rate_fully(system, cw, pep_id)
    status, body, _ = system.api("POST", f"{review}/decide", {"outcome": "approve"}, cookie=cw)
    assert status == 200 and body["status"] == "approved" and body["current"]["outcome"] == "approve", body
    assert _status(system, cw, pep_id) == "approved"
    moved = system.admin_sql("SELECT action, by_user FROM pep.pep_transitions WHERE pep_id = $1 AND action = "
                             "'approve'", pep_id)
    assert [(r["action"], str(r["by_user"])) for r in moved] == [("approve", CASEWORKER)]

    # An approver cannot then give the approved PEP a grade its framework sends back.
    status, body, _ = system.api("POST", f"{review}/confirm", {"overall_grade": "red"}, cookie=cookies["approver"])
    assert (status, body["code"]) == (422, "not_approvable"), body
    assert _status(system, cw, pep_id) == "approved"
