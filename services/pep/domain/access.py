"""Who may see a child and their PEPs, and what they may do. One function, so every endpoint asks it.

- the child's LA's Virtual School (admin, caseworker, approver): everything;
- the child's allocated social worker: everything but QA decisions;
- the DT of the child's current setting: everything but QA decisions; setting staff only what the DT granted;
- the child's IRO and carers: read only; carers never see QA ratings or feedback.
Who sees QA (its ratings and feedback, and the Virtual School's sign-off section) is one rule for every service,
shared.authz.sees_qa, from how the caller reaches the child; `Access.sees_qa` and `may_see` apply it here.
Anyone else: nothing, and the endpoint answers 404 as if the child did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.api.children import AccessVia
from shared.api.templates import Section
from shared.authz import may_see_section_of
from shared.authz import sees_qa as via_sees_qa
from shared.internal_auth import Claims

VIRTUAL_SCHOOL = frozenset({"vs_admin", "vs_caseworker", "vs_approver"})


@dataclass(frozen=True)
class ChildRef:
    """What access depends on, from the child's record."""

    id: str
    la_id: str
    setting_id: str | None
    social_worker_id: str | None = None
    iro_id: str | None = None
    carer_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Access:
    via: AccessVia  # virtual_school | social_worker | designated_teacher | setting_staff | iro | carer
    can_edit: bool
    sections: frozenset[str] | None = None  # None: every section

    @property
    def sees_qa(self) -> bool:
        return via_sees_qa(self.via)

    def may_see_section(self, key: str) -> bool:
        """Whether the section's key is among those this caller was granted (setting staff: what the DT chose).
        Reading a section of a template also needs its owner: `may_see`."""
        return self.sections is None or key in self.sections

    def may_see(self, section: Section) -> bool:
        """Whether this caller may read this section of a PEP: granted, and not QA's unless they see QA."""
        return self.may_see_section(section.key) and may_see_section_of(self.via, section.owner)


def access_to(claims: Claims, child: ChildRef) -> Access | None:
    """The strongest way this caller reaches this child, or None."""
    if claims.is_service:
        return None
    me = claims.sub
    roles_at_la = {m.role for m in claims.memberships if m.organisation_id == child.la_id}
    if roles_at_la & VIRTUAL_SCHOOL:
        return Access("virtual_school", can_edit=True)
    if child.social_worker_id == me and "social_worker" in roles_at_la:
        return Access("social_worker", can_edit=True)
    if child.setting_id is not None:
        for m in claims.memberships:
            if m.organisation_id != child.setting_id:
                continue
            if m.role == "designated_teacher":
                return Access("designated_teacher", can_edit=True)
            if m.role == "setting_staff" and (m.children is None or child.id in m.children):
                return Access("setting_staff", can_edit=True,
                              sections=frozenset(m.sections) if m.sections is not None else None)
    if child.iro_id == me and "iro" in roles_at_la:
        return Access("iro", can_edit=False)
    if me in child.carer_ids and "carer" in roles_at_la:
        return Access("carer", can_edit=False)
    return None


def visible_children_filter(claims: Claims) -> dict[str, list[str]]:
    """What a child list may be narrowed to before `access_to` decides each child: the LAs where the caller
    works for the Virtual School or as a social worker, IRO or carer, and the settings where they work."""
    las = sorted({m.organisation_id for m in claims.memberships if m.organisation_type == "local_authority"})
    settings = sorted({m.organisation_id for m in claims.memberships if m.organisation_type == "setting"})
    return {"la_ids": las, "setting_ids": settings}
