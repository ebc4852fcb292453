"""An LA's timescales: its Virtual School sees the rules, term dates and termly deadline dates, every earlier
version and what changed, and can preview the deadlines for a meeting or a date entered care; its VS admin
changes them (each save a new version).

The gateway (and delegation behind it) decides who may: anyone outside the LA's Virtual School gets 404, shown
here as "Page not found". The rules themselves live in delegation; the page only shows and collects them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from aiohttp import web

from services.portal.forms import DateField
from services.portal.gateway_client import SESSION_COOKIE, Caller, GatewayProblem, NotSignedIn
from services.portal.pagekit import caller, gateway, redirect, render_signed_in, require_uuid
from shared.api.auth import GET_ME, Me
from shared.api.identity import GET_ORGANISATION
from shared.api.timescales import (
    GET_TIMESCALES,
    PREVIEW_DEADLINES,
    SET_TIMESCALES,
    TIMESCALES_HISTORY,
    TimescaleRuleOut,
    TimescalesOut,
)

routes = web.RouteTableDef()

UNITS = {"working_days": "working days", "school_days": "school days", "weeks": "weeks", "months": "months"}
RULE_NAMES = ("initial_pep", "initial_pep_emergency", "delegate", "dt_return", "vs_review", "approver", "finalise",
              "review_after_change", "post16_review", "qa_review", "due_soon", "escalate_after")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
LIST_FIELDS = ("term_periods", "inset_days", "termly_deadlines")


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def parse_date(text: str) -> date | None:
    """A date as people type it: 2 September 2026, 2 Sep 2026, 2/9/2026 or 2026-09-02."""
    text = text.strip().lower()
    try:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            y, m, d = (int(p) for p in text.split("-"))
            return date(y, m, d)
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
            d, m, y = (int(p) for p in text.split("/"))
            return date(y, m, d)
        words = re.fullmatch(r"(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})", text)
        if words:
            month = next((n for n, name in enumerate(MONTHS, start=1)
                          if len(words[2]) >= 3 and name.startswith(words[2])), None)
            if month:
                return date(int(words[3]), month, int(words[1]))
    except ValueError:
        return None
    return None


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _term_periods(text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for n, line in _lines(text):
        parts = [p.strip() for p in line.split(",")]
        days = [parse_date(p) for p in parts[1:]]
        if len(parts) != 3 or not parts[0] or None in days:
            errors.setdefault("term_periods", f"Line {n}: enter the term’s name, its first day and its last "
                                              "day, separated by commas, like Autumn 2026, 2 September 2026, "
                                              "23 October 2026")
            continue
        out.append({"term": parts[0], "start": str(days[0]), "end": str(days[1])})
    return out


def _inset_days(text: str, errors: dict[str, str]) -> list[str]:
    out = []
    for n, line in _lines(text):
        day = parse_date(line)
        if day is None:
            errors.setdefault("inset_days", f"Line {n}: enter a date, like 5 January 2027")
            continue
        out.append(str(day))
    return out


def _termly_deadlines(text: str, errors: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for n, line in _lines(text):
        term, _, when = line.rpartition(",")
        day = parse_date(when)
        if not term.strip() or day is None:
            errors.setdefault("termly_deadlines", f"Line {n}: enter the term’s name and its deadline, separated by "
                                                  "a comma, like Spring 2027, 19 March 2027")
            continue
        out.append({"term": term.strip(), "due": str(day)})
    return out


def rules_of(current: TimescalesOut) -> list[tuple[str, TimescaleRuleOut]]:
    """Each rule with its name, in the order the pages show them."""
    return [(name, getattr(current.rules, name)) for name in RULE_NAMES]


def form_values(current: TimescalesOut) -> dict[str, str]:
    """The form as the configuration is now."""
    values = {"based_on_version": str(current.version), "note": ""}
    for name, rule in rules_of(current):
        values[f"{name}_amount"] = str(rule.amount)
        values[f"{name}_unit"] = rule.unit
    values["term_periods"] = "\n".join(f"{p.term}, {long_date(p.start)}, {long_date(p.end)}"
                                       for p in current.term_periods)
    values["inset_days"] = "\n".join(long_date(d) for d in current.inset_days)
    values["termly_deadlines"] = "\n".join(f"{d.term}, {long_date(d.due)}" for d in current.termly_deadlines)
    return values


def check_form(data: Any) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """(what was typed, errors by field id in page order, the body to send)."""
    names = ["based_on_version", *(f"{n}_{part}" for n in RULE_NAMES for part in ("amount", "unit")), *LIST_FIELDS,
             "note"]
    values = {name: str(data.get(name, "")).strip() for name in names}
    errors: dict[str, str] = {}
    rules = {}
    for name in RULE_NAMES:
        amount, unit = values[f"{name}_amount"], values[f"{name}_unit"]
        if not amount.isdigit() or not 1 <= int(amount) <= 100:
            errors[f"{name}_amount"] = "Enter a whole number from 1 to 100"
        if unit not in UNITS:
            errors[f"{name}_unit"] = "Choose working days, school days, weeks or months"
        rules[name] = {"amount": int(amount) if amount.isdigit() else 0, "unit": unit}
    body = {"based_on_version": int(values["based_on_version"]) if values["based_on_version"].isdigit() else 0,
            "rules": rules, "term_periods": _term_periods(values["term_periods"], errors),
            "inset_days": _inset_days(values["inset_days"], errors),
            "termly_deadlines": _termly_deadlines(values["termly_deadlines"], errors),
            "note": values["note"] or None}
    return values, {k: errors[k] for k in names if k in errors}, body


def gateway_errors(problem: GatewayProblem) -> dict[str, str]:
    """The gateway's field errors as this form's fields: rules.delegate.amount is delegate_amount, and an error in
    the third term period is on line 3 of the term dates."""
    found: dict[str, str] = {}
    for field, message in problem.field_errors().items():
        parts = field.split(".")
        if parts[0] == "rules" and len(parts) == 3:
            found.setdefault(f"{parts[1]}_{parts[2]}", message)
        elif parts[0] in LIST_FIELDS:
            line = f"Line {int(parts[1]) + 1}: " if len(parts) > 1 and parts[1].isdigit() else ""
            found.setdefault(parts[0], line + message)
        elif parts[0] == "note":
            found.setdefault("note", message)
    return found


def _signed_in(request: web.Request) -> Caller:
    if SESSION_COOKIE not in request.cookies:
        raise NotSignedIn()
    return caller(request, signed_in=True)


def _is_admin(me: Me, la_id: str) -> bool:
    return any(str(m.organisation_id) == la_id and m.role == "vs_admin" for m in me.memberships)


# The preview's dates: (the boxes, the legend, the gateway's field, how an error names it).
PREVIEW_DATES = ((DateField("meeting"), "PEP meeting date", "meeting_date", "meeting"),
                 (DateField("entered"), "Date the child entered care", "date_entered_care",
                  "date the child entered care"),
                 (DateField("moved"), "Date of a change of school or placement", "moved_on",
                  "date of the change of school or placement"),
                 (DateField("submitted"), "Date a PEP was submitted", "submitted_on", "date the PEP was submitted"))


def _preview_fields(query: Any) -> tuple[dict[str, str], dict[str, str], dict[str, Any] | None]:
    """The preview's date inputs: (typed, errors, the body to send or None when nothing was asked)."""
    typed = {name: value[:4] for box, *_ in PREVIEW_DATES for name, value in box.read(query).items()}
    typed["placement"] = "emergency" if query.get("placement") == "emergency" else "planned"
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"placement": typed["placement"]}
    for box, _, key, words in PREVIEW_DATES:
        parts = box.typed(typed)
        if not any(parts):
            continue
        try:
            day, month, year = (int(p) for p in parts)
            body[key] = str(date(year, month, day))
        except ValueError:
            errors[box.name] = f"The {words} must be a real date, like 3 3 2027"
    asked = any(key in body for _, _, key, _ in PREVIEW_DATES)
    if "preview" in query and not asked and not errors:
        errors["meeting"] = "Enter at least one date: a meeting, entering care, a change, or a submission"
    return typed, errors, body if asked and not errors else None


def _preview_dates(typed: dict[str, str], errors: dict[str, str]) -> list[dict[str, Any]]:
    return [{"id": f"{box.name}-input", "name": box.name, "legend": legend,
             "items": box.items(typed, errors.get(box.name))} for box, legend, *_ in PREVIEW_DATES]


@routes.get("/organisations/{org_id}/timescales")
async def timescales(request: web.Request) -> web.Response:
    la_id = require_uuid(request, "org_id")
    who = _signed_in(request)
    client = gateway(request)
    me, org, current, history = await asyncio.gather(
        client.call(GET_ME, who), client.call(GET_ORGANISATION, who, org_id=la_id),
        client.call(GET_TIMESCALES, who, la_id=la_id), client.call(TIMESCALES_HISTORY, who, la_id=la_id))
    typed, errors, asked = _preview_fields(request.query)
    preview = await client.call(PREVIEW_DEADLINES, who, asked, la_id=la_id) if asked else None
    return await render_signed_in(request, "timescales.html", {
        "org": org, "current": current, "history": history, "can_change": _is_admin(me, la_id),
        "rules": rules_of(current), "units": UNITS, "typed": typed,
        "preview_dates": _preview_dates(typed, errors), "errors": errors, "preview": preview,
        "saved": request.query.get("done") == "saved",
        "change_names": {**{f"rules.{name}": rule.label for name, rule in rules_of(current)},
                         "term_periods": "Term dates", "inset_days": "INSET days",
                         "termly_deadlines": "Termly deadline dates"}})


async def _change_page(request: web.Request, la_id: str, values: dict[str, str], errors: dict[str, str],
                       problem: str | None = None) -> web.Response:
    who = _signed_in(request)
    client = gateway(request)
    me, org, current = await asyncio.gather(client.call(GET_ME, who), client.call(GET_ORGANISATION, who, org_id=la_id),
                                            client.call(GET_TIMESCALES, who, la_id=la_id))
    if not _is_admin(me, la_id):
        raise web.HTTPNotFound()
    return await render_signed_in(request, "timescales_change.html", {
        "org": org, "current": current, "values": values, "errors": errors, "problem": problem,
        "rules": rules_of(current),
        "unit_items": {name: [{"value": k, "text": v, "selected": values.get(f"{name}_unit") == k}
                              for k, v in UNITS.items()] for name in RULE_NAMES}})


@routes.get("/organisations/{org_id}/timescales/change")
async def change_form(request: web.Request) -> web.Response:
    la_id = require_uuid(request, "org_id")
    current = await gateway(request).call(GET_TIMESCALES, _signed_in(request), la_id=la_id)
    return await _change_page(request, la_id, form_values(current), {})


@routes.post("/organisations/{org_id}/timescales/change")
async def change(request: web.Request) -> web.Response:
    la_id = require_uuid(request, "org_id")
    who = _signed_in(request)
    values, errors, body = check_form(await request.post())
    if errors:
        return await _change_page(request, la_id, values, errors)
    try:
        await gateway(request).call(SET_TIMESCALES, who, body, la_id=la_id)
    except GatewayProblem as problem:
        if problem.status == 409:
            return await _change_page(request, la_id, values, {}, "Someone else saved the timescales while you "
                                      "were changing them. Open the timescales again to see their version, then "
                                      "make your changes to it.")
        if problem.status != 422:
            raise
        found = gateway_errors(problem)
        return await _change_page(request, la_id, values, found, None if found else problem.message)
    return redirect(f"/organisations/{la_id}/timescales?done=saved")
