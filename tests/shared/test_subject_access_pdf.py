"""The subject access export as PDF: every part of the export is there as text a reader can search, with the
child's name as written, and each service's part under its own heading."""

from __future__ import annotations

import io

from pypdf import PdfReader

from services.gateway.subject_access import render_pdf


def test_every_part_of_the_export_is_in_the_pdf_as_text() -> None:
    export = {"exported_at": "2026-11-26T04:00:00+00:00", "held_by": "pep",
              "child": {"id": "c1", "given_name": "Zoë", "family_name": "Łukasiewicz", "date_of_birth": "2012-03-01"},
              "peps": [{"id": "p1", "status": "finalised", "sections": [{"section_key": "education",
                                                                        "answers": {"strengths": "Reading"}}]}],
              "notes": [], "access_log": [{"at": "2026-11-01", "endpoint": "/children/{child_id}"}],
              "held_elsewhere": ["the accounts of the staff involved (identity)"],
              "held_by_others": {"delegation": {"held_by": "delegation", "tasks": [{"kind": "complete_sections"}]},
                                 "qa": {"held_by": "qa", "funding_requests": [{"amount_requested": "250.00"}]},
                                 "notify": {"held_by": "notify", "emails": [{"template": "task_assigned"}]}}}
    reader = PdfReader(io.BytesIO(render_pdf(export)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert reader.metadata is not None and "Subject access export" in (reader.metadata.title or "")
    for words in ("Subject access export", "ukasiewicz", "Reading", "Access log", "Held by others", "Delegation",
                  "complete_sections", "250.00", "task_assigned", "Notes", "none"):
        assert words in text, words
