"""The Virtual School's dashboard: its LA's PEPs by status, PEPs due, overdue and completed, how many were submitted
within the timescale, the latest ratings, QA turnaround, PP+ approved by area of focus, intervention type and setting,
and PP+ paid automatically each term, each as a table with a chart beside it (the table gives every figure), filtered
by academic year, term, status, key stage, latest rating, and setting, social worker and QA caseworker chosen by
name. qa counts every figure; another LA's dashboard is "Page not found"."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.portal.children_pages import ensure_signed_in
from services.portal.file_pages import _pass_on
from services.portal.gateway_client import GatewayProblem, GatewayUnavailable
from services.portal.pagekit import gateway, optional_uuid, render_signed_in
from shared.api import qa
from shared.api.auth import GET_ME
from shared.api.identity import LIST_SETTINGS
from shared.api.in_date import GET_IN_DATE, LIST_IN_DATE_CHILDREN, InDate
from shared.csvcells import csv_response

routes = web.RouteTableDef()

VIRTUAL_SCHOOL = ("vs_admin", "vs_caseworker", "vs_approver")
TERMS = {"": "Any term", "autumn": "Autumn", "spring": "Spring", "summer": "Summer"}
STATUSES = {"": "Any status", "created": "Started", "in_progress": "In progress", "submitted": "Submitted",
            "returned": "Returned for amendment", "approved": "Approved", "finalised": "Finalised",
            "cancelled": "Cancelled"}
KEY_STAGES = {"": "Any key stage", "EYFS": "Early years (EYFS)", "KS1": "Key stage 1", "KS2": "Key stage 2",
              "KS3": "Key stage 3", "KS4": "Key stage 4", "KS5": "Key stage 5 (post-16)"}
RATINGS = {"": "Any rating", "gold": "Gold", "green": "Green", "amber": "Amber", "red": "Red",
           "outstanding": "Outstanding", "good": "Good", "requires_improvement": "Requires improvement",
           "inadequate": "Inadequate", "meets": "Meets the expected standard",
           "does_not_meet": "Does not meet the expected standard"}

CSV_TABLES = ("by_status", "progress", "timescale", "awarded", "ratings", "ratings_by_term", "turnaround",
              "pp_plus_by_area", "pp_plus_by_intervention", "pp_plus_by_setting", "pp_plus_termly", "attendance",
              "attainment", "attainment_progress")

# Each grade's colour in the ratings chart (GOV.UK colours); the table beside it gives every figure.
GRADE_COLOURS = {"gold": "#ffdd00", "green": "#00703c", "amber": "#f47738", "red": "#d4351c",
                 "outstanding": "#00703c", "good": "#28a197", "requires_improvement": "#f47738",
                 "inadequate": "#d4351c", "meets": "#00703c", "does_not_meet": "#d4351c"}
OTHER_COLOURS = ("#4c2c92", "#1d70b8", "#912b88", "#505a5f")
PLOT_TOP, PLOT_HEIGHT, LEFT, STEP, BAR = 10, 150, 44, 72, 40


def ratings_chart(rows: list[Any]) -> dict[str, Any] | None:
    """The latest ratings per academic year and term as stacked bars, oldest on the left, and the same figures as
    a table (a row per term, a column per grade), so the chart is never the only way to read them."""
    if not rows:
        return None
    periods: list[tuple[str, str]] = []
    grades: dict[str, str] = {}
    counts: dict[tuple[str, str, str], int] = {}
    for r in rows:
        if (r.academic_year, r.term) not in periods:
            periods.append((r.academic_year, r.term))
        grades.setdefault(r.grade, r.label)
        counts[(r.academic_year, r.term, r.grade)] = counts.get((r.academic_year, r.term, r.grade), 0) + r.count
    order = list(RATINGS)
    keys = sorted(grades, key=lambda g: (order.index(g) if g in order else len(order), g))
    colours = {g: GRADE_COLOURS.get(g) or OTHER_COLOURS[i % len(OTHER_COLOURS)] for i, g in enumerate(keys)}
    totals = [sum(counts.get((y, t, g), 0) for g in keys) for y, t in periods]
    most = max(totals) or 1
    bars = []
    for i, (year, term) in enumerate(periods):
        bottom: float = PLOT_TOP + PLOT_HEIGHT
        parts = []
        for g in keys:
            n = counts.get((year, term, g), 0)
            height = round(PLOT_HEIGHT * n / most, 1)
            bottom = round(bottom - height, 1)
            if n:
                parts.append({"y": bottom, "height": height, "colour": colours[g], "grade": grades[g], "count": n})
        bars.append({"x": LEFT + i * STEP + (STEP - BAR) // 2, "parts": parts, "term": TERMS.get(term, term),
                     "year": year, "total": totals[i]})
    first, last = periods[0], periods[-1]
    latest = {g: counts.get((*last, g), 0) for g in keys}
    top = max(latest, key=lambda g: latest[g])
    summary = (f"Latest ratings of {sum(totals)} PEPs in {len(periods)} {'term' if len(periods) == 1 else 'terms'} "
               f"from {TERMS.get(first[1], first[1])} {first[0]} to {TERMS.get(last[1], last[1])} {last[0]}; "
               f"in the latest term most were rated {grades[top]} ({latest[top]} of {totals[-1]}).")
    table = [{"term": f"{TERMS.get(t, t)} {y}", "counts": [counts.get((y, t, g), 0) for g in keys], "total": totals[i]}
             for i, (y, t) in enumerate(periods)]
    legend = [{"grade": grades[g], "colour": colours[g], "x": LEFT + i * 130} for i, g in enumerate(keys)]
    return {"width": max(LEFT + len(periods) * STEP + 8, LEFT + len(keys) * 130), "height": PLOT_TOP + PLOT_HEIGHT + 70,
            "bars": bars, "most": most, "summary": summary, "grades": [grades[g] for g in keys], "rows": table,
            "legend": legend, "axis_y": PLOT_TOP + PLOT_HEIGHT}


BAR_LEFT, BAR_MAX, BAR_ROW, BAR_WIDTH = 250, 190, 26, 520
BAND_COLOURS = {"below_90": "#d4351c", "90_to_95": "#f47738", "95_plus": "#00703c"}
ATTAINMENT_COLOURS = {"significantly_below": "#d4351c", "below": "#f47738", "at": "#00703c", "above": "#1d70b8",
                      "less_than_expected": "#d4351c", "expected": "#00703c", "more_than_expected": "#1d70b8",
                      "not_given": "#505a5f"}
PROGRESS_COLOURS = {"due": "#1d70b8", "overdue": "#d4351c", "no_due_date": "#505a5f", "awaiting_qa": "#4c2c92",
                    "completed": "#00703c"}


def bar_chart(key: str, title: str, rows: list[tuple[str, float, str, str | None]], unit: str) -> dict[str, Any] | None:
    """One table's figures as horizontal bars (label, value, the value as written, colour), in the table's order,
    with a title and a summary naming the largest, for the figure beside the table."""
    if not rows or not any(v for _, v, _, _ in rows):
        return None
    most = max(v for _, v, _, _ in rows)
    bars = [{"label": label if len(label) <= 38 else label[:37] + "…", "y": 8 + i * BAR_ROW,
             "width": round(BAR_MAX * v / most, 1) if most else 0, "text": text, "colour": colour or "#1d70b8"}
            for i, (label, v, text, colour) in enumerate(rows)]
    top = max(rows, key=lambda r: r[1])
    summary = f"{title}: {len(rows)} {'bar' if len(rows) == 1 else 'bars'}; the largest is {top[0]} ({top[2]} {unit})."
    return {"id": "bar-" + key.replace("_", "-"), "title": title, "summary": summary, "bars": bars, "width": BAR_WIDTH,
            "left": BAR_LEFT, "height": 16 + len(rows) * BAR_ROW}


def _count_chart(key: str, title: str, rows: list[Any], colours: dict[str, str] | None = None) -> dict[str, Any] | None:
    return bar_chart(key, title, [(r.label, float(r.count), str(r.count),
                                   (colours or {}).get(getattr(r, "key", None) or getattr(r, "grade", None) or ""))
                                  for r in rows], "PEPs")


def _money_chart(key: str, title: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return bar_chart(key, title, [(r["label"], float(r["amount"]), f"£{r['amount']}", None) for r in rows],
                     "approved or paid")


def _days(value: float | None) -> str:
    return "No decisions yet" if value is None else f"{value:.1f} days"


async def _chosen(request: web.Request) -> tuple[str, list[tuple[str, str]], dict[str, str]]:
    """The LA (the first of my Virtual Schools unless chosen), my Virtual Schools and the filters chosen."""
    who = ensure_signed_in(request)
    me = await gateway(request).call(GET_ME, who)
    mine = {str(m.organisation_id): m.organisation_name for m in me.memberships if m.role in VIRTUAL_SCHOOL}
    las = sorted(mine.items(), key=lambda kv: kv[1].casefold())
    la_id = optional_uuid(request.query.get("la_id", "")) or (las[0][0] if las else "")
    if not la_id:
        raise web.HTTPNotFound()
    filters = {"academic_year": request.query.get("academic_year", "").strip()[:20],
               "term": request.query.get("term", "").strip(), "status": request.query.get("status", "").strip(),
               "setting_id": optional_uuid(request.query.get("setting_id", "")),
               "key_stage": request.query.get("key_stage", "").strip(),
               "social_worker_id": optional_uuid(request.query.get("social_worker_id", "")),
               "caseworker_id": optional_uuid(request.query.get("caseworker_id", "")),
               "rating": request.query.get("rating", "").strip()}
    for key, allowed in (("term", TERMS), ("status", STATUSES), ("key_stage", KEY_STAGES), ("rating", RATINGS)):
        filters[key] = filters[key] if filters[key] in allowed else ""
    return la_id, las, filters


@routes.get("/dashboard")
async def dashboard(request: web.Request) -> web.Response:
    la_id, las, filters = await _chosen(request)
    query = {"la_id": la_id, **{k: v for k, v in filters.items() if v}}
    # qa's figures, delegation's in-date figure and identity's setting names, asked at once.
    found, in_date_found, setting_names = await asyncio.gather(
        gateway(request).call(qa.GET_DASHBOARD, ensure_signed_in(request), query=query),
        _in_date_figure(request, la_id), _setting_names(request, la_id))
    by_setting = [{"financial_year": a.financial_year or "Not given", "requests": a.requests, "amount": a.amount,
                   "label": "No setting" if a.setting_id is None
                   else setting_names.get(str(a.setting_id), f"Setting {a.setting_id}")}
                  for a in found.pp_plus_by_setting]
    # The pickers: every setting the LA's PEPs are at (by name), its children's social workers and its caseworkers.
    chosen_setting = filters["setting_id"]
    setting_ids = {str(i) for i in found.options.setting_ids} | ({chosen_setting} if chosen_setting else set())
    pickers = {
        "setting_id": _choices("Any setting", {i: setting_names.get(i, f"Setting {i}") for i in setting_ids},
                               chosen_setting),
        "social_worker_id": _choices("Any social worker", {str(p.id): p.name or f"Account {p.id}"
                                                           for p in found.options.social_workers},
                                     filters["social_worker_id"]),
        "caseworker_id": _choices("Any caseworker", {str(p.id): p.name or f"Account {p.id}"
                                                     for p in found.options.caseworkers}, filters["caseworker_id"])}
    money = {"area": [{"label": a.label, "amount": a.amount} for a in found.pp_plus_by_area],
             "intervention": [{"label": a.label, "amount": a.amount} for a in found.pp_plus_by_intervention],
             "setting": [{"label": f"{r['label']} ({r['financial_year']})", "amount": r["amount"]} for r in by_setting],
             "termly": [{"label": t.financial_year, "amount": t.amount} for t in found.pp_plus_termly]}
    charts = {
        "by_status": _count_chart("by_status", "PEPs by status", found.by_status),
        "progress": _count_chart("progress", "PEPs due, overdue and completed", found.progress, PROGRESS_COLOURS),
        "awarded": _count_chart("awarded", "Latest ratings, as shown on each PEP", found.awarded, GRADE_COLOURS),
        "ratings": _count_chart("ratings", "Latest ratings, as rated overall", found.ratings, GRADE_COLOURS),
        "pp_plus_by_area": _money_chart("pp_plus_by_area", "PP+ approved by area of focus", money["area"]),
        "pp_plus_by_intervention": _money_chart("pp_plus_by_intervention", "PP+ approved by intervention type",
                                                money["intervention"]),
        "pp_plus_by_setting": _money_chart("pp_plus_by_setting", "PP+ approved per setting by financial year",
                                           money["setting"]),
        "pp_plus_termly": _money_chart("pp_plus_termly", "PP+ paid termly by financial year", money["termly"]),
        "attendance": _count_chart("attendance", "Attendance this academic year", found.attendance_bands,
                                   BAND_COLOURS),
        "attainment": _count_chart("attainment", "Attainment against age-related expectations", found.attainment,
                                   ATTAINMENT_COLOURS),
        "attainment_progress": _count_chart("attainment_progress", "Progress since the last PEP",
                                            found.attainment_progress, ATTAINMENT_COLOURS)}
    in_date = _in_date(in_date_found, la_id, setting_names)
    context: dict[str, Any] = {
        "in_date": in_date,
        "current_page": "qa", "la_id": la_id, "la_name": dict(las).get(la_id, "Your Virtual School"), "las": las,
        "filters": filters, "terms": TERMS, "statuses": STATUSES, "key_stages": KEY_STAGES,
        "ratings": RATINGS, "filtered": any(filters.values()), "d": found, "csv_query": urlencode(query),
        "percent": "Not applicable" if found.within_timescale_percent is None
        else f"{found.within_timescale_percent:.1f}%",
        "turnaround": _days(found.turnaround_median_days), "qa_percent": _percent(found.qa_within_timescale_percent),
        "timescale_rule": found.timescale_rule or f"{found.timescale_working_days} working days after the meeting",
        "attendance_percent": "Not recorded" if found.attendance_percent is None
        else f"{found.attendance_percent:.1f}%", "chart": ratings_chart(found.ratings_by_term),
        "by_setting": by_setting, "pickers": pickers, "charts": charts,
        "termly": [{"label": t.financial_year, "payments": t.payments, "amount": t.amount}
                   for t in found.pp_plus_termly]}
    return await render_signed_in(request, "dashboard.html", context)


def _percent(value: float | None) -> str:
    return "Not applicable" if value is None else f"{value:.1f}%"


IN_DATE_GROUPS = {"setting": "Setting", "social_worker": "Social worker", "caseworker": "QA caseworker"}
NONE_OF = {"setting": "No setting", "social_worker": "No social worker", "caseworker": "Not reviewed yet"}


def _group_name(group: str, key: str | None, name: str | None, setting_names: dict[str, str]) -> str:
    if key is None:
        return NONE_OF[group]
    if group == "setting":
        return setting_names.get(key, f"Setting {key}")
    return name or f"Account {key}"


def _in_date_link(la_id: str, group: str = "la", key: str | None = None) -> str:
    query = {"la_id": la_id, "group": group, **({"id": key} if key else {})}
    return "/dashboard/in-date?" + urlencode(query)


async def _setting_names(request: web.Request, la_id: str) -> dict[str, str]:
    try:
        return {str(s.id): s.name
                for s in await gateway(request).call(LIST_SETTINGS, ensure_signed_in(request), la_id=la_id)}
    except GatewayProblem:  # not everyone at the Virtual School may list its settings: show their ids then
        return {}


async def _in_date_figure(request: web.Request, la_id: str) -> InDate | None:
    """delegation's in-date figure; None when it cannot answer just now (the rest of the dashboard still shows)."""
    try:
        found: InDate = await gateway(request).call(GET_IN_DATE, ensure_signed_in(request), la_id=la_id)
    except (GatewayProblem, GatewayUnavailable):
        return None
    return found


def _in_date(found: InDate | None, la_id: str, setting_names: dict[str, str]) -> dict[str, Any] | None:
    """The in-date figure, its breakdowns with a link to the children behind each, and its trend by term as a table
    and a chart."""
    if found is None:
        return None
    groups = {}
    for group, rows in (("setting", found.by_setting), ("social_worker", found.by_social_worker),
                        ("caseworker", found.by_caseworker)):
        groups[group] = [{"label": _group_name(group, str(g.id) if g.id else None, g.name, setting_names),
                          "children": g.children, "in_date": g.in_date, "percent": _percent(g.percent),
                          "href": _in_date_link(la_id, group, str(g.id) if g.id else None)} for g in rows]
    trend = [{"term": t.term, "as_of": t.as_of, "current": t.current, "children": t.children, "in_date": t.in_date,
              "percent": _percent(t.percent)} for t in found.trend]
    chart = bar_chart("in_date_trend", "PEPs in date by term", [
        (f"{t.term} ({'today' if t.current else 'at its end'})", t.percent or 0.0, _percent(t.percent), "#00703c")
        for t in found.trend], "of children in care")
    return {"figure": found, "percent": _percent(found.percent), "href": _in_date_link(la_id),
            "groups": [(IN_DATE_GROUPS[g], rows) for g, rows in groups.items()], "trend": trend, "chart": chart}


async def _in_date_list(request: web.Request) -> dict[str, Any]:
    """The children behind one in-date figure (the LA's, or a setting's, social worker's or caseworker's) as the page
    and its CSV show them."""
    la_id, las, _ = await _chosen(request)
    group = request.query.get("group", "la")
    if group not in ("la", *IN_DATE_GROUPS):
        raise web.HTTPNotFound()
    key = optional_uuid(request.query.get("id", ""))
    if group == "la":
        key = ""
    not_in_date = request.query.get("not_in_date", "") == "yes"
    query = {"group": group, **({"id": key} if key else {}), **({"not_in_date": "true"} if not_in_date else {})}
    found = await gateway(request).call(LIST_IN_DATE_CHILDREN, ensure_signed_in(request), query=query, la_id=la_id)
    setting_names: dict[str, str] = {}
    if group == "setting" or any(i.setting_id for i in found.items):
        with contextlib.suppress(GatewayProblem):  # not everyone at the Virtual School may list its settings
            setting_names = {str(s.id): s.name for s in await gateway(request).call(
                LIST_SETTINGS, ensure_signed_in(request), la_id=la_id)}
    items = [{"child": i.child_name, "href": f"/children/{i.child_id}", "in_date": i.in_date,
              "setting": setting_names.get(str(i.setting_id), f"Setting {i.setting_id}") if i.setting_id
              else "No setting", "social_worker": i.social_worker_name or ("Not named" if i.social_worker_id
                                                                          else "None allocated"),
              "caseworker": i.caseworker_name or ("Not named" if i.caseworker_id else "Not reviewed yet"),
              "reasons": i.reasons} for i in found.items]
    base = {"la_id": la_id, "group": group, **({"id": key} if key else {})}
    return {"la_id": la_id, "las": las, "group": group, "found": found, "items": items, "not_in_date": not_in_date,
            "base": base, "whose": None if group == "la" else _group_name(group, key or None, found.name,
                                                                         setting_names)}


@routes.get("/dashboard/in-date")
async def in_date_children(request: web.Request) -> web.Response:
    """The children behind one in-date figure, those not in date first, each with why."""
    chosen = await _in_date_list(request)
    la_id, base, found = chosen["la_id"], chosen["base"], chosen["found"]
    query = {**base, **({"not_in_date": "yes"} if chosen["not_in_date"] else {})}
    context: dict[str, Any] = {
        "current_page": "qa", "la_id": la_id, "la_name": dict(chosen["las"]).get(la_id, "Your Virtual School"),
        "whose": chosen["whose"], "group_label": IN_DATE_GROUPS.get(chosen["group"]), "found": found,
        "percent": _percent(found.percent), "items": chosen["items"], "not_in_date": chosen["not_in_date"],
        "all_href": "/dashboard/in-date?" + urlencode(base),
        "late_href": "/dashboard/in-date?" + urlencode({**base, "not_in_date": "yes"}),
        "csv_href": "/dashboard/in-date.csv?" + urlencode(query),
        "dashboard_href": "/dashboard?" + urlencode({"la_id": la_id})}
    return await render_signed_in(request, "dashboard_in_date.html", context)


IN_DATE_CSV_HEADER = ["child", "in_date", "setting", "social_worker", "qa_caseworker", "overdue", "due", "why"]


@routes.get("/dashboard/in-date.csv")
async def in_date_children_csv(request: web.Request) -> web.Response:
    """What the page lists, one row for each reason a child is not in date (one row for a child in date)."""
    chosen = await _in_date_list(request)
    rows = [[r["child"], "yes" if r["in_date"] else "no", r["setting"], r["social_worker"], r["caseworker"],
             why.label if why else None, why.due.isoformat() if why and why.due else None,
             why.explanation if why else None]
            for r in chosen["items"] for why in (r["reasons"] or [None])]
    return csv_response(IN_DATE_CSV_HEADER, rows, f"in-date-{chosen['group']}-{chosen['found'].today.isoformat()}.csv")


def _choices(anyone: str, names: dict[str, str], chosen: str) -> list[dict[str, Any]]:
    """A select's items: "any" first, then by name."""
    ordered = sorted(names.items(), key=lambda kv: (kv[1].casefold(), kv[0]))
    return [{"value": "", "text": anyone, "selected": not chosen},
            *({"value": k, "text": v, "selected": k == chosen} for k, v in ordered)]


@routes.get("/dashboard.csv")
async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    """One of the dashboard's tables as CSV, with the filters chosen: passed on from the gateway as it comes."""
    table = request.query.get("table", "")
    if table not in CSV_TABLES:
        raise web.HTTPNotFound()
    la_id, _, filters = await _chosen(request)
    return await _pass_on(request, qa.DASHBOARD_CSV, {"la_id": la_id, "table": table,
                                                     **{k: v for k, v in filters.items() if v}})
