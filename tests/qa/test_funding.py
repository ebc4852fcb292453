"""PP+ funding's small rules: the financial year a decision counts in (its CSV: tests/shared/test_csvcells.py)."""

from __future__ import annotations

from datetime import date

from services.qa.funding import financial_year


def test_the_financial_year_runs_from_1_april_to_31_march() -> None:
    assert financial_year(date(2026, 3, 31)) == "2025-26"
    assert financial_year(date(2026, 4, 1)) == "2026-27"
    assert financial_year(date(2027, 1, 15)) == "2026-27"
    assert financial_year(date(2099, 12, 31)) == "2099-00"

