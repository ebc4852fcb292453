"""How a signed-in person's organisations and roles are shown. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ROLE_NAMES = {
    "designated_teacher": "Designated Teacher",
    "setting_staff": "Setting staff",
    "vs_caseworker": "Virtual School caseworker",
    "vs_admin": "Virtual School administrator",
    "vs_approver": "Virtual School approver",
    "social_worker": "Social worker",
    "iro": "Independent Reviewing Officer",
    "carer": "Carer",
}

# Headings in the order they appear on the home page.
ORGANISATION_TYPES = {"setting": "Education settings", "local_authority": "Local authorities"}


def role_name(role: str) -> str:
    """The role in words; an unknown role (added by identity later) still reads sensibly."""
    return ROLE_NAMES.get(role, role.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class OrganisationGroup:
    heading: str
    organisations: tuple[Organisation, ...]


def group_memberships(memberships: Iterable[dict[str, Any]]) -> list[OrganisationGroup]:
    """Memberships grouped by organisation type, one row per organisation with all its roles in words.

    Organisations are sorted by name; roles keep the order identity gave them, without repeats."""
    by_type: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for m in memberships:
        kind = str(m.get("organisation_type", ""))
        orgs = by_type.setdefault(kind if kind in ORGANISATION_TYPES else "other", {})
        org_id = str(m["organisation_id"])
        name, roles = orgs.setdefault(org_id, (str(m.get("organisation_name", "")), []))
        role = role_name(str(m.get("role", "")))
        if role not in roles:
            roles.append(role)
    groups = []
    for kind in [*ORGANISATION_TYPES, "other"]:
        if kind not in by_type:
            continue
        organisations = sorted((Organisation(i, n, tuple(r)) for i, (n, r) in by_type[kind].items()),
                               key=lambda o: o.name.casefold())
        heading = ORGANISATION_TYPES.get(kind, "Other organisations")
        groups.append(OrganisationGroup(heading, tuple(organisations)))
    return groups
