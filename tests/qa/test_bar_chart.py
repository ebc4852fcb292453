"""The dashboard's bar charts: one bar per table row in the table's order, widths in proportion, a summary naming the
largest, and no chart when every figure is nought (the table then says so on its own)."""

from __future__ import annotations

from services.portal.dashboard_pages import BAR_MAX, bar_chart


def test_bars_follow_the_tables_rows_in_proportion_and_the_summary_names_the_largest() -> None:
    chart = bar_chart("by_status", "PEPs by status", [("Submitted", 5, "5", None), ("Approved", 10, "10", "#00703c"),
                                                      ("Cancelled", 0, "0", None)], "PEPs")
    assert chart is not None
    assert [b["label"] for b in chart["bars"]] == ["Submitted", "Approved", "Cancelled"]
    assert [b["width"] for b in chart["bars"]] == [BAR_MAX / 2, BAR_MAX, 0]
    assert [b["colour"] for b in chart["bars"]] == ["#1d70b8", "#00703c", "#1d70b8"]
    assert chart["summary"] == "PEPs by status: 3 bars; the largest is Approved (10 PEPs)."
    assert chart["id"] == "bar-by-status"


def test_no_chart_without_figures() -> None:
    assert bar_chart("x", "X", [], "PEPs") is None
    assert bar_chart("x", "X", [("A", 0, "0", None)], "PEPs") is None
