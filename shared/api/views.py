"""The child's and carer's views by secure invitation, as the gateway exposes them (pep owns them).

Two halves: the Designated Teacher or social worker invites, lists and revokes (signed in, about one PEP); the
invited young person or carer opens the emailed link, gets a code by email, and answers (no account: the
link's token, then the code, then a session that is good for that invitation's section only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api.identity import Email
from shared.api.operations import Operation, operation

Section = Literal["views", "carer_views"]
QuestionSet = Literal["primary", "secondary", "symbols"]
# closed: the PEP has moved on (submitted, signed off or cancelled)
InvitationStatus = Literal["open", "expired", "revoked", "closed"]


class ViewsInvite(BaseModel):
    section: Section = Field(description="views: the child or young person's own; carer_views: their carer's")
    given_name: str = Field(min_length=1, max_length=100, description="How the email greets them")
    email: Email
    days: int = Field(default=14, ge=1, le=28, description="How many days the link works for")
    question_set: QuestionSet | None = Field(default=None, description="School-age views only: which questions "
                                             "suit the child (primary, secondary, symbols)")


class ViewsInvitationOut(BaseModel):
    id: uuid.UUID
    pep_id: uuid.UUID
    section: str
    audience: Literal["young_person", "carer"]
    given_name: str
    email: str
    question_set: str | None = None
    status: InvitationStatus = Field(description="closed: the PEP has moved on (submitted, signed off or cancelled)")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    created_by_name: str | None = None


class ViewsOpen(BaseModel):
    token: str = Field(min_length=20, max_length=100, description="From the emailed link")


class ViewsCodeSent(BaseModel):
    code_expires_at: datetime


class ViewsVerify(BaseModel):
    token: str = Field(min_length=20, max_length=100)
    code: str = Field(min_length=1, max_length=32, description="8 digits, with or without the space: 1234 5678")


class ViewsSession(BaseModel):
    session_token: str = Field(description="Kept by the portal in a cookie for the views pages only")
    expires_at: datetime


class ViewsSave(BaseModel):
    answers: dict[str, Any] = Field(description="Only the answers that changed; null clears one")


class ViewsGiven(BaseModel):
    """Who gave a section's views by invitation, with which questions, and when they last saved: so the adults
    read the answers knowing whose they are, and every answer shows with the question it answered."""

    name: str = Field(description="Their first name, as the invitation greeted them")
    audience: Literal["young_person", "carer"]
    question_set: QuestionSet | None = Field(default=None, description="The questions they were asked")
    answered: list[str] = Field(description="The questions they answered (keys): each shows to the adults, "
                                "whatever the section's question set says now")
    last_saved_at: datetime


class ViewsForm(BaseModel):
    """What the invited person sees: their questions and answers, and nothing else about the child."""

    audience: Literal["young_person", "carer"]
    given_name: str
    title: str
    questions: list[dict[str, Any]] = Field(description="The section's questions for them, as in a template")
    answers: dict[str, Any]
    saved_at: datetime | None = None
    expires_at: datetime


# ---- operations ------------------------------------------------------------------------------------


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="pep", **options)


LIST_VIEWS_INVITATIONS = _op("list_views_invitations", "get", "/peps/{pep_id}/views-invitations", "The invitations to "
                             "give views sent for a PEP", response=ViewsInvitationOut, many=True, tags=("views",))
INVITE_VIEWS = _op("invite_views", "post", "/peps/{pep_id}/views-invitations", "Email a young person or carer a "
                   "secure link to this PEP's views section (theirs only; no account needed)", body=ViewsInvite,
                   response=ViewsInvitationOut, status=201, tags=("views",))
REVOKE_VIEWS_INVITATION = _op("revoke_views_invitation", "post",
                              "/peps/{pep_id}/views-invitations/{invitation_id}/revoke", "Stop an invitation working",
                              response=ViewsInvitationOut, tags=("views",))

_public = (400, 404, 422, 429)
CHECK_VIEWS_LINK = operation("check_views_link", "post", "/views/check", "Whether an emailed views link still works, "
                             "as it is opened: nothing is sent and nothing changes (404, kindly worded and the same "
                             "for a revoked, expired, unknown or cut-short link)", service="gateway", body=ViewsOpen,
                             status=204, public=True, errors=(404, 422, 429), tags=("views",))
OPEN_VIEWS_LINK = operation("open_views_link", "post", "/views/open", "Open an emailed views link: a code is emailed "
                            "to the same address (404, kindly worded, for a link that does not work)",
                            service="gateway", body=ViewsOpen, response=ViewsCodeSent, status=202, public=True,
                            errors=_public, tags=("views",))
VERIFY_VIEWS_CODE = operation("verify_views_code", "post", "/views/verify", "Enter the emailed code: a views session "
                              "for that invitation only", service="gateway", body=ViewsVerify,
                              response=ViewsSession, public=True, errors=_public, tags=("views",))
GET_VIEWS_FORM = operation("get_views_form", "get", "/views/form", "The invited person's questions and answers "
                           "(cookie epep_views)", service="gateway", response=ViewsForm, public=True,
                           errors=(401, 404), tags=("views",))
SAVE_VIEWS_FORM = operation("save_views_form", "put", "/views/form", "Save some answers as they go (cookie "
                            "epep_views)", service="gateway", body=ViewsSave, response=ViewsForm, public=True,
                            errors=(401, 404, 422), tags=("views",))
END_VIEWS_SESSION = operation("end_views_session", "post", "/views/end", "I have finished: the views session ends "
                              "on the server at once, so its cookie opens nothing again (cookie epep_views)",
                              service="gateway", status=204, public=True, errors=(401,), tags=("views",))
