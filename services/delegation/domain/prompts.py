"""Which prompts a child's PEP clocks are owed on a day: pure, so every rule can be worked by hand in tests.

Each clock (domain/clocks.py) with a due date and not met is owed
- `due_soon` while it is due soon (from the LA's `due_soon` rule before the due date, to the due date);
- `overdue` once it is past its due date;
- `escalated` once it has been overdue for the LA's `escalate_after` rule: the Virtual School is told.
Only where things stand is owed: a scheduler that was down through the due-soon days sends "overdue", not
both, but a clock past its escalation date is owed "overdue" too (the people responsible were never told).
A prompt is named by (child, clock, due date, stage); sending each once is the scheduler's job (a unique row).
Who is told is notify's: the social worker and the Designated Teacher, or for the QA clock and for escalations
the Virtual School.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.delegation.domain.clocks import Clock, escalates_on
from services.delegation.domain.timescales import Timescales, long_date, rule_source

STAGES = ("due_soon", "overdue", "escalated")
ESCALATE_RULE = "escalate_after"


@dataclass(frozen=True)
class Prompt:
    clock: Clock
    stage: str  # due_soon | overdue | escalated
    due: date  # the clock's due date: with the clock and stage, what names the prompt
    escalation: str | None = None  # escalated: the rule that tells the Virtual School now, in words


def escalation(due: date, config: Timescales) -> tuple[date, str]:
    """When an overdue clock due on `due` goes to the Virtual School (clocks.escalates_on: the LA's
    `escalate_after` rule after it), and why, in words."""
    rule = config.rule(ESCALATE_RULE)
    day = escalates_on(config, due)
    return day, (f"the Virtual School is told when a PEP deadline is still not met {rule.words()} after it: "
                 f"{long_date(due)} was the due date, so from {long_date(day)} "
                 f"({rule_source(ESCALATE_RULE, rule.version)})")


def owed(clocks: list[Clock], config: Timescales, today: date) -> list[Prompt]:
    """The prompts a child's clocks (worked out for `today`) are owed on `today`."""
    out: list[Prompt] = []
    for clock in clocks:
        if clock.due is None or clock.state not in ("due_soon", "overdue"):
            continue
        out.append(Prompt(clock, clock.state, clock.due))
        if clock.state == "overdue":
            day, why = escalation(clock.due, config)
            if today >= day:
                out.append(Prompt(clock, "escalated", clock.due, why))
    return out
