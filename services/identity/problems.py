"""The answers identity gives when something is refused, in the same words wherever it happens."""

from __future__ import annotations

from services.identity.domain import codes
from shared.errors import FieldError, Problem


def code_problem(outcome: codes.Outcome) -> Problem:
    if outcome is codes.Outcome.LOCKED:
        return Problem(400, "Too many wrong codes", "Ask for a new code.", code="code_locked")
    if outcome is codes.Outcome.EXPIRED:
        return Problem(400, "The code has expired", "Codes work for 10 minutes. Ask for a new code.",
                       code="code_expired")
    return Problem(400, "The code is not right", "Check the code in the latest email we sent you, "
                   "or ask for a new code.", code="code_invalid")


def throttled(seconds: int) -> Problem:
    return Problem(429, "Too many attempts", f"Try again in {seconds} seconds.", code="throttled",
                   headers={"Retry-After": str(seconds)}, extra={"retry_after": seconds})


def invalid_fields(*errors: tuple[str, str]) -> Problem:
    """422 naming each field and what to do about it."""
    field_errors = [FieldError(field=f, message=m) for f, m in errors]
    return Problem(422, "The request has invalid fields", "Check these fields: " +
                   ", ".join(dict.fromkeys(f for f, _ in errors)), code="validation", errors=field_errors)


INVITATION_NOT_FOUND = Problem(
    404, "Invitation not found", "This invitation link has expired or has already been used. Ask the person who "
    "invited you to send a new one.", code="invitation_not_found")
