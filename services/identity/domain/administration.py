"""Administration: the rules, without I/O. What an organisation's record may be changed to, how an invitation's
link token is made and kept, and how much of the audit trail one page shows."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

SETTING_ONLY = frozenset({"setting_type", "urn", "phase"})  # a local authority does not have these
AUDIT_PAGE, AUDIT_PAGE_MAX = 50, 500


def organisation_change_errors(org_type: str, changes: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with these changes to an organisation, field by field (empty: nothing)."""
    required = ("name", "setting_type") if org_type == "setting" else ("name",)
    if blanked := [field for field in required if field in changes and changes[field] is None]:
        return [(field, "This cannot be left empty") for field in blanked]
    if org_type == "local_authority" and SETTING_ONLY & set(changes):
        return [(f, "A local authority does not have this") for f in sorted(SETTING_ONLY & set(changes))]
    return []


def one_line(name: str) -> str:
    """A name as typed, with runs of spaces and line breaks made one space."""
    return " ".join(name.split())


def invitation_token() -> tuple[str, bytes]:
    """An invitation link's token, and its SHA-256: only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def audit_page_size(raw: str | None) -> int:
    """How many audit entries a page shows: as asked, within 1 to 500. ValueError if not a number."""
    return min(max(int(raw if raw is not None else str(AUDIT_PAGE)), 1), AUDIT_PAGE_MAX)
