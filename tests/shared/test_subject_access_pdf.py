"""The subject access export as PDF: every part of the export is there as text a reader can search, with the
child's name as written, each service's part under its own heading, and the whole tagged for a screen reader
(PDF/UA-1: headings, tables with header cells, language and title)."""

from __future__ import annotations

import io

from pypdf import PdfReader

from services.gateway.subject_access_pdf import render_pdf
from tests.support.tagged_pdf import assert_tagged

SECTION = {"section_key": "education",
           "answers": {"strengths": "Reading <b>&amp;</b> & maths", "targets": [{"what": "Read", "by": "2027-03-31"}]}}
EXPORT = {"exported_at": "2026-11-26T04:00:00+00:00", "held_by": "pep",
          "child": {"id": "c1", "given_name": "Zoë", "family_name": "Łukasiewicz", "date_of_birth": "2012-03-01"},
          "peps": [{"id": "p1", "status": "finalised", "sections": [SECTION]}],
          "notes": [], "access_log": [{"at": "2026-11-01", "endpoint": "/children/{child_id}"}],
          "held_elsewhere": ["the accounts of the staff involved (identity)"],
          "held_by_others": {"delegation": {"held_by": "delegation", "tasks": [{"kind": "complete_sections"}]},
                             "qa": {"held_by": "qa", "funding_requests": [{"amount_requested": "250.00"}]},
                             "notify": {"held_by": "notify", "emails": [{"template": "task_assigned"}]}}}


def test_every_part_of_the_export_is_in_the_pdf_as_text() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(EXPORT)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert reader.metadata is not None and "Subject access export" in (reader.metadata.title or "")
    for words in ("Subject access export", "Łukasiewicz", "Reading <b>&amp;</b> & maths", "Access log",
                  "Held by others", "Delegation", "complete_sections", "250.00", "task_assigned", "Notes", "none"):
        assert words in text, words


def test_the_export_is_a_tagged_pdf_with_headings_and_tables() -> None:
    tagged = assert_tagged(render_pdf(EXPORT), title="Subject access export: Zoë Łukasiewicz")
    # The child, PEPs, notes, access log... each a H2; each service's part (delegation, qa, notify) a H3 in
    # "Held by others"; a PEP's sections deeper still, no level skipped.
    assert tagged.headings.count("H2") == 6 and tagged.headings.count("H3") >= 4
    # The access log is a table with column headers; the child's fields a table with row headers.
    assert len(tagged.tables) >= 3 and all("TH" in t for t in tagged.tables)
