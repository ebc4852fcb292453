"""The sniffer keeps PDFs, Word documents and images, known by their bytes, and refuses everything else."""

from __future__ import annotations

import pytest

from services.pep.domain import sniff
from tests.pep import samples


@pytest.mark.parametrize(("data", "expected"), [
    (samples.pdf(), sniff.PDF),
    (samples.png(), sniff.PNG),
    (samples.JPEG, sniff.JPEG),
    (samples.GIF, sniff.GIF),
    (samples.WEBP, sniff.WEBP),
    (samples.docx(), sniff.DOCX),
    (samples.OLE2, sniff.DOC),
])
def test_each_accepted_type_is_known_by_its_bytes(data: bytes, expected: sniff.FileType) -> None:
    assert sniff.sniff(data) == expected


@pytest.mark.parametrize("data", [
    samples.HTML, b"", b"%PD", b"plain text", samples.xlsx(), b"PK\x03\x04 not really a zip",
    b"RIFF\x24\x00\x00\x00WAVEfmt ", b"\x00%PDF-1.7", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
])
def test_anything_else_is_not_recognised(data: bytes) -> None:
    assert sniff.sniff(data) is None


def test_a_pdf_keeps_its_name_and_gets_its_real_type() -> None:
    assert sniff.accept("Support plan.PDF", samples.pdf()) == ("Support plan.PDF", sniff.PDF)
    assert sniff.accept("photo.jpeg", samples.JPEG) == ("photo.jpeg", sniff.JPEG)


def test_html_called_pdf_is_refused_naming_what_is_accepted() -> None:
    with pytest.raises(sniff.Refused, match="must be a PDF, Word document"):
        sniff.accept("report.pdf", samples.HTML)


def test_a_name_that_contradicts_the_content_is_refused() -> None:
    with pytest.raises(sniff.Refused, match=r"is a PNG image, but its name ends \.pdf"):
        sniff.accept("report.pdf", samples.png())
    with pytest.raises(sniff.Refused, match=r"ends \.xls"):
        sniff.accept("budget.xls", samples.OLE2)  # an old Excel file looks like an old Word one inside


def test_a_name_without_an_extension_gets_the_right_one() -> None:
    assert sniff.accept("scan", samples.png()) == ("scan.png", sniff.PNG)


def test_paths_and_unsafe_characters_are_taken_out_of_names() -> None:
    assert sniff.clean_filename("C:\\fakepath\\EHCP 2026.pdf") == "EHCP 2026.pdf"
    assert sniff.clean_filename("../../etc/passwd") == "passwd"
    assert sniff.clean_filename('a"b\r\nc.pdf') == "a_b_c.pdf"
    assert sniff.clean_filename("...") == "file"
    long = sniff.clean_filename("x" * 300 + ".docx")
    assert len(long) == 200 and long.endswith(".docx")


def test_size_limit() -> None:
    sniff.check_size(20 * 1024 * 1024, 20 * 1024 * 1024)
    with pytest.raises(sniff.Refused, match="must be smaller than 20 MB"):
        sniff.check_size(20 * 1024 * 1024 + 1, 20 * 1024 * 1024)
    with pytest.raises(sniff.Refused, match="is empty"):
        sniff.check_size(0, 20 * 1024 * 1024)
    with pytest.raises(sniff.Refused, match="smaller than 500 KB"):
        sniff.check_size(600 * 1024, 500 * 1024)
