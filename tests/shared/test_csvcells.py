"""Every CSV export (PP+ funding for finance, the dashboard's tables) as a spreadsheet opens it: UTF-8 with a byte
order mark so a name prints as written, numbers left as numbers (a refund of -12.50 adds up), and only text that
would run as a formula kept as text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from shared.csvcells import cell, csv_bytes, csv_response


def test_a_file_with_a_non_ascii_name_and_a_negative_amount_opens_as_written() -> None:
    body = csv_bytes(("child_name", "amount_approved", "change", "description"),
                     [("Zoë Ñúñez", "-12.50", Decimal("-3.25"), "=cmd|' /C calc'!A0"),
                      ("Jordan Example", "250.00", 7, None)])
    assert body.startswith(b"\xef\xbb\xbfchild_name,amount_approved,change,description\r\n")
    assert b"\r\nZo\xc3\xab \xc3\x91\xc3\xba\xc3\xb1ez,-12.50,-3.25,'=cmd|' /C calc'!A0\r\n" in body
    assert body.endswith(b"\r\nJordan Example,250.00,7,\r\n")
    # Read back as a spreadsheet or Python does (the mark is not part of the first header).
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "child_name" and rows[1][:3] == ["Zoë Ñúñez", "-12.50", "-3.25"]


def test_only_text_that_would_start_a_formula_is_guarded() -> None:
    assert [cell(v) for v in ("=SUM(A1)", "@x", "+44 7700 900123", "-1+cmd|' /C calc'!A0", "\tTab", "\rCR", "-",
                              "Tutoring", "a=b", None, True)] == [
        "'=SUM(A1)", "'@x", "'+44 7700 900123", "'-1+cmd|' /C calc'!A0", "'\tTab", "'\rCR", "'-",
        "Tutoring", "a=b", "", "true"]
    # Numbers stay numbers, whether they arrive as numbers or as the text the exports write amounts in.
    assert [cell(v) for v in (-12.5, Decimal("-12.50"), -5, "-12.50", "-5", "+3", "0.75", "-.5")] == [
        "-12.5", "-12.50", "-5", "-12.50", "-5", "+3", "0.75", "-.5"]


def test_a_download_is_utf8_csv_never_cached_or_sniffed() -> None:
    response = csv_response(("a",), [("Zoë",)], "pp-plus-la.csv")
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="pp-plus-la.csv"'
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body == "\ufeffa\r\nZoë\r\n".encode()
