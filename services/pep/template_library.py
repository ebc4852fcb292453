"""The default PEP templates, one per phase, kept as JSON in `templates/` beside this module.

They are the starting point every LA gets: Early Years, Statutory School Age (Reception to Year 11) and
Post-16 (including NEET), with the sections and questions of the five user guides in the domain notes.
An LA's own mandatory questions are added when answers are checked (`missing(..., mandatory=...)`), not here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from shared.api.templates import Phase, Template

TEMPLATES_DIR = Path(__file__).parent / "templates"
FILES = ("early_years.json", "school_age.json", "post_16.json")


@cache
def _load() -> dict[str, Template]:
    templates: dict[str, Template] = {}
    for name in FILES:
        path = TEMPLATES_DIR / name
        try:
            template = Template.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError; say which file
            raise ValueError(f"default template {name} is not valid: {exc}") from exc
        if template.key in templates:
            raise ValueError(f"default template {name} repeats the key {template.key}")
        templates[template.key] = template
    return templates


def load_default_templates() -> dict[str, Template]:
    """The default templates by key ("early-years", "school-age", "post-16"), read once.

    The dict is a fresh copy each call; the templates in it are shared, so treat them as read-only."""
    return dict(_load())


def default_for_phase(phase: Phase) -> Template:
    """The default template of a phase: early_years, school_age or post_16."""
    for template in _load().values():
        if template.phase == phase:
            return template
    raise KeyError(f"no default template for phase {phase!r}")
