"""The profile's attendance chart and activity sentences, from the answers the gateway gives."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.portal.child_record_pages import activity_words, attendance_chart, note_problem
from shared.api.children import ActivityItem, Attendance


def _record(month_start: date, possible: int, attended: int) -> Attendance:
    return Attendance(id=uuid.uuid4(), period_start=month_start, period_end=month_start + timedelta(days=27),
                      possible_sessions=possible, attended_sessions=attended, authorised_absences=0,
                      unauthorised_absences=possible - attended, source="form",
                      recorded_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
                      attendance_percent=round(100 * attended / possible, 1) if possible else None)


def _activity(**fields: Any) -> ActivityItem:
    """An item as pep sends it: what the test does not say is absent."""
    return ActivityItem.model_validate({"by": None, "by_name": None, "pep_id": None, "section_key": None,
                                        "section_title": None, "times": 1, "detail": None, **fields})


def test_the_chart_shows_the_last_twelve_periods_oldest_first_and_marks_those_below_90() -> None:
    records = [_record(date(2025, 1, 1) + timedelta(days=31 * i), 40, 40 - (i % 6)) for i in range(15)]
    records.append(_record(date(2024, 1, 1), 0, 0))  # nothing possible: no percentage, not a bar
    chart = attendance_chart(list(reversed(records)))
    assert chart is not None
    assert len(chart.bars) == 12 and [b.label for b in chart.bars][:2] == ["Apr", "May"]
    full = next(b for b in chart.bars if b.percent == "100%")
    assert (full.y, full.height) == (10, 150)  # the whole plot
    assert [b.low for b in chart.bars] == [b.percent == "87.5%" for b in chart.bars]  # 90% itself is not low
    assert chart.threshold_y == 25  # 90% of 150 px from the top
    assert chart.rows[0]["sessions"] == "38 of 40" and len(chart.rows) == 12  # the table: newest first
    assert "from April 2025 to April 2026: from 87.5% to 100%; 2 below 90%" in chart.summary
    assert attendance_chart([_record(date(2025, 1, 1), 0, 0)]) is None


def test_activity_reads_as_what_was_done() -> None:
    at = datetime(2026, 11, 2, 9, 30)
    item = _activity(at=at, kind="section", action="saved", section_title="Education", times=3)
    assert activity_words(item) == "Saved “Education” (3 saves)"
    assert activity_words(_activity(at=at, kind="pep", action="start")) == "Started a PEP"
    assert activity_words(_activity(at=at, kind="file", action="uploaded", detail="ehcp.pdf")) == \
        "Uploaded the file ehcp.pdf"
    assert activity_words(_activity(at=at, kind="attendance", action="recorded",
                                    detail="2026-09-01/2026-09-30")) == \
        "Recorded attendance for 1 September 2026 to 30 September 2026"
    assert activity_words(_activity(at=at, kind="attendance", action="recorded", detail=None)) == \
        "Recorded attendance"


def test_a_note_must_have_words_and_not_too_many() -> None:
    assert note_problem("  \n ") == "Enter the note"
    assert note_problem("x" * 5001) == "The note must be 5000 characters or fewer"
    assert note_problem("Fine") is None
