"""PEPs and blank forms as PDF: tagged for a screen reader (PDF/UA-1), real text, a title and a language, the
answers in words as written, groups as tables."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from services.pep import exports, pdf
from services.pep.domain.access import Access
from services.pep.template_library import load_default_templates
from tests.support.tagged_pdf import assert_tagged

TEMPLATE = load_default_templates()["school-age"]
CHILD = {"id": uuid.uuid4(), "given_name": "Zofia", "family_name": "Łukasiewicz", "date_of_birth": date(2016, 4, 12),
         "year_group": "Year 5"}
PEP = {"id": uuid.uuid4(), "kind": "termly_review", "term": "autumn", "academic_year": "2026/27",
       "status": "in_progress", "meeting_date": date(2026, 12, 1)}
ANSWERS: dict[str, dict[str, Any]] = {
    "personal": {"given_name": "Zofia", "legal_status": "full_care_order", "setting_name": "Oakfield Primary School",
                 "contacts": [{"name": "Pat Example", "relationship": "Birth mother", "phone": "01632 960111"}]},
    "education": {"strengths": "Reading well, and loves maths. " * 120, "attendance_percent": 96.0},
    "targets": {"current_targets": [{"what": "Read a chapter book each week", "term": "short", "amount": "250.00",
                                     "needs_funding": True, "by_when": "2027-03-31"}]},
}


def _text(body: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(body))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _document(access: Access, qa: list[tuple[str, str]] | None = None) -> pdf.PepDocument:
    saved = {s.key: {"answers": ANSWERS.get(s.key, {}), "status": "in_progress"} for s in TEMPLATE.sections}
    document = exports.pep_document("Termly PEP", PEP, TEMPLATE, CHILD, saved, access,
                                    printed_at=datetime(2026, 11, 23, 17, 5))
    return pdf.PepDocument(**{**document.__dict__, "qa": qa or []})


def test_a_pep_prints_its_cover_sections_and_answers_as_words() -> None:
    reader, text = _text(pdf.render_pep(_document(Access("carer", can_edit=False))))
    assert reader.metadata is not None and reader.metadata.title == \
        "Termly PEP: Zofia Łukasiewicz, autumn term 2026/27"
    assert reader.root_object["/Lang"] == "en-GB"
    for words in ("Zofia Łukasiewicz", "12 April 2016", "Oakfield Primary School", "Statutory School Age PEP",
                  "Full care order", "Pat Example", "Birth mother", "Read a chapter book each week", "£250.00",
                  "31 March 2027", "96", "The PEP meeting", "Not answered"):
        assert words in text, words
    assert "Quality assurance" not in text
    # A long answer runs on over pages rather than being cut. (Each page's running footer is left out: where the
    # page breaks depends on what comes before, and a footer can fall in the middle of a sentence.)
    body = "\n".join(line for line in text.splitlines() if not re.search(r"·\s+page \d+ of \d+$", line))
    assert " ".join(body.split()).count("Reading well, and loves maths.") == 120
    assert [o.title for o in reader.outline if not isinstance(o, list)][:2] == \
        ["Personal Education Plan: Termly PEP", "Personal, care and health information"]


def test_quality_assurance_is_printed_only_when_there_is_some() -> None:
    _, text = _text(pdf.render_pep(_document(Access("virtual_school", True), qa=[("Rating", "Good")])))
    assert "Quality assurance" in text and "Good" in text


def test_only_the_sections_the_reader_may_see() -> None:
    staff = Access("setting_staff", can_edit=True, sections=frozenset({"education"}))
    _, text = _text(pdf.render_pep(_document(staff)))
    assert "Education" in text and "Pat Example" not in text and "The PEP meeting" not in text


def test_answers_are_printed_as_the_text_written_escaped_once() -> None:
    answers = {**ANSWERS, "education": {"strengths": "Likes <b>bold</b> & maths, 5 < 7 &amp; \"quotes\""}}
    saved = {s.key: {"answers": answers.get(s.key, {}), "status": "complete"} for s in TEMPLATE.sections}
    document = exports.pep_document("Termly PEP", PEP, TEMPLATE, CHILD, saved, Access("carer", False))
    _, text = _text(pdf.render_pep(document))
    assert 'Likes <b>bold</b> & maths, 5 < 7 &amp; "quotes"' in text


@pytest.mark.parametrize("variant", ["Full PEP", "Termly PEP"])
def test_a_pep_is_a_tagged_pdf_with_headings_and_tables(variant: str) -> None:
    access = Access("virtual_school", True) if variant == "Full PEP" else Access("carer", False)
    saved = {s.key: {"answers": ANSWERS.get(s.key, {}), "status": "in_progress"} for s in TEMPLATE.sections}
    document = exports.pep_document(variant, PEP, TEMPLATE, CHILD, saved, access)
    body = pdf.render_pep(pdf.PepDocument(**{**document.__dict__, "qa": [("Rating", "Good")]}))
    tagged = assert_tagged(body, title=f"{variant}: Zofia Łukasiewicz, autumn term 2026/27")
    # The document's H1, each section a H2, each question a H3; the key contacts and the cover are tables.
    assert tagged.headings.count("H2") == len(document.sections) + 1 and "H3" in tagged.headings
    assert len(tagged.tables) >= 2 and all("TH" in t for t in tagged.tables)


@pytest.mark.parametrize("key", ["early-years", "school-age", "post-16"])
def test_a_blank_form_is_a_tagged_pdf(key: str) -> None:
    template = load_default_templates()[key]
    tagged = assert_tagged(pdf.render_blank(template),
                           title=f"{template.name}: blank form (version {template.version})")
    assert tagged.headings.count("H2") == len(template.sections)
    # Each question's options are a list a screen reader announces, not a row of drawn boxes.
    assert "L" in tagged.tags and "LI" in tagged.tags


@pytest.mark.parametrize("key", ["early-years", "school-age", "post-16"])
def test_a_blank_form_has_every_question_and_each_option(key: str) -> None:
    template = load_default_templates()[key]
    reader, text = _text(pdf.render_blank(template))
    # Compared without whitespace: where a line wraps depends on the machine's fonts, and the extracted text has a
    # space at each wrap, also after a slash ("social/ emotional") where the label has none.
    flat = "".join(text.split())
    assert reader.metadata is not None and (reader.metadata.title or "").startswith(template.name)
    for section in template.sections:
        assert "".join(section.title.split()) in flat
        for field in section.fields:
            assert "".join(field.label.split()) in flat, field.key
            for option in field.options or []:
                assert "".join(option.label.split()) in flat, (field.key, option.value)
    assert "Tick one" in text and "Tick all that apply" in text
