"""What an uploaded file really is, from its first bytes, and whether we keep it.

Attachments are PDFs, Word documents and images. The type a browser sends and the file's extension are the
uploader's claims; the bytes are the truth. Anything we cannot recognise is refused, and so is a file whose
name says one thing while its content is another (an HTML page called `report.pdf`), because a file that
pretends is the usual way to get a browser to run something it should only have downloaded.
Nothing here does I/O.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    content_type: str
    extensions: tuple[str, ...]  # the first is the one added to a name that has none
    words: str  # how a person would name it


PDF = FileType("application/pdf", (".pdf",), "PDF")
PNG = FileType("image/png", (".png",), "PNG image")
JPEG = FileType("image/jpeg", (".jpg", ".jpeg"), "JPEG image")
GIF = FileType("image/gif", (".gif",), "GIF image")
WEBP = FileType("image/webp", (".webp",), "WebP image")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",),
                "Word document")
DOC = FileType("application/msword", (".doc",), "Word 97–2003 document")
ACCEPTED = (PDF, PNG, JPEG, GIF, WEBP, DOCX, DOC)
ACCEPTED_WORDS = "a PDF, Word document, or JPG, PNG, GIF or WebP image"


class Refused(ValueError):
    """The file is not one we keep; the message says why, in words for the person who chose it."""


def sniff(data: bytes) -> FileType | None:
    """The type the bytes say the file is, or None if it is none of the accepted ones."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # OLE2 also holds old Excel and PowerPoint files; the extension check below keeps only .doc.
        return DOC
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return DOCX
    return None


def _is_docx(data: bytes) -> bool:
    """A zip whose directory lists [Content_Types].xml and a word/ part. Only the central directory is read,
    nothing is decompressed, so a zip bomb costs nothing here."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("word/") for n in names)


def check_size(size: int, limit: int) -> None:
    """Refuse an empty file or one over the limit, with the GOV.UK pattern's words."""
    if size == 0:
        raise Refused("The selected file is empty")
    if size > limit:
        raise Refused(f"The selected file must be smaller than {megabytes(limit)}")


def megabytes(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:g} MB" if value >= 1 else f"{max(1, limit // 1024)} KB"


def accept(filename: str, data: bytes) -> tuple[str, FileType]:
    """The name to keep and the file's real type, or Refused. A name without an extension gets the right one;
    a name whose extension contradicts the content is refused."""
    kind = sniff(data)
    if kind is None:
        raise Refused(f"The selected file must be {ACCEPTED_WORDS}")
    name = clean_filename(filename)
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return name + kind.extensions[0], kind
    if "." + extension.lower() not in kind.extensions:
        raise Refused(f"The selected file is a {kind.words}, but its name ends .{extension}: "
                      f"rename it to end {kind.extensions[0]}")
    return name, kind


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|]+")


def clean_filename(filename: str) -> str:
    """The last part of whatever path the browser sent, without control or reserved characters, at most 200
    characters (keeping the extension); "file" if nothing is left."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().strip(".")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = stem[: 200 - len(extension) - 1] + dot + extension if dot and len(extension) <= 10 else name[:200]
    return name or "file"
