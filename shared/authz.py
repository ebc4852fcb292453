"""Questions every service asks about who is calling. Each service still decides on its own data.

Another organisation's records answer 404, never 403, so their existence is not revealed.
"""

from __future__ import annotations

from shared.errors import Problem
from shared.internal_auth import Claims

LA_ROLES = frozenset({"vs_admin", "vs_caseworker", "vs_approver", "social_worker", "iro", "carer"})
SETTING_ROLES = frozenset({"designated_teacher", "setting_staff"})
VIRTUAL_SCHOOL_ROLES = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})


def not_found(what: str = "page") -> Problem:
    return Problem(404, "Not found", f"We could not find that {what}.", code="not_found")


def roles_at(claims: Claims, organisation_id: str) -> set[str]:
    return {m.role for m in claims.memberships if m.organisation_id == str(organisation_id)}


def organisations_where(claims: Claims, *roles: str) -> set[str]:
    return {m.organisation_id for m in claims.memberships if m.role in roles}


def require_user(claims: Claims) -> str:
    """The user id of a person (not a service) making the call."""
    if claims.is_service:
        raise Problem(403, "Forbidden", code="forbidden")
    return claims.sub


def require_service(claims: Claims) -> None:
    if not claims.is_service:
        raise Problem(403, "Forbidden", code="forbidden")
