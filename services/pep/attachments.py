"""Files about a child: upload, list, read, download, delete, each with an audit row.

Whoever reaches the child (`child_or_404`) may list and download its files; whoever may change the child's PEPs
(`access.can_edit`) may add and delete them; carers and IROs read only. The bytes are kept in Postgres (see
migration 0004 for why), checked by their content, never by the name or type the browser claimed, and always
sent back as a download that the browser is told not to second-guess.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

import asyncpg
from aiohttp import BodyPartReader, web

from services.pep.child_access import as_uuid, child_or_404
from services.pep.domain import sniff
from services.pep.domain.access import Access
from shared.api import attachments as api
from shared.api.attachments import ATTACHMENT_MAX_BYTES, AttachmentOut, FileAuditEntry
from shared.authz import not_found
from shared.errors import FieldError, Problem
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, serves

routes = web.RouteTableDef()
KINDS = ("ehcp", "support_plan", "sdq", "photo", "award", "other")
CHUNK = 64 * 1024
FIELD_LIMIT = 200  # bytes of a form field other than the file (a kind, a PEP id)
DRAIN = 1024 * 1024  # read past a limit, at most, before answering
# Headers every download carries: never rendered by the browser, never cached on a shared machine.
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                    "Content-Security-Policy": "default-src 'none'; sandbox"}


def max_bytes(app: web.Application) -> int:
    return int(getattr(app[SETTINGS], "attachment_max_bytes", ATTACHMENT_MAX_BYTES))


def content_disposition(filename: str) -> str:
    """Always `attachment`, with an ASCII fallback name and the real one (RFC 6266 / 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _refused(message: str, status: int = 422, field: str = "file") -> Problem:
    return Problem(status, "The file was not uploaded" if field == "file" else "Check the form", message,
                   code="file_too_large" if status == 413 else "validation",
                   errors=[FieldError(field=field, message=message)])


# ---- reading the upload ---------------------------------------------------------------------------


class Upload:
    """The parts of a multipart upload we use, each read up to its own limit."""

    def __init__(self) -> None:
        self.filename: str | None = None
        self.data = b""
        self.fields: dict[str, str] = {}


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None if there are more than `limit`. Nothing past the limit is kept; a little more is
    read and dropped, so the caller hears our answer rather than a connection closed on them mid-upload."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit + DRAIN:
            break
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


async def read_upload(request: web.Request, limit: int) -> Upload:
    """The upload, streamed part by part. The app's client_max_size (1 MiB) guards the bodies aiohttp reads
    whole; this route reads its own body, so it applies the attachment limit itself, part by part."""
    if request.content_type != "multipart/form-data":
        raise Problem(415, "Send the file as multipart/form-data", code="unsupported_media_type")
    if request.content_length is not None and request.content_length > limit + 1024 * 1024:
        raise _refused(f"The selected file must be smaller than {sniff.megabytes(limit)}", 413)
    upload = Upload()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise Problem(422, "Send one file at a time", code="validation",
                              errors=[FieldError(field="file", message="Select one file")])
            if part.name == "file" and upload.filename is None:
                upload.filename = part.filename or ""
                data = await _read_part(part, limit)
                if data is None:
                    raise _refused(f"The selected file must be smaller than {sniff.megabytes(limit)}", 413)
                upload.data = data
            elif part.name in ("kind", "pep_id"):
                value = await _read_part(part, FIELD_LIMIT)
                upload.fields[part.name] = (value or b"").decode("utf-8", "replace").strip()
            else:
                await _read_part(part, FIELD_LIMIT)  # anything else is read past, not kept
    except ValueError:  # a malformed body: aiohttp says so with ValueError/AssertionError subclasses
        raise Problem(400, "The upload could not be read", "Try again.", code="bad_multipart") from None
    return upload


# ---- handlers -------------------------------------------------------------------------------------


def _summary(row: asyncpg.Record, access: Access, audit: list[FileAuditEntry] | None = None) -> AttachmentOut:
    return AttachmentOut(id=row["id"], child_id=row["child_id"], pep_id=row["pep_id"], kind=row["kind"],
                         filename=row["filename"], content_type=row["content_type"], size_bytes=row["size_bytes"],
                         sha256=row["sha256"], uploaded_by_name=row["uploaded_by_name"],
                         uploaded_at=row["uploaded_at"], deleted_at=row["deleted_at"],
                         deleted_by_name=row["deleted_by_name"],
                         can_delete=access.can_edit and row["deleted_at"] is None, audit=audit)


_SELECT = ("SELECT a.*, nullif(concat_ws(' ', up.given_name, up.family_name), '') AS uploaded_by_name, "
           "nullif(concat_ws(' ', del.given_name, del.family_name), '') AS deleted_by_name FROM attachments a "
           "LEFT JOIN users up ON up.id = a.uploaded_by LEFT JOIN users del ON del.id = a.deleted_by ")


async def _attachment_or_404(conn: asyncpg.Connection, request: web.Request, *,
                             lock: bool = False) -> tuple[asyncpg.Record, Access]:
    """The attachment and how the caller reaches its child; 404 exactly as for a child they don't reach."""
    attachment_id = as_uuid(request.match_info["attachment_id"], "file")
    row = await conn.fetchrow(_SELECT + "WHERE a.id = $1" + (" FOR UPDATE OF a" if lock else ""), attachment_id)
    if row is None:
        raise not_found("file")
    try:
        _, access = await child_or_404(conn, request[CLAIMS], row["child_id"])
    except Problem:
        raise not_found("file") from None
    return row, access


async def _audit(conn: asyncpg.Connection, request: web.Request, row: asyncpg.Record, action: str) -> None:
    await conn.execute("INSERT INTO attachment_audit (attachment_id, child_id, action, by_user, request_id) "
                       "VALUES ($1, $2, $3, $4, $5)", row["id"], row["child_id"], action,
                       uuid.UUID(request[CLAIMS].sub), request[REQUEST_ID])


@serves(routes, api.LIST_ATTACHMENTS)
async def list_attachments(request: web.Request) -> list[AttachmentOut]:
    """The child's files, newest first (deleted ones are left out; their metadata is still there by id).
    `?pep_id=` narrows the list to one PEP's."""
    pep_filter = as_uuid(request.query["pep_id"], "PEP") if request.query.get("pep_id") else None
    async with request.app[POOL].acquire() as conn:
        child, access = await child_or_404(conn, request[CLAIMS], request.match_info["child_id"])
        rows = await conn.fetch(_SELECT + "WHERE a.child_id = $1 AND a.deleted_at IS NULL "
                                "AND ($2::uuid IS NULL OR a.pep_id = $2) ORDER BY a.uploaded_at DESC",
                                child["id"], pep_filter)
    return [_summary(r, access) for r in rows]


@serves(routes, api.UPLOAD_ATTACHMENT)
async def upload_attachment(request: web.Request) -> AttachmentOut:
    claims = request[CLAIMS]
    # Who may upload is known before the body is read: nobody streams 20 MB only to be told no.
    async with request.app[POOL].acquire() as conn:
        child, access = await child_or_404(conn, claims, request.match_info["child_id"])
    if not access.can_edit:
        raise Problem(403, "You cannot add files for this child", "Ask the child's social worker, Designated "
                      "Teacher or Virtual School to add it.", code="forbidden")
    limit = max_bytes(request.app)
    upload = await read_upload(request, limit)
    if upload.filename is None:
        raise _refused("Select a file")
    kind = upload.fields.get("kind", "")
    if kind not in KINDS:
        raise _refused("Select what kind of file this is", field="kind")
    try:
        sniff.check_size(len(upload.data), limit)
        filename, file_type = sniff.accept(upload.filename, upload.data)
    except sniff.Refused as refused:
        raise _refused(str(refused), 413 if len(upload.data) > limit else 422) from None
    attachment_id = uuid.uuid4()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        # Again inside the transaction: the child may have moved setting while the file was arriving.
        child, access = await child_or_404(conn, claims, child["id"])
        if not access.can_edit:
            raise Problem(403, "You cannot add files for this child", code="forbidden")
        pep_id = await _pep_of_child(conn, child["id"], upload.fields.get("pep_id"))
        await conn.execute(
            "INSERT INTO attachments (id, child_id, la_id, pep_id, kind, filename, content_type, size_bytes, sha256, "
            "uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", attachment_id, child["id"],
            child["la_id"], pep_id, kind, filename, file_type.content_type, len(upload.data),
            hashlib.sha256(upload.data).hexdigest(), uuid.UUID(claims.sub))
        await conn.execute("INSERT INTO attachment_content (attachment_id, content) VALUES ($1, $2)",
                           attachment_id, upload.data)
        row = await conn.fetchrow(_SELECT + "WHERE a.id = $1", attachment_id)
        await _audit(conn, request, row, "uploaded")
    return _summary(row, access)


async def _pep_of_child(conn: asyncpg.Connection, child_id: uuid.UUID, raw: str | None) -> uuid.UUID | None:
    """The PEP a file is attached to, if one was named: it must be this child's, and still being written."""
    if not raw:
        return None
    try:
        pep_id = uuid.UUID(raw)
    except ValueError:
        raise _refused("Select one of this child's PEPs", field="pep_id") from None
    status = await conn.fetchval("SELECT status FROM peps WHERE id = $1 AND child_id = $2", pep_id, child_id)
    if status is None:
        raise _refused("Select one of this child's PEPs", field="pep_id")
    if status in ("finalised", "cancelled"):
        raise _refused(f"That PEP is {status}: add the file to the child's record instead", field="pep_id")
    return pep_id


@serves(routes, api.GET_ATTACHMENT)
async def attachment(request: web.Request) -> AttachmentOut:
    """A file's metadata (deleted or not), with its audit trail for those who may change the child's files."""
    async with request.app[POOL].acquire() as conn:
        row, access = await _attachment_or_404(conn, request)
        if not access.can_edit:
            return _summary(row, access)
        trail = await conn.fetch(
            "SELECT t.action, t.at, nullif(concat_ws(' ', u.given_name, u.family_name), '') AS by_name "
            "FROM attachment_audit t LEFT JOIN users u ON u.id = t.by_user WHERE t.attachment_id = $1 "
            "ORDER BY t.id", row["id"])
    return _summary(row, access, [FileAuditEntry(action=t["action"], by_name=t["by_name"], at=t["at"])
                                  for t in trail])


@serves(routes, api.DOWNLOAD_ATTACHMENT)
async def download(request: web.Request) -> web.Response:
    """The file itself, always as a download, in the type its bytes were found to be."""
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, _ = await _attachment_or_404(conn, request)
        content = await conn.fetchval("SELECT content FROM attachment_content WHERE attachment_id = $1", row["id"])
        if row["deleted_at"] is not None or content is None:
            raise not_found("file")
        await _audit(conn, request, row, "downloaded")
    return web.Response(body=content, content_type=row["content_type"], headers={
        **DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(row["filename"])})


@serves(routes, api.DELETE_ATTACHMENT)
async def delete_attachment(request: web.Request) -> None:
    """Remove the content; keep who uploaded it, who deleted it and when."""
    claims = request[CLAIMS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row, access = await _attachment_or_404(conn, request, lock=True)
        if row["deleted_at"] is not None:
            raise not_found("file")
        if not access.can_edit:
            raise Problem(403, "You cannot delete this child's files", code="forbidden")
        await conn.execute("DELETE FROM attachment_content WHERE attachment_id = $1", row["id"])
        await conn.execute("UPDATE attachments SET deleted_at = now(), deleted_by = $2 WHERE id = $1", row["id"],
                           uuid.UUID(claims.sub))
        await _audit(conn, request, row, "deleted")
