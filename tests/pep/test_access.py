"""Who reaches a child, and how: the one rule every pep endpoint asks."""

from __future__ import annotations

from services.pep.domain.access import ChildRef, access_to
from shared.internal_auth import Claims, Membership

LA, OTHER_LA, SCHOOL, OTHER_SCHOOL = "la-1", "la-2", "school-1", "school-2"
CHILD = ChildRef(id="child-1", la_id=LA, setting_id=SCHOOL, social_worker_id="sw", iro_id="iro",
                 carer_ids=frozenset({"carer"}))


def who(sub: str, *memberships: tuple[str, str, str], children: list[str] | None = None,
        sections: list[str] | None = None) -> Claims:
    return Claims(sub=sub, memberships=[
        Membership(organisation_id=org, organisation_type=kind, role=role,
                   children=children if role == "setting_staff" else None,
                   sections=sections if role == "setting_staff" else None) for org, kind, role in memberships])


def test_the_childs_virtual_school_sees_everything() -> None:
    access = access_to(who("a", (LA, "local_authority", "vs_caseworker")), CHILD)
    assert access and access.via == "virtual_school" and access.can_edit and access.sees_qa


def test_another_las_virtual_school_sees_nothing() -> None:
    assert access_to(who("a", (OTHER_LA, "local_authority", "vs_admin")), CHILD) is None


def test_only_the_allocated_social_worker() -> None:
    assert access_to(who("sw", (LA, "local_authority", "social_worker")), CHILD).via == "social_worker"  # type: ignore[union-attr]
    assert access_to(who("other-sw", (LA, "local_authority", "social_worker")), CHILD) is None


def test_the_dt_of_the_current_setting_but_not_another_setting() -> None:
    assert access_to(who("d", (SCHOOL, "setting", "designated_teacher")), CHILD).can_edit  # type: ignore[union-attr]
    assert access_to(who("d", (OTHER_SCHOOL, "setting", "designated_teacher")), CHILD) is None


def test_setting_staff_see_only_what_their_dt_granted() -> None:
    everything = access_to(who("s", (SCHOOL, "setting", "setting_staff")), CHILD)
    assert everything and everything.sections is None and not everything.sees_qa
    limited = access_to(who("s", (SCHOOL, "setting", "setting_staff"), children=["child-1"], sections=["b"]), CHILD)
    assert limited and limited.may_see_section("b") and not limited.may_see_section("a")
    assert access_to(who("s", (SCHOOL, "setting", "setting_staff"), children=["child-9"]), CHILD) is None


def test_iro_and_carers_read_only_and_carers_never_see_qa() -> None:
    iro = access_to(who("iro", (LA, "local_authority", "iro")), CHILD)
    carer = access_to(who("carer", (LA, "local_authority", "carer")), CHILD)
    assert iro and not iro.can_edit and iro.sees_qa
    assert carer and not carer.can_edit and not carer.sees_qa
    assert access_to(who("someone", (LA, "local_authority", "carer")), CHILD) is None


def test_a_service_token_is_not_a_person() -> None:
    assert access_to(Claims(sub="service:gateway"), CHILD) is None
