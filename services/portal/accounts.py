"""How a signed-in person's organisations, roles and administration are shown. Pure functions, no I/O.

The gateway decides who may do what; these only choose which links and choices to offer, from the roles
`/me` lists, so people are not shown things they would be refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


# Who a Virtual School administrator can invite to their LA, and to a setting in their LA; a Designated
# Teacher can invite setting staff to their own setting. In the order the invite form offers them.
LA_ROLES = ("vs_admin", "vs_caseworker", "vs_approver", "social_worker", "iro", "carer")
SETTING_ROLES = ("designated_teacher", "setting_staff")
ROLE_HINTS = {
    "vs_admin": "Manages accounts, settings and the Virtual School's set-up",
    "vs_caseworker": "Starts PEPs, delegates them to settings and checks them first",
    "vs_approver": "Quality-assures PEPs, approves Pupil Premium Plus funding and signs PEPs off",
    "social_worker": "Keeps the child's details right and writes the care part of the PEP",
    "iro": "Reads PEPs and contributes to reviews",
    "carer": "Reads PEPs and shares the child's views",
    "designated_teacher": "Writes the setting's part of PEPs; there is one nominated Designated Teacher per setting",
    "setting_staff": "Helps the Designated Teacher, seeing only what they allow",
}
SETTING_TYPES = {"school": "School", "academy": "Academy", "college": "College",
                 "early_years": "Early years setting", "alternative_provision": "Alternative provision"}
PHASES = {"early_years": "Early years", "primary": "Primary", "secondary": "Secondary",
          "all_through": "All-through", "post_16": "Post-16", "special": "Special"}
# The PEP's sections a DT can open to setting staff (keys are free strings until the PEP template lands).
# The default templates' section keys (services/pep/templates), which staff access grants name.
SECTIONS = {"personal": "Personal, care and health information", "education": "Education",
            "attainment": "Attainment and progress", "views": "The child's views", "carer_views": "The carer's views",
            "targets": "Targets and funding",
            "meeting": "The PEP meeting", "signoff": "Virtual School sign-off"}
UK = ZoneInfo("Europe/London")
# What identity records in its audit log, offered as the audit page's filter (others it adds later still
# appear in the list once they happen).
AUDIT_ACTIONS = ("account_deactivated", "account_reactivated", "designated_teacher_changed", "email_changed",
                 "invitation_accepted", "invitation_sent", "invitation_withdrawn", "organisation_changed",
                 "password_changed", "password_reset", "password_reset_requested", "registered", "session_ended",
                 "session_rules_changed", "sessions_ended_by_admin", "setting_added", "sign_in", "sign_in_code_issued",
                 "staff_access_changed")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    roles: tuple[str, ...]
    href: str | None = None  # its administration page, when this person can manage it


@dataclass(frozen=True)
class OrganisationGroup:
    heading: str
    organisations: tuple[Organisation, ...]


def group_memberships(memberships: Iterable[dict[str, Any]]) -> list[OrganisationGroup]:
    """Memberships grouped by organisation type, one row per organisation with all its roles in words.

    Organisations are sorted by name; roles keep the order identity gave them, without repeats."""
    memberships = list(memberships)
    by_type: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for m in memberships:
        kind = str(m.get("organisation_type", ""))
        orgs = by_type.setdefault(kind if kind in ORGANISATION_TYPES else "other", {})
        org_id = str(m["organisation_id"])
        name, roles = orgs.setdefault(org_id, (str(m.get("organisation_name", "")), []))
        role = role_name(str(m.get("role", "")))
        if role not in roles:
            roles.append(role)
    managed = manageable_organisations(memberships)
    groups = []
    for kind in [*ORGANISATION_TYPES, "other"]:
        if kind not in by_type:
            continue
        organisations = sorted((Organisation(i, n, tuple(r), f"/organisations/{i}" if i in managed else None)
                                for i, (n, r) in by_type[kind].items()),
                               key=lambda o: o.name.casefold())
        heading = ORGANISATION_TYPES.get(kind, "Other organisations")
        groups.append(OrganisationGroup(heading, tuple(organisations)))
    return groups


def manageable_organisations(memberships: Iterable[dict[str, Any]]) -> set[str]:
    """Organisations whose administration page to link: a VS admin's LA, a Designated Teacher's setting."""
    found = set()
    for m in memberships:
        kind, role = m.get("organisation_type"), m.get("role")
        if (kind == "local_authority" and role == "vs_admin") or (kind == "setting" and role == "designated_teacher"):
            found.add(str(m["organisation_id"]))
    return found


def roles_at(memberships: Iterable[dict[str, Any]], organisation_id: str | None) -> set[str]:
    if not organisation_id:
        return set()
    return {str(m.get("role")) for m in memberships if str(m.get("organisation_id")) == str(organisation_id)}


@dataclass(frozen=True)
class Powers:
    """What this person may do on one organisation's page (the gateway still checks every action)."""

    la_admin: bool  # VS admin of the LA, or of the LA the setting is in
    designated_teacher: bool  # the DT of this setting
    invitable_roles: tuple[str, ...]

    @property
    def can_invite(self) -> bool:
        return bool(self.invitable_roles)


def powers(memberships: Iterable[dict[str, Any]], organisation_type: str, organisation_id: str,
           la_id: str | None) -> Powers:
    memberships = list(memberships)
    if organisation_type == "local_authority":
        admin = "vs_admin" in roles_at(memberships, organisation_id)
        return Powers(la_admin=admin, designated_teacher=False, invitable_roles=LA_ROLES if admin else ())
    admin = "vs_admin" in roles_at(memberships, la_id)
    dt = "designated_teacher" in roles_at(memberships, organisation_id)
    invitable = SETTING_ROLES if admin else ("setting_staff",) if dt else ()
    return Powers(la_admin=admin, designated_teacher=dt, invitable_roles=invitable)


def full_name(person: Any) -> str:
    """A person's name as one string, from any answer that names someone (a member, a child, a nomination...)."""
    return f"{person.given_name} {person.family_name}".strip()


def date_time(value: datetime | None) -> str:
    """GOV.UK style, in UK time: "23 November 2026 at 4:37pm"."""
    if value is None:
        return ""
    local = value.astimezone(UK) if value.tzinfo else value
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{suffix}"


def date_only(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(UK) if value.tzinfo else value
    return f"{local.day} {local:%B %Y}"


def access_summary(access: dict[str, Any] | None) -> str:
    """What a member of staff may see, in words: "All children, all sections" or the sections named."""
    access = access or {}
    children = access.get("children")
    sections = access.get("sections")
    who = "All children" if children is None else (
        "1 child" if len(children) == 1 else f"{len(children)} children")
    if sections is None:
        what = "all sections"
    elif not sections:
        what = "no sections"
    else:
        what = "sections: " + ", ".join(SECTIONS.get(s, s) for s in sections)
    return f"{who}, {what}"


def action_name(action: str) -> str:
    """An audit action's key in words: "invitation.created" reads "Invitation created"."""
    words = action.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else action


def choice_name(choices: dict[str, str], key: str | None) -> str:
    if not key:
        return ""
    return choices.get(key, key.replace("_", " ").capitalize())
