"""Password policies. The default follows NCSC and NIST SP 800-63B: long enough, not common, not your own name
or address, and no composition rules. Kent's composition rules are kept as an alternative an LA may need."""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

Policy = Literal["ncsc", "kent"]


@cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def problems(password: str, *, given_name: str, family_name: str, email: str, policy: Policy = "ncsc",
             min_length: int = 10) -> list[str]:
    """What is wrong with this password, in words a person can act on (empty: it is fine)."""
    if policy == "kent":
        return _kent(password)
    found = []
    if len(password) < min_length:
        found.append(f"Your password must be at least {min_length} characters")
    if len(password) > 256:
        found.append("Your password must be 256 characters or fewer")
    lowered = password.lower()
    # A common word with numbers added ("password2026") is as guessable as the word.
    stem = re.sub(r"[\d!?.]+$", "", lowered)
    if lowered in _common() or (len(stem) >= 4 and stem in _common()):
        found.append("Choose a less common password")
    personal = {given_name.lower(), family_name.lower(), email.lower(), email.split("@")[0].lower()}
    if any(len(part) >= 3 and part in lowered for part in personal):
        found.append("Your password must not contain your name or email address")
    return found


def _kent(password: str) -> list[str]:
    found = []
    if len(password) < 8:
        found.append("Your password must be at least 8 characters")
    if not re.fullmatch(r"[A-Za-z0-9!@#$%&*]*", password):
        found.append("Your password must contain only letters, digits and these characters: ! @ # $ % & *")
    if not password[:1].isalpha():
        found.append("Your password must start with a letter")
    if not re.search(r"[A-Z]", password):
        found.append("Your password must contain at least one capital letter")
    if not re.search(r"\d", password):
        found.append("Your password must contain at least one number")
    return found
