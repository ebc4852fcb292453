"""What an invited young person or carer is asked, and the code that lets them in: the rules without I/O."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from services.pep.domain import views
from services.pep.template_library import load_default_templates
from shared import codes

KEYS = [SecretStr("v1:a-test-key"), SecretStr("v0:an-older-key")]


def keys_for(key: str, section: str, question_set: str | None) -> list[str]:
    found = load_default_templates()[key].section(section)
    assert found is not None
    return [q.key for q in views.questions_for(found, question_set)]


def test_the_child_is_never_asked_the_adults_questions_and_sees_their_question_sets_only() -> None:
    secondary = keys_for("school-age", "views", "secondary")
    assert {"future", "options", "good_at", "tell_meeting"} <= set(secondary)
    assert not {"how_gathered", "helper", "question_set", "communication", "observed_likes"} & set(secondary)
    primary = keys_for("school-age", "views", "primary")
    assert "future" not in primary and "good_at" in primary
    assert "like_symbols" in keys_for("school-age", "views", "symbols")
    assert "adult_note" not in keys_for("early-years", "views", None)
    assert "carer_name" in keys_for("post-16", "carer_views", None)


def test_their_questions_show_with_no_condition_left_on_the_adults_answers() -> None:
    section = load_default_templates()["school-age"].section("views")
    assert section is not None
    assert all(q.show_when is None for q in views.questions_for(section, "secondary"))


def test_saving_by_invitation_records_how_the_views_were_gathered_unless_someone_said() -> None:
    section = load_default_templates()["school-age"].section("views")
    assert section is not None
    assert views.recorded_how(section, "secondary", {}) == {"how_gathered": "interactive", "question_set": "secondary"}
    assert views.recorded_how(section, "secondary", {"how_gathered": "with_adult", "question_set": "primary"}) == {}


def test_a_code_opens_only_its_own_invitation_and_only_while_it_may() -> None:
    invitation = uuid.uuid4()
    code = codes.new_code()
    key_id, stored = views.code_digest(KEYS, invitation, code)

    def judge(entered: str, **more: object) -> views.CodeOutcome:
        args: dict = {"key_id": key_id, "stored": stored, "tries": 0, "max_tries": 5, "expired": False, "used": False}
        return views.judge_code(KEYS, more.pop("owner", invitation), entered, **{**args, **more})  # type: ignore[arg-type]

    assert judge(codes.display(code)) is views.CodeOutcome.ACCEPTED
    assert judge(code) is views.CodeOutcome.ACCEPTED
    assert judge(code, owner=uuid.uuid4()) is views.CodeOutcome.WRONG
    assert judge("not a code") is views.CodeOutcome.WRONG
    assert judge(code, tries=5) is views.CodeOutcome.NEED_NEW
    assert judge(code, expired=True) is views.CodeOutcome.NEED_NEW
    assert judge(code, used=True) is views.CodeOutcome.NEED_NEW
    token = views.new_token()
    assert len(token) >= 43 and views.token_hash(token) != views.token_hash(views.new_token())


def test_the_set_a_child_answered_replaces_one_only_carried_forward_and_their_own_answers_are_named() -> None:
    section = load_default_templates()["school-age"].section("views")
    assert section is not None
    # Primary was carried from the last PEP and nobody has checked it: the inviter's Secondary replaces it.
    carried = {"question_set": "primary"}
    assert views.recorded_how(section, "secondary", carried, ["question_set"]) == {
        "how_gathered": "interactive", "question_set": "secondary"}
    # An adult chose Primary this term: it stays (the child's Secondary answers still show, by `given`).
    assert "question_set" not in views.recorded_how(section, "secondary", carried, [])
    # Of what their saves changed, the questions that were theirs (not the adult's recorded beside them).
    assert views.answered_by(section, "secondary", ["future", "how_gathered", "question_set", "good_at"]) == [
        "future", "good_at"]
