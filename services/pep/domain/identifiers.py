"""The national identifiers a child's record carries, and how to tell a mistyped one.

UPN (Unique Pupil Number, DfE): 13 characters. Character 1 is a check letter; 2–4 the LA number, 5–8 the
establishment, 9–10 the year of issue, 11–13 a serial. A temporary UPN ends in a letter instead of a digit.
The check letter: each of characters 2–13 times its position (2..13), summed, modulo 23, read from the
alphabet without I, O and S (0 = A ... 22 = Z); a temporary UPN's final letter counts as its place in that
same alphabet. (UK Government Data Standards Catalogue, Unique Pupil Number v2.0.)

ULN (Unique Learner Number, Learning Records Service): 10 digits, the first not 0. Digits 1–9 times
10, 9 ... 2, summed, modulo 11; the check digit is 10 minus that remainder, and a remainder of 0 (which
would need a check digit of 10) is never issued. Equivalently, as HESA states it, all ten digits times
10..1 sum to a remainder of 10 modulo 11.

Nothing here does I/O.
"""

from __future__ import annotations

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: no I, O or S
UPN_MESSAGE = "Enter a valid UPN: 13 characters, a letter, 12 digits or letters, with the right check letter"
ULN_MESSAGE = "Enter a valid ULN: 10 digits, the first not 0, with the right check digit"


def normalise_upn(value: str) -> str:
    """As people type it: spaces and lower case are forgiven."""
    return "".join(value.split()).upper()


def normalise_uln(value: str) -> str:
    return "".join(value.split())


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (11 digits, then a digit or a letter)."""
    if len(body) != 12 or not body[:11].isdigit() or not (body[11].isdigit() or body[11] in UPN_ALPHABET):
        raise ValueError("a UPN body is 11 digits then a digit or a letter other than I, O or S")
    total = 0
    for position, char in enumerate(body, start=2):
        value = int(char) if char.isdigit() else UPN_ALPHABET.index(char)
        total += value * position
    return UPN_ALPHABET[total % 23]


def is_valid_upn(value: str) -> bool:
    """A permanent (letter + 12 digits) or temporary (letter + 11 digits + letter) UPN whose check letter is right.
    Expects the normalised form."""
    if len(value) != 13 or not value.isascii():
        return False
    try:
        return upn_check_letter(value[1:]) == value[0]
    except ValueError:
        return False


def uln_check_digit(first_nine: str) -> int | None:
    """The check digit for a ULN's first nine digits; None if no ULN can start with them."""
    if len(first_nine) != 9 or not first_nine.isdigit() or not first_nine.isascii() or first_nine[0] == "0":
        raise ValueError("a ULN starts with nine digits, the first not 0")
    remainder = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True)) % 11
    check = 10 - remainder
    return None if check == 10 else check


def is_valid_uln(value: str) -> bool:
    if len(value) != 10 or not value.isdigit() or not value.isascii() or value[0] == "0":
        return False
    return uln_check_digit(value[:9]) == int(value[9])
