"""UPN and ULN check characters, against published examples and ones worked by hand."""

from __future__ import annotations

import pytest

from services.pep.domain.identifiers import (
    is_valid_uln,
    is_valid_upn,
    normalise_upn,
    uln_check_digit,
    upn_check_letter,
)


@pytest.mark.parametrize("upn", [
    "B801200005001",  # python-stdnum's example of a valid UPN
    # Worked by hand: 9×2 + 3×3 + 8×4 + 2×5 + 1×8 + 1×9 + 6×10 + 1×13 = 159; 159 mod 23 = 21 → Y
    "Y938200116001",
    "M938200116002",
    "V865700119004",
    "J93820011600A",  # temporary: the final letter counts as its place in the alphabet (A = 0)
])
def test_valid_upns(upn: str) -> None:
    assert is_valid_upn(upn)


@pytest.mark.parametrize("upn,why", [
    ("A801200005001", "wrong check letter"),
    ("Z938200116001", "wrong check letter"),
    ("Y938200116010", "two digits swapped"),
    ("B80120000500", "12 characters"),
    ("B8012000050011", "14 characters"),
    ("X80120000A001", "a letter in the middle"),
    ("880120000500B", "a digit where the check letter goes"),
    ("I93820011600A", "I is never a check letter"),
    ("J93820011600O", "O is never a final letter"),
    ("", "empty"),
    ("B８01200005001", "a non-ASCII digit"),
])
def test_invalid_upns(upn: str, why: str) -> None:
    assert not is_valid_upn(upn), why


def test_check_letters_skip_i_o_and_s() -> None:
    # Remainders 0..22 read A..Z without I, O and S.
    assert upn_check_letter("002000000000") == "J"  # 2 × 4 = 8: the ninth letter, after H, is J
    assert upn_check_letter("000000000001") == "P"  # 1 × 13 = 13: after N comes P
    assert upn_check_letter("000000000003") == "T"  # 3 × 13 = 39 ≡ 16: after R comes T
    assert upn_check_letter("000000000000") == "A"


def test_upns_are_forgiven_spaces_and_case_as_typed() -> None:
    assert normalise_upn(" y938 2001 16001 ") == "Y938200116001"


@pytest.mark.parametrize("uln", [
    "9276308686",  # HESA's worked example: 10×9 + 9×2 + ... + 1×6 = 296; 296 mod 11 = 10
    "1234567899",  # 210 mod 11 = 1, so the check digit is 10 - 1 = 9
    "4815162343",
    "1000000000",  # 10 mod 11 = 10, check digit 0
])
def test_valid_ulns(uln: str) -> None:
    assert is_valid_uln(uln)


@pytest.mark.parametrize("uln,why", [
    ("9276308687", "wrong check digit"),
    ("9276308668", "two digits swapped"),
    ("0276308686", "starts with 0"),
    ("927630868", "9 digits"),
    ("92763086866", "11 digits"),
    ("92763O8686", "a letter"),
    ("9999999999", "no check digit fits (the remainder is 2, so the check digit would be 8)"),
])
def test_invalid_ulns(uln: str, why: str) -> None:
    assert not is_valid_uln(uln), why


def test_a_remainder_of_0_has_no_check_digit_so_no_such_uln_exists() -> None:
    prefix = "110000010"  # 1×10 + 1×9 + 1×3 = 22, and 22 mod 11 = 0: the check digit would have to be 10
    assert uln_check_digit(prefix) is None
    assert not any(is_valid_uln(prefix + str(d)) for d in range(10))
