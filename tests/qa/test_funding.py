"""PP+ funding's small rules: the financial year a decision counts in, and a CSV cell a spreadsheet cannot run."""

from __future__ import annotations

from datetime import date

from services.qa.funding import _cell, financial_year


def test_the_financial_year_runs_from_1_april_to_31_march() -> None:
    assert financial_year(date(2026, 3, 31)) == "2025-26"
    assert financial_year(date(2026, 4, 1)) == "2026-27"
    assert financial_year(date(2027, 1, 15)) == "2026-27"
    assert financial_year(date(2099, 12, 31)) == "2099-00"


def test_a_cell_that_looks_like_a_formula_is_kept_as_text() -> None:
    assert [_cell(v) for v in ("=SUM(A1)", "+44", "-5", "@x", "Tutoring", None, 25)] == [
        "'=SUM(A1)", "'+44", "'-5", "'@x", "Tutoring", "", "25"]
