"""pep's attachments API as the gateway exposes it. Uploads and downloads are streamed, not JSON: only the
metadata has a model here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.api.operations import Operation, operation

# Both the gateway (which caps what it passes on) and pep (which decides) read EPEP_ATTACHMENT_MAX_BYTES.
ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
Kind = Literal["ehcp", "support_plan", "sdq", "photo", "award", "other"]


class FileAuditEntry(BaseModel):
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
    audit: list[FileAuditEntry] | None = Field(default=None, description="Only for those who may change the "
                                                                    "child's files")


# ---- operations ------------------------------------------------------------------------------------

class AttachmentQuery(BaseModel):
    pep_id: uuid.UUID | None = Field(default=None, description="Only this PEP's files")


def _op(id: str, method: str, path: str, summary: str, **options: Any) -> Operation:
    return operation(id, method, path, summary, service="pep", **options)


LIST_ATTACHMENTS = _op("list_attachments", "get", "/children/{child_id}/attachments", "A child's files",
                       query=AttachmentQuery, response=AttachmentOut, many=True, tags=("attachments",))
GET_ATTACHMENT = _op("get_attachment", "get", "/attachments/{attachment_id}", "A file's details, deleted or not, with "
                     "its audit trail for those who may change the child's files", response=AttachmentOut,
                     tags=("attachments",))
DELETE_ATTACHMENT = _op("delete_attachment", "delete", "/attachments/{attachment_id}", "Delete a file: its content "
                        "goes, who uploaded and deleted it stays", status=204, tags=("attachments",))

UPLOAD_ATTACHMENT = _op("upload_attachment", "post", "/children/{child_id}/attachments", "Upload a file as "
                        "multipart/form-data: file (PDF, Word, JPG, PNG, GIF or WebP; 20 MB unless configured "
                        "otherwise), kind (ehcp, support_plan, sdq, photo, award, other), optional pep_id",
                        response=AttachmentOut, status=201, body_media="multipart/form-data",
                        errors=(401, 403, 404, 413, 415, 422), tags=("attachments",))
DOWNLOAD_ATTACHMENT = _op("download_attachment", "get", "/attachments/{attachment_id}/content", "Download a file "
                          "(always as an attachment, in its sniffed type)", media="application/octet-stream",
                          tags=("attachments",))
