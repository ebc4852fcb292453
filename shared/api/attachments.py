"""pep's attachments API as the gateway exposes it. Uploads and downloads are streamed, not JSON: only the
metadata has a model here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# Both the gateway (which caps what it passes on) and pep (which decides) read EPEP_ATTACHMENT_MAX_BYTES.
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
Kind = Literal["ehcp", "support_plan", "sdq", "photo", "award", "other"]


class AuditEntry(BaseModel):
    action: Literal["uploaded", "downloaded", "deleted"]
    by_name: str | None
    at: datetime


class AttachmentOut(BaseModel):
    id: uuid.UUID
    child_id: uuid.UUID
    pep_id: uuid.UUID | None
    kind: Kind
    filename: str
    content_type: str = Field(description="Sniffed from the file's content, not taken from the upload")
    size_bytes: int
    sha256: str
    uploaded_by_name: str | None
    uploaded_at: datetime
    deleted_at: datetime | None
    deleted_by_name: str | None
    can_delete: bool
    audit: list[AuditEntry] | None = Field(default=None, description="Only for those who may change the "
                                                                    "child's files")
