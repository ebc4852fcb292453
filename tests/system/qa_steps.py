"""Approving or returning a submitted PEP the only way there is (issue 22, "No approval without QA"): rate it in its
quality assurance review, then decide there. For system tests whose subject is what follows the decision."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import RunningSystem


def _top(scale: list[dict[str, Any]]) -> str:
    return next(g["key"] for g in scale if not g["awarded_only"])


def rate(system: RunningSystem, cookie: str, pep_id: str, body: dict[str, Any], timeout: float = 20.0
         ) -> dict[str, Any]:
    """Save ratings, once qa has heard of the submission (until then it answers 409 with Retry-After)."""
    review = f"/api/v1/peps/{pep_id}/review"
    deadline = time.monotonic() + timeout
    while True:
        status, answer, _ = system.api("PUT", review, body, cookie=cookie)
        if status == 200:
            return dict(answer)
        if status != 409 or answer.get("code") != "not_yet_known" or time.monotonic() > deadline:
            raise AssertionError(f"rating the PEP: {status} {answer}")
        time.sleep(0.2)


def rate_fully(system: RunningSystem, cookie: str, pep_id: str) -> dict[str, Any]:
    """Every area and the PEP overall rated with the framework's best grade a reviewer chooses."""
    framework = system.api("GET", f"/api/v1/peps/{pep_id}/review", cookie=cookie)[1]["framework"]
    area = _top(framework["area_scale"] or framework["scale"])
    return rate(system, cookie, pep_id, {"areas": {a["key"]: {"grade": area} for a in framework["areas"]},
                                         "overall_grade": _top(framework["scale"])})


def decide_in_qa(system: RunningSystem, cookie: str, pep_id: str, outcome: str, reason: str | None = None
                 ) -> tuple[int, Any]:
    """Approve (rated fully first) or return (with the reason alone as the school's feedback) through QA."""
    if outcome == "approve":
        rate_fully(system, cookie, pep_id)
    else:
        rate(system, cookie, pep_id, {"areas": {}})
    status, body, _ = system.api("POST", f"/api/v1/peps/{pep_id}/review/decide",
                                 {"outcome": outcome, **({"reason": reason} if reason else {})}, cookie=cookie)
    return status, body
