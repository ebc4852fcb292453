"""The one-time code rules, without any I/O."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from services.identity.domain import codes
from services.identity.domain.throttle import delay_after

KEYS = [SecretStr("k2:new-secret-0123456789abcdef"), SecretStr("k1:old-secret-0123456789abcdef")]


def test_a_code_is_eight_digits_shown_in_two_groups() -> None:
    code = codes.new_code()
    assert len(code) == 8 and code.isdigit()
    assert codes.display("12345678") == "1234 5678"


def test_what_a_person_types_is_forgiven_spaces_and_dashes() -> None:
    assert codes.normalise(" 1234 5678 ") == "12345678"
    assert codes.normalise("1234-5678") == "12345678"
    assert codes.normalise("1234 567") is None
    assert codes.normalise("abcd efgh") is None


def test_a_code_matches_only_its_own_attempt() -> None:
    attempt, other = uuid.uuid4(), uuid.uuid4()
    kid, digest = codes.digest(KEYS, attempt, "12345678")
    assert kid == "k2"
    assert codes.matches(KEYS, attempt, "12345678", kid, digest)
    assert not codes.matches(KEYS, other, "12345678", kid, digest)
    assert not codes.matches(KEYS, attempt, "12345679", kid, digest)


def test_a_code_made_with_an_older_key_still_verifies_until_that_key_is_removed() -> None:
    attempt = uuid.uuid4()
    kid, digest = codes.digest(KEYS[1:], attempt, "00000001")
    assert codes.matches(KEYS, attempt, "00000001", kid, digest)
    assert not codes.matches(KEYS[:1], attempt, "00000001", kid, digest)


def test_delays_start_after_the_free_tries_double_and_are_capped() -> None:
    assert [delay_after(n, 5, 900) for n in range(3, 10)] == [0, 0, 1, 2, 4, 8, 16]
    assert delay_after(40, 5, 900) == 900
