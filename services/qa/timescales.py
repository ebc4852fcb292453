"""Each LA's timescale rules as delegation announces them (delegation.timescales.changed), for the dashboard's
timescale figures: `qa_review` (the Virtual School's quality check after submission) and `dt_return` (the PEP
submitted after its meeting). delegation owns the rules and their defaults (services/delegation/domain/
timescales.py); an LA that has never saved its own keeps the national defaults, as there. Each figure says which
rule it used, in the engine's words."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from shared.bus import MessageContext, Subscription, subscribe
from shared.contracts import TimescalesChanged
from shared.workdays import add_period

# The national defaults while an LA keeps them (delegation's RULES: both 10 working days).
DEFAULTS = {"qa_review": (10, "working_days"), "dt_return": (10, "working_days")}
UNIT_WORDS = {"working_days": ("working day", "working days"), "school_days": ("school day", "school days"),
              "weeks": ("week", "weeks"), "months": ("month", "months")}


@dataclass(frozen=True)
class LaRule:
    name: str
    amount: int
    unit: str
    version: int  # the LA's configuration version that set it; 0: the default
    term_periods: tuple[tuple[date, date], ...] = ()
    inset_days: frozenset[date] = frozenset()

    def words(self) -> str:
        one, many = UNIT_WORDS.get(self.unit, (self.unit, self.unit))
        return f"{self.amount} {one if self.amount == 1 else many}"

    def source(self) -> str:
        return f"default rule '{self.name}'" if self.version == 0 else f"LA rule '{self.name}', version {self.version}"

    def due(self, start: date) -> date | None:
        """The deadline `start` gives (None: school days past the LA's term dates)."""
        return add_period(start, self.amount, self.unit, self.term_periods, self.inset_days)


async def rule_of(conn: asyncpg.Connection, la_id: uuid.UUID, name: str) -> LaRule:
    row = await conn.fetchrow("SELECT * FROM la_timescales WHERE la_id = $1", la_id)
    if row is None or name not in row["rules"]:
        amount, unit = DEFAULTS[name]
        return LaRule(name, amount, unit, 0)
    rule = row["rules"][name]
    periods = tuple(sorted((date.fromisoformat(p["start"]), date.fromisoformat(p["end"]))
                           for p in row["term_periods"]))
    return LaRule(name, int(rule["amount"]), str(rule["unit"]), int(rule.get("version", 0)), periods,
                  frozenset(row["inset_days"]))


async def _on_changed(ctx: MessageContext, data: TimescalesChanged) -> None:
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO la_timescales (la_id, version, rules, term_periods, inset_days) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (la_id) DO UPDATE SET version = $2, rules = $3, term_periods = $4, inset_days = $5 "
            "WHERE la_timescales.version < $2",
            data.la_id, data.version, {k: v.model_dump(mode="json") for k, v in data.rules.items()},
            [p.model_dump(mode="json") for p in data.term_periods], data.inset_days)


def subscription() -> Subscription:
    return subscribe("qa.timescales", TimescalesChanged, _on_changed)
