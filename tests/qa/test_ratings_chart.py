"""The dashboard's ratings-by-term chart: bars oldest on the left, each split by grade in proportion, and a table
with the very figures qa gave."""

from __future__ import annotations

from services.portal.dashboard_pages import PLOT_HEIGHT, ratings_chart
from shared.api.qa import DashboardTermRating


def rating(year: str, term: str, grade: str, label: str, count: int) -> DashboardTermRating:
    return DashboardTermRating(academic_year=year, term=term, framework_key="redcar_cleveland", grade=grade,
                               label=label, count=count)


def test_the_chart_and_its_table_hold_qas_figures_oldest_first() -> None:
    rows = [rating("2025/26", "autumn", "green", "Green", 6), rating("2025/26", "autumn", "gold", "Gold", 2),
            rating("2025/26", "spring", "red", "Red", 4)]
    chart = ratings_chart(rows)
    assert chart is not None
    assert [(b["term"], b["year"], b["total"]) for b in chart["bars"]] == [
        ("Autumn", "2025/26", 8), ("Spring", "2025/26", 4)]
    assert chart["grades"] == ["Gold", "Green", "Red"]
    assert [(r["term"], r["counts"], r["total"]) for r in chart["rows"]] == [
        ("Autumn 2025/26", [2, 6, 0], 8), ("Spring 2025/26", [0, 0, 4], 4)]
    # The tallest term fills the plot; the parts of a bar stack to its total.
    assert sum(p["height"] for p in chart["bars"][0]["parts"]) == PLOT_HEIGHT
    assert sum(p["height"] for p in chart["bars"][1]["parts"]) == PLOT_HEIGHT / 2
    assert "12 PEPs in 2 terms from Autumn 2025/26 to Spring 2025/26" in chart["summary"]
    assert "most were rated Red (4 of 4)" in chart["summary"]


def test_no_ratings_no_chart() -> None:
    assert ratings_chart([]) is None
