"""The child's and carer's views given by secure invitation: the rules, without I/O.

An invitation is for one section of one PEP. Its emailed link carries a long random token; only its SHA-256 is
kept. Opening it emails a short code to the same address (8 digits, kept as a keyed HMAC bound to the
invitation, a few tries); the right code opens a session kept only as a hash too. What the person sees is the
section's questions that are for them (not the adult's questions about how the views were gathered), with
conditions settled by the question set the inviter chose, and nothing else about the child.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import SecretStr

from services.pep.domain.lifecycle import EDITABLE, SECTION_WRITERS, may_edit_section
from shared.api.templates import Section, TemplateField, visible
from shared.api.views import InvitationStatus
from shared.codes import keyed_digest, keyed_matches, normalise

AUDIENCES = {"views": "young_person", "carer_views": "carer"}  # which section each kind of person is asked to
QUESTION_SETS = ("primary", "secondary", "symbols")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def code_digest(keys: list[SecretStr], invitation_id: uuid.UUID, code: str,
                key_id: str | None = None) -> tuple[str, bytes]:
    return keyed_digest(keys, f"views:{invitation_id}:{code}", key_id)


class CodeOutcome(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    NEED_NEW = "need_new"  # expired, used, or too many tries


def judge_code(keys: list[SecretStr], invitation_id: uuid.UUID, entered: str, *, key_id: str | None,
               stored: bytes | None, tries: int, max_tries: int, expired: bool, used: bool) -> CodeOutcome:
    if stored is None or key_id is None or used or tries >= max_tries or expired:
        return CodeOutcome.NEED_NEW
    digits = normalise(entered)
    if digits is None:
        return CodeOutcome.WRONG
    if key_id not in {k.get_secret_value().partition(":")[0] for k in keys}:
        return CodeOutcome.NEED_NEW  # its key has been retired since: the code cannot be checked any more
    if keyed_matches(keys, f"views:{invitation_id}:{digits}", key_id, stored):
        return CodeOutcome.ACCEPTED
    return CodeOutcome.WRONG


def usable(invitation: dict[str, Any], pep_status: str, now: datetime) -> bool:
    """An invitation works until it expires or is revoked, and only while its PEP is still being written:
    once the PEP is submitted (or signed off, or cancelled) the link stops working."""
    return (invitation["revoked_at"] is None and invitation["expires_at"] > now and pep_status in EDITABLE)


def questions_for(section: Section, question_set: str | None) -> list[TemplateField]:
    """The section's questions for the invited person: not the adult's, and only those the question set shows.

    Conditions on the adult's questions are settled here (and dropped from what is shown), so the form
    shows exactly the questions that apply."""
    preset = _preset(section, question_set)
    shown = []
    for f in section.fields:
        if f.for_adult:
            continue
        if f.show_when is not None and section.field(f.show_when.field) is not None \
                and section.field(f.show_when.field).for_adult:  # type: ignore[union-attr]
            if not visible(f, preset, section.fields):
                continue
            f = f.model_copy(update={"show_when": None})
        shown.append(f)
    return shown


def _preset(section: Section, question_set: str | None) -> dict[str, Any]:
    return {"question_set": question_set} if question_set and section.field("question_set") else {}


def recorded_how(section: Section, question_set: str | None, saved: dict[str, Any],
                 to_check: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """What the adult's questions say once a person answered by invitation: they used the interactive
    questions (where the section offers that and nobody has said otherwise), with the inviter's question set.

    The set the child answered replaces one nobody has chosen this term (none, or one carried forward from the last
    PEP and not yet checked): the inviter chose it since. One an adult set this term is kept; the child's answers
    to another set's questions still show to the adults (pep's `given`, from the section's history)."""
    extra: dict[str, Any] = {}
    gathered = section.field("how_gathered")
    if gathered is not None and not saved.get("how_gathered") and any(
            o.value == "interactive" for o in gathered.options or []):
        extra["how_gathered"] = "interactive"
    chosen_this_term = saved.get("question_set") and "question_set" not in to_check
    if question_set and section.field("question_set") is not None and not chosen_this_term:
        extra["question_set"] = question_set
    return extra


def answered_by(section: Section, question_set: str | None, changed: list[str]) -> list[str]:
    """Of the questions a person's saves changed, those that were theirs (not the adult's recorded beside them)."""
    theirs = {q.key for q in questions_for(section, question_set)}
    return [k for k in changed if k in theirs]


def status(revoked: bool, expired: bool, pep_status: str) -> InvitationStatus:
    """An invitation as its inviter sees it: revoked, closed (the PEP moved on), expired or open."""
    if revoked:
        return "revoked"
    if pep_status not in EDITABLE:
        return "closed"
    return "expired" if expired else "open"


def is_open(revoked: bool, expired: bool, pep_status: str) -> bool:
    """Whether its link and sessions still work (the database says whether it has expired, by its clock)."""
    return not revoked and not expired and pep_status in EDITABLE


def may_invite(can_edit: bool, via: str, owner: str, pep_status: str) -> bool:
    """Whoever may write the section now may invite a young person or carer to it."""
    return can_edit and may_edit_section(owner, pep_status, via)


def may_revoke(can_edit: bool, via: str, owner: str) -> bool:
    """The section's writers may revoke an invitation to it, whatever state the PEP is in."""
    return can_edit and via in SECTION_WRITERS[owner]


def child_short_name(given_name: str, family_name: str) -> str:
    """How an invitation names the child: given name and initial ("Alex J.")."""
    return f"{given_name} {family_name[:1]}."
