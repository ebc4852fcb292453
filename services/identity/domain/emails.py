from __future__ import annotations


def normalise_email(email: str) -> str:
    """Addresses compare trimmed and case-insensitively."""
    return email.strip().lower()
