"""Statutory documents (PEPs, blank forms, subject access exports) as tagged, accessible PDF.

Each document is a Jinja HTML template rendered by WeasyPrint as PDF/UA-1: the PDF carries a structure tree
built from the HTML (headings H1–H6, paragraphs, lists, tables with TH header cells, figures with their `alt`
text), the document language from `<html lang>`, the title from `<title>` (shown by viewers instead of the file
name), and fonts embedded. Borders, backgrounds and the running page footer are marked as artifacts, so a
screen reader reads the content alone, in source order.

Templates autoescape: every answer, name and note is text, escaped once here, never markup. WeasyPrint needs
Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0) and a font: Liberation Sans (Arial's
metrics, as the portal uses Arial) from fonts-liberation, else whatever sans-serif fontconfig finds.
`deploy/local/ensure-infra.sh` and the Dockerfiles install them.

Rendering is blocking: call `render` through `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from weasyprint import HTML

LOG = logging.getLogger(__name__)
SHARED_TEMPLATES = Path(__file__).parent / "pdf_templates"
# WeasyPrint reports CSS it ignores and each layout step at INFO/DEBUG: noise in a service's log.
logging.getLogger("weasyprint").setLevel(logging.WARNING)
logging.getLogger("fontTools").setLevel(logging.WARNING)


class PdfTemplates:
    """The PDF templates of one service, with the shared layout (`document.html`) beside them."""

    def __init__(self, folder: Path) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder), str(SHARED_TEMPLATES)]),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["css_string"] = css_string

    def html(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def render(self, name: str, **context: Any) -> bytes:
        """The template `name` as a PDF/UA-1 document. Its context must hold `title` (the document's title)."""
        return html_to_pdf(self.html(name, **context))


def html_to_pdf(html: str) -> bytes:
    pdf = HTML(string=html, base_url=str(SHARED_TEMPLATES)).write_pdf(pdf_variant="pdf/ua-1")
    assert pdf is not None  # write_pdf() with no target returns the bytes
    return pdf


def css_string(value: str) -> Markup:
    """`value` as a CSS string literal safe inside `<style>`: every character but letters, digits and spaces as
    a CSS escape, so no quote, backslash or `</style>` can end it early (HTML escaping does not apply there)."""
    # An escape ends at the space after it (which CSS consumes), so a space in the text stays a space.
    escaped = "".join(c if c.isascii() and (c.isalnum() or c == " ") else f"\\{ord(c):x} " for c in value)
    return Markup(f'"{escaped}"')
