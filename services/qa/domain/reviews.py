"""A review's rules, without I/O: which grades a framework allows where, what an approval needs, and the words
a return sends the school (they become the Designated Teacher's amend task)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.qa.domain.frameworks import Framework


@dataclass(frozen=True)
class Invalid:
    field: str
    message: str


def _grades_in_words(framework: Framework, keys: tuple[str, ...]) -> str:
    return ", ".join(str(framework.label(k)) for k in keys)


def check_draft(framework: Framework, areas: dict[str, dict[str, Any]], overall: str | None) -> list[Invalid]:
    """Each area named must be the framework's and graded on its scale; the overall grade on its scale and, where
    the framework's rule decides it (a checklist), the one the rule gives."""
    problems = []
    known = {a.key for a in framework.areas}
    for key, rating in areas.items():
        if key not in known:
            problems.append(Invalid(f"areas.{key}", f"{key} is not an area of {framework.name}"))
            continue
        grade = rating.get("grade")
        if grade is not None and grade not in framework.area_grade_keys:
            problems.append(Invalid(f"areas.{key}.grade", "Choose one of: "
                                    + _grades_in_words(framework, framework.area_grade_keys)))
    if overall is not None and overall not in framework.grade_keys:
        problems.append(Invalid("overall_grade", "Choose one of: " + _grades_in_words(framework, framework.grade_keys)))
    elif overall is not None and not problems:
        ruled = framework.overall_from({k: r["grade"] for k, r in areas.items() if r.get("grade")})
        if ruled is not None and ruled != overall:
            problems.append(Invalid("overall_grade", f"With these answers the PEP is “{framework.label(ruled)}”"))
    return problems


def overall_by_rule(framework: Framework, areas: dict[str, dict[str, Any]], overall: str | None) -> str | None:
    """The overall grade to keep: the reviewer's, or the rule's once every area is answered."""
    if overall is not None:
        return overall
    return framework.overall_from({k: r["grade"] for k, r in areas.items() if r.get("grade")})


def missing_for_approval(framework: Framework, areas: dict[str, dict[str, Any]], overall: str | None) -> list[Invalid]:
    """An approved PEP has every area graded and an overall grade."""
    problems = [Invalid(f"areas.{a.key}.grade", f"Rate “{a.title}”") for a in framework.areas
                if not (areas.get(a.key) or {}).get("grade")]
    if overall is None:
        problems.append(Invalid("overall_grade", "Give the overall rating"))
    return problems


def refused_approval(framework: Framework, overall: str | None) -> Invalid | None:
    """Why a PEP with this overall grade may not be approved under the framework, if it may not: the grades the
    LA's framework sends back to the school (Redcar & Cleveland: Amber and Red; Walsall: does not meet)."""
    if overall is None or framework.may_approve(overall):
        return None
    allowed = _grades_in_words(framework, tuple(framework.approvable or ()))
    return Invalid("overall_grade", f"A PEP rated “{framework.label(overall)}” goes back to the school: only "
                   f"{allowed} can be approved")


def return_words(framework: Framework, reason: str, areas: dict[str, dict[str, Any]], overall: str | None,
                 overall_feedback: str | None) -> str:
    """What the school is told when the PEP comes back: the reason, then the rating and each area's feedback."""
    lines = [reason.strip()]
    if overall is not None:
        lines.append(f"Overall: {framework.label(overall)}" + (f". {overall_feedback}" if overall_feedback else ""))
    elif overall_feedback:
        lines.append(f"Overall: {overall_feedback}")
    for area in framework.areas:
        rating = areas.get(area.key) or {}
        if rating.get("feedback"):
            grade = f" ({framework.label(rating['grade'])})" if rating.get("grade") else ""
            lines.append(f"{area.title}{grade}: {rating['feedback']}")
    return "\n".join(lines)[:2000]  # pep keeps a reason of up to 2000 characters
