"""Questions every service asks about who is calling. Each service still decides on its own data.

Another organisation's records answer 404, never 403, so their existence is not revealed.
"""

from __future__ import annotations

from shared.errors import Problem
from shared.internal_auth import Claims

LA_ROLES = frozenset({"vs_admin", "vs_caseworker", "vs_approver", "social_worker", "iro", "carer"})
SETTING_ROLES = frozenset({"designated_teacher", "setting_staff"})
VIRTUAL_SCHOOL_ROLES = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})


# Who sees what the Virtual School's quality assurance wrote for professionals (QA's grades and comments, the
# feedback of a returned PEP, the sign-off checklist): how the caller reaches the child, in pep's words (the
# `access` of pep's child answer, AccessVia). Never carers, setting staff (however much their DT lets them see)
# or an invited young person or carer. One rule, for every route and export of every service.
SEES_QA = frozenset({"virtual_school", "social_worker", "designated_teacher", "iro"})
# A PEP section this role owns is QA's (the Virtual School's sign-off checklist and comments).
QA_SECTION_OWNER = "virtual_school"


def sees_qa(via: str | None) -> bool:
    """Whether someone who reaches the child this way (pep's `access`) may see QA's work."""
    return via in SEES_QA


def may_see_section_of(via: str | None, owner: str) -> bool:
    """Whether someone who reaches the child this way may read a PEP section its template gives this owner."""
    return owner != QA_SECTION_OWNER or sees_qa(via)


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
