"""QA frameworks as data: the grades a reviewer gives, the areas they rate (each grade with its descriptor) and
how the overall grade is reached. Each LA uses one; the files in services/qa/frameworks/ are the defaults
(Redcar & Cleveland's, ePEP Online's areas, Walsall's checklist). Nothing here does I/O but loading them.

    framework = FRAMEWORKS["redcar_cleveland"]
    framework.area_grade_keys              # ("green", "amber", "red"): gold is awarded, never chosen
    framework.awarded_grade("green", meeting=date(2026, 12, 18), submitted_at=...)   # "gold" if within 5 days
    framework.may_approve("amber")         # False: Amber and Red go back to the school
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.workdays import within_working_days

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
NOT_APPLICABLE = "not_applicable"
DEFAULT_FRAMEWORK = "redcar_cleveland"
FOLDER = Path(__file__).resolve().parents[1] / "frameworks"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grade(_Strict):
    key: Key
    label: str = Field(min_length=1)
    description: str | None = None
    # Given by a rule (Gold: Green, on time), never chosen by a reviewer.
    awarded_only: bool = False


class Area(_Strict):
    key: Key
    title: str = Field(min_length=1)
    descriptors: dict[str, str]


class Gold(_Strict):
    """A grade awarded when the overall grade is `when` and the PEP was submitted within `within_working_days`
    working days of its meeting (Redcar & Cleveland's Gold)."""

    grade: Key
    when: Key
    within_working_days: int = Field(ge=0, le=60)


class Overall(_Strict):
    """best_fit: the reviewer chooses the overall grade from the areas' grades. all_must_meet: it follows from
    them, `then` when every area has `area_grade`, else `otherwise` (Walsall's seven Yes answers)."""

    kind: Literal["best_fit", "all_must_meet"]
    description: str = ""
    descriptors: dict[str, str] = {}
    area_grade: Key | None = None
    then: Key | None = None
    otherwise: Key | None = None


class Framework(_Strict):
    key: Key
    name: str = Field(min_length=1)
    source: str = ""
    scale: list[Grade] = Field(min_length=2)  # the overall grades, best first
    area_scale: list[Grade] | None = None  # the areas' grades when they differ (a Yes/No checklist)
    not_applicable: bool = False  # whether an area may be rated "Not applicable"
    gold: Gold | None = None
    overall: Overall
    areas: list[Area] = Field(min_length=1)
    # The overall grades a PEP may be approved with; any other goes back to the school (Redcar & Cleveland: Amber
    # and Red; Walsall: "does not meet"). None: any grade may be approved (ePEP Online rates, then signs off).
    approvable: list[Key] | None = None
    approvable_because: str = ""  # the guide's words, shown when an approval is refused

    @cached_property
    def grade_keys(self) -> tuple[str, ...]:
        """The overall grades a reviewer may choose."""
        return tuple(g.key for g in self.scale if not g.awarded_only)

    @cached_property
    def area_grade_keys(self) -> tuple[str, ...]:
        chosen = tuple(g.key for g in (self.area_scale or self.scale) if not g.awarded_only)
        return (*chosen, NOT_APPLICABLE) if self.not_applicable else chosen

    def label(self, grade: str | None) -> str | None:
        if grade is None:
            return None
        if grade == NOT_APPLICABLE:
            return "Not applicable"
        return next((g.label for g in [*self.scale, *(self.area_scale or [])] if g.key == grade), grade)

    @model_validator(mode="after")
    def _consistent(self) -> Framework:
        overall = [g.key for g in self.scale]
        area = [g.key for g in self.area_scale or self.scale]
        for name, keys in (("scale", overall), ("area_scale", area)):
            if len(set(keys)) != len(keys):
                raise ValueError(f"{name} repeats a grade")
        if len({a.key for a in self.areas}) != len(self.areas):
            raise ValueError("two areas have the same key")
        chosen_area = [g.key for g in self.area_scale or self.scale if not g.awarded_only]
        for a in self.areas:
            if missing := [k for k in chosen_area if k not in a.descriptors]:
                raise ValueError(f"area {a.key} has no descriptor for {', '.join(missing)}")
            if unknown := [k for k in a.descriptors if k not in area]:
                raise ValueError(f"area {a.key} describes grades not in the scale: {', '.join(unknown)}")
        if unknown := [k for k in self.overall.descriptors if k not in overall]:
            raise ValueError(f"overall describes grades not in the scale: {', '.join(unknown)}")
        if self.gold is not None:
            gold = next((g for g in self.scale if g.key == self.gold.grade), None)
            if gold is None or not gold.awarded_only or self.gold.when not in self.grade_keys:
                raise ValueError("gold must name an awarded-only grade of the scale and a grade that can be chosen")
        if self.approvable is not None and (not self.approvable or any(
                k not in self.grade_keys for k in self.approvable)):
            raise ValueError("approvable must name at least one grade a reviewer can choose")
        if self.overall.kind == "all_must_meet":
            o = self.overall
            if o.area_grade not in area or o.then not in overall or o.otherwise not in overall:
                raise ValueError("all_must_meet needs area_grade from the area scale and then/otherwise from the scale")
        return self

    def may_approve(self, overall: str | None) -> bool:
        """Whether a PEP with this overall grade may be approved, rather than returned to the school."""
        return overall is not None and (self.approvable is None or overall in self.approvable)

    def overall_from(self, area_grades: dict[str, str]) -> str | None:
        """The overall grade the rule gives from the areas' grades, when the rule decides it (all_must_meet)."""
        o = self.overall
        if o.kind != "all_must_meet" or any(a.key not in area_grades for a in self.areas):
            return None
        applicable = [g for g in area_grades.values() if g != NOT_APPLICABLE]
        return o.then if all(g == o.area_grade for g in applicable) else o.otherwise

    def awarded_grade(self, overall: str | None, meeting: date | None, submitted_at: datetime | None) -> str | None:
        """The grade the PEP shows: Gold for a Green PEP submitted within 5 working days of its meeting, counted
        from the real submission time (UK date); otherwise the overall grade as given."""
        g = self.gold
        if g is not None and overall == g.when and meeting is not None and submitted_at is not None \
                and within_working_days(meeting, submitted_at, g.within_working_days):
            return g.grade
        return overall


def load(path: Path) -> Framework:
    return Framework.model_validate(json.loads(path.read_text(encoding="utf-8")))


def load_all(folder: Path = FOLDER) -> dict[str, Framework]:
    found = {}
    for path in sorted(folder.glob("*.json")):
        framework = load(path)
        if framework.key != path.stem:
            raise ValueError(f"{path.name} holds framework {framework.key!r}: the file is named after its key")
        found[framework.key] = framework
    return found


FRAMEWORKS: dict[str, Framework] = load_all()
