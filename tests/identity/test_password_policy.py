from __future__ import annotations

from services.identity.domain.password_policy import problems

NAME = {"given_name": "Dana", "family_name": "Teacher", "email": "dana.t@school.test"}


def test_a_long_uncommon_password_is_fine() -> None:
    assert problems("correct horse battery staple", **NAME) == []


def test_short_passwords_are_refused_with_the_length_named() -> None:
    assert problems("Xq9!vb", **NAME) == ["Your password must be at least 10 characters"]


def test_common_passwords_from_the_bundled_list_are_refused() -> None:
    assert "Choose a less common password" in problems("password123", **NAME)
    assert "Choose a less common password" in problems("1234567890", **NAME)


def test_a_password_containing_your_name_or_email_is_refused() -> None:
    assert problems("teacher-of-the-year", **NAME) == ["Your password must not contain your name or email address"]
    assert problems("my dana.t@school.test", **NAME) == ["Your password must not contain your name or email address"]


def test_no_composition_rules_by_default() -> None:
    assert problems("all lower case words", **NAME) == []


def test_kents_policy_is_available() -> None:
    assert problems("Abcdefg1", policy="kent", **NAME) == []
    assert problems("1abcdefgh", policy="kent", **NAME) == [
        "Your password must start with a letter", "Your password must contain at least one capital letter"]
    assert "Your password must contain only letters, digits and these characters: ! @ # $ % & *" in problems(
        "Abcdefg1^", policy="kent", **NAME)
