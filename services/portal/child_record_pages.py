"""The parts of a child's profile beyond core data: case notes, what has happened on the record, and the
attendance chart. Each part is fetched on its own: one the person may not see (a carer and the notes) is
left out of the page rather than failing it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.portal import pep_words
from services.portal.gateway_client import Caller, GatewayClient, GatewayProblem
from services.portal.pep_forms import long_date
from shared.api import children as children_api
from shared.api.children import ActivityItem, ActivityList, Attendance, AttendanceList, Note

NOTE_MAX = 5000
ACTIVITY_SHOWN = 20  # the newest of what happened on the record
CHART_PERIODS = 12
PERSISTENT_ABSENCE = 90.0  # below 90% attendance the DfE counts a pupil as persistently absent


async def _or_none(call: Any) -> Any:
    try:
        return await call
    except GatewayProblem as p:
        if p.status in (403, 404):
            return None
        raise


async def record_parts(client: GatewayClient, who: Caller, child_id: uuid.UUID | str) -> tuple[
        list[Note] | None, list[ActivityItem], list[Attendance]]:
    notes, activity, attendance = await asyncio.gather(
        _or_none(client.call(children_api.LIST_NOTES, who, child_id=child_id)),
        _or_none(client.call(children_api.CHILD_ACTIVITY, who, query={"limit": ACTIVITY_SHOWN}, child_id=child_id)),
        _or_none(client.call(children_api.LIST_ATTENDANCE, who, child_id=child_id)))
    found: ActivityList | None = activity
    periods: AttendanceList | None = attendance
    return notes, found.items if found else [], periods.items if periods else []


# ---- activity in words -------------------------------------------------------------------------------------

FILE_ACTIONS = {"uploaded": "Uploaded", "deleted": "Deleted"}
CHANGED = {"placement": "Changed care placement details", "setting": "Changed school or setting details"}
MOVED = {"placement": "Changed placement", "setting": "Changed school"}  # with a start date and reason
PEOPLE_FIELDS = {"social_worker_id", "iro_id", "carer_ids"}  # a placement change of these alone: who works with them
ENTERING_CARE = {"date_entered_care", "entered_care_emergency"}


def _period(detail: str | None) -> str:
    try:
        start, end = (detail or "").split("/")
        return f"{long_date(start)} to {long_date(end)}"
    except ValueError:
        return ""


def activity_words(item: ActivityItem) -> str:
    """What happened, in a sentence without its subject (the person is shown beside it)."""
    if item.kind == "pep":
        if item.action == "start":
            return "Started a PEP"
        return pep_words.ACTION_DONE.get(item.action, f"PEP: {item.action.replace('_', ' ')}")
    if item.kind == "section":
        times = f" ({item.times} saves)" if item.times > 1 else ""
        return f"Saved “{item.section_title or 'a section'}”{times}"
    if item.kind == "file":
        return f"{FILE_ACTIONS.get(item.action, item.action.capitalize())} the file {item.detail or ''}".rstrip()
    if item.kind == "note":
        return "Added a note"
    if item.kind == "attendance":
        period = _period(item.detail)
        return f"Recorded attendance for {period}" if period else "Recorded attendance"
    if item.action == "moved" and item.kind in MOVED:
        start = f" from {long_date(item.starts_on.isoformat())}" if item.starts_on else ""
        return f"{MOVED[item.kind]}{start}" + (f": {item.reason}" if item.reason else "")
    fields = set((item.detail or "").split(","))
    if item.kind == "placement" and fields <= PEOPLE_FIELDS:
        return "Changed the social worker, IRO or carers"
    if item.kind == "placement" and fields <= ENTERING_CARE:
        return "Changed when they entered care"
    return CHANGED.get(item.kind, item.kind.capitalize())


def activity_rows(items: list[ActivityItem]) -> list[dict[str, Any]]:
    return [{"words": activity_words(i), "href": f"/peps/{i.pep_id}" if i.pep_id and i.kind in ("pep", "section")
             else None, "by": i.by_name or "Someone", "at": i.at} for i in items]


# ---- the attendance chart ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    label: str
    year: str
    percent: str
    low: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    threshold_y: int
    summary: str
    rows: list[dict[str, str]]


PLOT_TOP, PLOT_HEIGHT, LEFT, STEP, BAR = 10, 150, 44, 52, 32


def _y(percent: float) -> int:
    return PLOT_TOP + round(PLOT_HEIGHT * (100 - max(0.0, min(100.0, percent))) / 100)


def attendance_chart(records: list[Attendance]) -> Chart | None:
    """The last periods' attendance as bars, oldest on the left, with the 90% persistent-absence line. The same
    figures go in a table beside it, so the chart is never the only way to read them."""
    shown = sorted((r for r in records if r.attendance_percent is not None), key=lambda r: r.period_start)
    shown = shown[-CHART_PERIODS:]
    if not shown:
        return None
    bars = []
    for i, r in enumerate(shown):
        pct = float(r.attendance_percent or 0.0)
        top = _y(pct)
        bars.append(Bar(x=LEFT + i * STEP + (STEP - BAR) // 2, y=top, height=PLOT_TOP + PLOT_HEIGHT - top,
                        label=r.period_start.strftime("%b"), year=r.period_start.strftime("%Y"),
                        percent=pep_words.percent(pct), low=pct < PERSISTENT_ABSENCE))
    low = sum(b.low for b in bars)
    figures = [float(r.attendance_percent or 0.0) for r in shown]
    summary = (f"Attendance in {len(bars)} {'period' if len(bars) == 1 else 'periods'} from "
               f"{_month(shown[0].period_start)} to {_month(shown[-1].period_end)}: "
               f"from {pep_words.percent(min(figures))} to {pep_words.percent(max(figures))}; "
               f"{low} below {PERSISTENT_ABSENCE:.0f}%.")
    rows = [{"period": f"{long_date(r.period_start.isoformat())} to {long_date(r.period_end.isoformat())}",
             "sessions": f"{r.attended_sessions} of {r.possible_sessions}",
             "percent": pep_words.percent(r.attendance_percent)} for r in reversed(shown)]
    return Chart(width=LEFT + len(bars) * STEP + 8, height=PLOT_TOP + PLOT_HEIGHT + 40, bars=bars,
                 threshold_y=_y(PERSISTENT_ABSENCE), summary=summary, rows=rows)


def _month(day: date) -> str:
    return day.strftime("%B %Y")


def note_problem(text: str) -> str | None:
    if not text.strip():
        return "Enter the note"
    if len(text.strip()) > NOTE_MAX:
        return f"The note must be {NOTE_MAX} characters or fewer"
    return None


# ---- the access log (the Virtual School's) ---------------------------------------------------------------------


def months_back(today: date, count: int = 12) -> list[tuple[str, str, str]]:
    """(value, first day, last day) for this month and the `count` - 1 before it, newest first."""
    out = []
    first = today.replace(day=1)
    for _ in range(count):
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        out.append((first.strftime("%Y-%m"), first.isoformat(), min(last, today).isoformat()))
        first = (first - timedelta(days=1)).replace(day=1)
    return out
