"""What a PDF/UA reader relies on, read back from a PDF: its structure tree, language, title and tags.

`assert_tagged(body)` checks what every statutory document must have: a marked, tagged PDF with a language, a
title the viewer shows instead of the file name, its fonts embedded, the PDF/UA-1 identification in its XMP
metadata, one H1 and headings that never skip a level, tables with header cells, and alternative text on every
figure."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject


@dataclass
class Tagged:
    reader: PdfReader
    tags: list[str] = field(default_factory=list)  # every structure element's type, in reading order
    headings: list[str] = field(default_factory=list)  # H1...H6, in reading order
    tables: list[list[str]] = field(default_factory=list)  # each table's element types, within it
    figures: list[DictionaryObject] = field(default_factory=list)


def read(body: bytes) -> Tagged:
    reader = PdfReader(io.BytesIO(body))
    tagged = Tagged(reader)
    root: Any = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root, "no structure tree: the PDF is not tagged"
    _walk(root["/StructTreeRoot"].get_object(), tagged, None)
    return tagged


def _kids(node: DictionaryObject) -> list[Any]:
    kids = node.get("/K")
    if kids is None:
        return []
    kids = kids.get_object() if hasattr(kids, "get_object") else kids
    kids = kids if isinstance(kids, ArrayObject) else [kids]
    return [k.get_object() if hasattr(k, "get_object") else k for k in kids]


def _walk(node: DictionaryObject, tagged: Tagged, table: list[str] | None) -> None:
    for kid in _kids(node):
        if not isinstance(kid, DictionaryObject) or "/S" not in kid:
            continue  # marked content (an MCID) or an annotation reference
        tag = str(kid["/S"])[1:]
        tagged.tags.append(tag)
        if re.fullmatch(r"H[1-6]", tag):
            tagged.headings.append(tag)
        if tag == "Figure":
            tagged.figures.append(kid)
        if table is not None:
            table.append(tag)
        if tag == "Table":
            inner: list[str] = []
            tagged.tables.append(inner)
            _walk(kid, tagged, inner)
        else:
            _walk(kid, tagged, table)


def assert_tagged(body: bytes, *, title: str) -> Tagged:
    tagged = read(body)
    root: Any = tagged.reader.trailer["/Root"]
    assert str(root["/MarkInfo"]["/Marked"]).lower() == "true"
    assert root["/Lang"] == "en-GB"
    assert tagged.reader.metadata is not None and tagged.reader.metadata.title == title
    assert str(root["/ViewerPreferences"]["/DisplayDocTitle"]).lower() == "true"
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfuaid:part(>|=\")1", xmp), "no PDF/UA-1 identification in the XMP metadata"
    assert tagged.tags[0] == "Document"
    assert tagged.headings.count("H1") == 1 and tagged.headings[0] == "H1", tagged.headings[:3]
    assert "H2" in tagged.headings
    deepest = 1
    for heading in tagged.headings:
        level = int(heading[1])
        assert level <= deepest + 1, f"a heading skips a level: {heading} after H{deepest}"
        deepest = level
    for table in tagged.tables:
        assert "TR" in table and "TH" in table, table[:6]
    for figure in tagged.figures:
        assert str(figure.get("/Alt", "")).strip(), "a figure without alternative text"
    for page in tagged.reader.pages:  # every font embedded, so the text shows and reads as written anywhere
        resources: Any = page["/Resources"]
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), descriptor.get("/FontName")
    return tagged
