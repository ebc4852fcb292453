"""Each LA's own session rules: how long without activity ends a session, and how long before that the timeout
warning shows. The bounds an LA may choose (here) and the service's default for an LA without a rule
(settings.py). Which rule a person follows when they work for several LAs (the shortest idle timeout) is the SQL
function session_rule_of (migrations/0004_session_rules.sql), asked wherever a session is resolved."""

from __future__ import annotations

from dataclasses import dataclass

MIN_IDLE_MINUTES = 5
MAX_IDLE_MINUTES = 120
MIN_WARNING_MINUTES = 1


@dataclass(frozen=True)
class RuleDefaults:
    """What session_rule_of needs besides the person: the default rule, in seconds, and the seconds in one of an
    LA's minutes (60; tests shrink it so that a 5-minute rule runs out in 5 seconds)."""
    idle_seconds: int
    warning_seconds: int
    unit_seconds: int = 60

    def args(self) -> tuple[int, int, int]:
        return self.idle_seconds, self.warning_seconds, self.unit_seconds


def rule_errors(idle_minutes: int, warning_minutes: int) -> list[tuple[str, str]]:
    """What is wrong with a rule an LA asks for, field by field, in words for the VS admin (empty: nothing)."""
    errors: list[tuple[str, str]] = []
    if not MIN_IDLE_MINUTES <= idle_minutes <= MAX_IDLE_MINUTES:
        errors.append(("idle_minutes", f"The time before signing out must be between {MIN_IDLE_MINUTES} and "
                                       f"{MAX_IDLE_MINUTES} minutes"))
    if warning_minutes < MIN_WARNING_MINUTES:
        errors.append(("warning_minutes", f"The warning must be at least {MIN_WARNING_MINUTES} minute before "
                                          "signing out"))
    elif warning_minutes >= idle_minutes:
        errors.append(("warning_minutes", "The warning must come before the time to sign out: make it shorter than "
                                          f"{idle_minutes} minutes"))
    return errors
