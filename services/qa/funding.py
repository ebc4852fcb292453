"""PP+ funding: the requests a submitted PEP's targets make (pep.funding.requested), the Virtual School's queue,
decisions (approve, possibly less than asked; refuse with a reason; ask for more information with a reason) by an
approver or the VS admin, each published as qa.funding.decided for pep's child profile, running totals per child
per financial year (1 April to 31 March) against the LA's per-child allocation, and a CSV for finance.
An LA may also pay part of the allocation automatically each term (Kent's "VSK PP+ Auto-termly payment"): its
`termly_payment`, paid by the scheduler once per child per term of the current academic year in which the child has
an approved or finalised PEP, to that PEP's setting; it counts in the child's totals and appears in the CSV.
Another LA's requests answer 404."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import asyncpg
from aiohttp import web

from services.qa.domain.reviews import Invalid
from services.qa.pep_client import child_seen_with_qa
from services.qa.reviews import invalid
from shared.api import qa as api
from shared.api.qa import (
    Allocation,
    AllocationIn,
    ChildFunding,
    FundingDecideIn,
    FundingList,
    FundingRequestOut,
    FundingYear,
    TermlyPaymentOut,
)
from shared.authz import VIRTUAL_SCHOOL_ROLES, not_found, require_user, roles_at
from shared.bus import MessageContext, Subscription, add_event, subscribe
from shared.contracts import FundingDecided, FundingRequested, TermlyPaymentMade
from shared.csvcells import csv_response
from shared.errors import Problem
from shared.internal_auth import Claims
from shared.schedule import every
from shared.service import POOL, SETTINGS
from shared.web import CLAIMS, REQUEST_ID, parse_body, path_uuid, serves
from shared.workdays import uk_date

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
DECIDERS = frozenset({"vs_approver", "vs_admin"})
DEFAULT_ALLOCATION = Decimal("2630.00")
STATUSES = ("pending", "more_information", "approved", "refused")
DECIDED: dict[str, Literal["approved", "refused", "more_information"]] = {
    "approve": "approved", "refuse": "refused", "more_information": "more_information"}


def financial_year(day: date) -> str:
    """1 April to 31 March: 2026-27 runs from 1 April 2026."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else pounds(amount)


def pounds(amount: Decimal) -> str:
    return f"{amount:.2f}"


# ---- requests arrive ---------------------------------------------------------------------------------------------


async def _on_requested(ctx: MessageContext, data: FundingRequested) -> None:
    """One request per PEP target; a resubmission asks again, which reopens a request waiting for more information
    (or not yet decided) with its new words and amount. A decided request stays decided."""
    if data.action_target_id is not None:
        return await _on_target_between_peps(ctx, data)
    try:
        amount = Decimal(data.amount) if data.amount else None
    except ArithmeticError:
        amount = None
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO funding_requests (id, pep_id, target, child_id, la_id, setting_id, description, funding_type, "
            "area_of_focus, intervention_type, amount_requested, academic_year, term, requested_at, "
            "funding_type_label, area_of_focus_label, intervention_type_label) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (pep_id, target) DO UPDATE "
            "SET setting_id = $6, description = $7, funding_type = $8, area_of_focus = $9, intervention_type = $10, "
            "amount_requested = $11, academic_year = $12, term = $13, requested_at = $14, status = 'pending', "
            "funding_type_label = $15, area_of_focus_label = $16, intervention_type_label = $17 "
            "WHERE funding_requests.status IN ('pending', 'more_information') AND funding_requests.requested_at < $14",
            uuid.uuid4(), data.pep_id, data.target, data.child_id, data.la_id, data.setting_id, data.description,
            data.funding_type, data.area_of_focus, data.intervention_type, amount, data.academic_year, data.term,
            ctx.envelope.occurred_at, data.funding_type_label, data.area_of_focus_label, data.intervention_type_label)


async def _on_target_between_peps(ctx: MessageContext, data: FundingRequested) -> None:
    """A target raised between PEPs (pep's action_targets) asks once: one request per target, no PEP."""
    async with ctx.effect() as conn:
        await conn.execute(
            "INSERT INTO funding_requests (id, pep_id, action_target_id, target, child_id, la_id, setting_id, "
            "description, funding_type, area_of_focus, intervention_type, amount_requested, academic_year, term, "
            "requested_at, funding_type_label, area_of_focus_label, intervention_type_label) VALUES ($1, NULL, $2, "
            "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (action_target_id) "
            "DO NOTHING",
            uuid.uuid4(), data.action_target_id, data.target, data.child_id, data.la_id, data.setting_id,
            data.description, data.funding_type, data.area_of_focus, data.intervention_type,
            Decimal(data.amount) if data.amount else None, data.academic_year, data.term, ctx.envelope.occurred_at,
            data.funding_type_label, data.area_of_focus_label, data.intervention_type_label)


def subscription() -> Subscription:
    return subscribe("qa.funding_requests", FundingRequested, _on_requested)


# ---- reading ----------------------------------------------------------------------------------------------


REQUEST_SQL = ("SELECT f.*, c.given_name, c.family_name, u.given_name AS d_given, u.family_name AS d_family "
               "FROM funding_requests f LEFT JOIN children c ON c.id = f.child_id "
               "LEFT JOIN users u ON u.id = f.decided_by ")


def _request(row: asyncpg.Record, claims: Claims) -> FundingRequestOut:
    return FundingRequestOut(
        id=row["id"], pep_id=row["pep_id"], action_target_id=row["action_target_id"], target=row["target"],
        child_id=row["child_id"],
        child_name=f"{row['given_name']} {row['family_name']}" if row["given_name"] else None,
        la_id=row["la_id"], setting_id=row["setting_id"], description=row["description"],
        funding_type=row["funding_type"], area_of_focus=row["area_of_focus"],
        intervention_type=row["intervention_type"], amount_requested=money(row["amount_requested"]),
        funding_type_label=row["funding_type_label"], area_of_focus_label=row["area_of_focus_label"],
        intervention_type_label=row["intervention_type_label"],
        status=row["status"], amount_approved=money(row["amount_approved"]), reason=row["reason"],
        academic_year=row["academic_year"], term=row["term"], requested_at=row["requested_at"],
        decided_at=row["decided_at"],
        decided_by_name=f"{row['d_given']} {row['d_family']}" if row["d_given"] else None,
        financial_year=row["financial_year"], can_decide=bool(roles_at(claims, str(row["la_id"])) & DECIDERS))


def _la_of_vs(claims: Claims, raw: str) -> uuid.UUID:
    """The LA in the query, where the caller works for the Virtual School; 404 otherwise."""
    try:
        la_id = uuid.UUID(raw.strip())
    except ValueError:
        raise invalid([Invalid("la_id", "Give the local authority's id")]) from None
    if not roles_at(claims, str(la_id)) & VIRTUAL_SCHOOL_ROLES:
        raise not_found("organisation")
    return la_id


@serves(routes, api.LIST_FUNDING)
async def funding_queue(request: web.Request) -> FundingList:
    """An LA's PP+ requests (query: la_id, status; default pending; pep_id: only that PEP's, as the approver's task
    opens them), oldest first, with the count of each status."""
    claims = request[CLAIMS]
    la_id = _la_of_vs(claims, request.query.get("la_id", ""))
    status = request.query.get("status", "pending").strip() or "pending"
    if status not in (*STATUSES, "all"):
        raise invalid([Invalid("status", "Choose one of: " + ", ".join((*STATUSES, "all")))])
    try:
        pep_id = uuid.UUID(request.query["pep_id"]) if request.query.get("pep_id", "").strip() else None
    except ValueError:
        raise invalid([Invalid("pep_id", "Give the PEP's id")]) from None
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(REQUEST_SQL + "WHERE f.la_id = $1 AND ($2 = 'all' OR f.status = $2) "
                                "AND ($3::uuid IS NULL OR f.pep_id = $3) ORDER BY f.requested_at, f.target",
                                la_id, status, pep_id)
        counts = {r["status"]: r["n"] for r in await conn.fetch(
            "SELECT status, count(*) AS n FROM funding_requests WHERE la_id = $1 GROUP BY status", la_id)}
    return FundingList(items=[_request(r, claims) for r in rows],
                       counts={s: int(counts.get(s, 0)) for s in STATUSES})


async def allocation_of(conn: asyncpg.Connection, la_id: uuid.UUID) -> Decimal:
    found = await conn.fetchval("SELECT allocation FROM la_settings WHERE la_id = $1", la_id)
    return Decimal(found) if found is not None else DEFAULT_ALLOCATION


async def termly_payment_of(conn: asyncpg.Connection, la_id: uuid.UUID) -> Decimal | None:
    found = await conn.fetchval("SELECT termly_payment FROM la_settings WHERE la_id = $1", la_id)
    return Decimal(found) if found is not None else None


TERMLY_SQL = "SELECT t.* FROM termly_payments t "


def _termly(row: asyncpg.Record) -> TermlyPaymentOut:
    return TermlyPaymentOut(id=row["id"], child_id=row["child_id"], pep_id=row["pep_id"], setting_id=row["setting_id"],
                            academic_year=row["academic_year"], term=row["term"], amount=pounds(row["amount"]),
                            amount_due=pounds(row["amount_due"]), capped=row["amount"] < row["amount_due"],
                            financial_year=row["financial_year"], paid_at=row["paid_at"])


def capped_words(paid: Decimal, due: Decimal) -> str | None:
    """What finance reads when a termly payment was capped at what was left of the child's allocation."""
    if paid >= due:
        return None
    if paid == 0:
        return f"Nothing paid: the child's allocation for the year was used up (termly payment £{pounds(due)})"
    return f"Capped at the £{pounds(paid)} left of the child's allocation for the year (termly payment £{pounds(due)})"


@serves(routes, api.CHILD_FUNDING)
async def child_funding(request: web.Request) -> ChildFunding:
    """A child's PP+ requests and the running totals per financial year against the LA's allocation; for those
    who see QA (never carers or setting staff)."""
    claims = request[CLAIMS]
    child_id = path_uuid(request, "child_id")
    child = await child_seen_with_qa(request, claims, str(child_id), "child")
    la_id = uuid.UUID(child["la_id"])
    async with request.app[POOL].acquire() as conn:
        allocation = await allocation_of(conn, la_id)
        rows = await conn.fetch(REQUEST_SQL + "WHERE f.child_id = $1 AND f.la_id = $2 ORDER BY f.requested_at DESC, "
                                "f.target", child_id, la_id)
        termly = await conn.fetch(TERMLY_SQL + "WHERE t.child_id = $1 AND t.la_id = $2 ORDER BY t.paid_at DESC",
                                  child_id, la_id)
    this_year = financial_year(date.today())
    # What counts against the allocation: requests approved, and the automatic termly payments.
    approved: dict[str, Decimal] = {this_year: Decimal(0)}
    paid: dict[str, Decimal] = {this_year: Decimal(0)}
    for r in rows:
        if r["status"] == "approved" and r["financial_year"]:
            approved[r["financial_year"]] = approved.get(r["financial_year"], Decimal(0)) + r["amount_approved"]
    for t in termly:
        paid[t["financial_year"]] = paid.get(t["financial_year"], Decimal(0)) + t["amount"]
        approved.setdefault(t["financial_year"], Decimal(0))
    years = [FundingYear(financial_year=y, allocation=pounds(allocation), approved=pounds(v + paid.get(y, Decimal(0))),
                         paid_termly=pounds(paid.get(y, Decimal(0))),
                         remaining=pounds(allocation - v - paid.get(y, Decimal(0))))
             for y, v in sorted(approved.items(), reverse=True)]
    spent = approved[this_year] + paid[this_year]
    return ChildFunding(child_id=child_id, la_id=la_id, financial_year=this_year, allocation=pounds(allocation),
                        approved=pounds(spent), paid_termly=pounds(paid[this_year]),
                        remaining=pounds(allocation - spent), years=years,
                        requests=[_request(r, claims) for r in rows], termly_payments=[_termly(t) for t in termly])


# ---- deciding ----------------------------------------------------------------------------------------------


@serves(routes, api.DECIDE_FUNDING)
async def decide(request: web.Request) -> FundingRequestOut:
    claims = request[CLAIMS]
    me = uuid.UUID(require_user(claims))
    request_id = path_uuid(request, "request_id")
    body = await parse_body(request, FundingDecideIn)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM funding_requests WHERE id = $1 FOR UPDATE", request_id)
        if row is None or not roles_at(claims, str(row["la_id"])) & VIRTUAL_SCHOOL_ROLES:
            raise not_found("funding request")
        if not roles_at(claims, str(row["la_id"])) & DECIDERS:
            raise Problem(403, "A Virtual School approver or administrator decides PP+ funding", code="forbidden")
        amount: Decimal | None = None
        if body.decision == "approve":
            amount = Decimal(body.amount) if body.amount else row["amount_requested"]
            if amount is None:
                raise invalid([Invalid("amount", "Enter the amount approved")])
            if amount <= 0 or (row["amount_requested"] is not None and amount > row["amount_requested"]):
                raise invalid([Invalid("amount", f"The amount must be more than £0 and at most the £"
                                                 f"{money(row['amount_requested'])} asked for")])
        elif not body.reason:
            raise invalid([Invalid("reason", "Say why the request is refused" if body.decision == "refuse"
                                   else "Say what more information is needed")])
        status = DECIDED[body.decision]
        now = datetime.now().astimezone()
        year = financial_year(uk_date(now))
        await conn.execute("UPDATE funding_requests SET status = $2, amount_approved = $3, reason = $4, "
                           "decided_by = $5, decided_at = $6, financial_year = $7 WHERE id = $1",
                           request_id, status, amount, body.reason, me, now, year)
        await conn.execute("INSERT INTO funding_decisions (request_id, decision, amount, reason, by_user) "
                           "VALUES ($1, $2, $3, $4, $5)", request_id, status, amount, body.reason, me)
        await add_event(conn, "qa", FundingDecided(
            pep_id=row["pep_id"], child_id=row["child_id"], la_id=row["la_id"], target=row["target"],
            decision=status, amount=money(amount), academic_year=row["academic_year"], reason=body.reason,
            action_target_id=row["action_target_id"], financial_year=year, decided_by=me),
            tenant=str(row["la_id"]), correlation_id=request[REQUEST_ID])
        out = await conn.fetchrow(REQUEST_SQL + "WHERE f.id = $1", request_id)
    return _request(out, claims)


# ---- the LA's allocation and the export for finance --------------------------------------------------------------


async def _allocation(request: web.Request, la_id: uuid.UUID) -> Allocation:
    async with request.app[POOL].acquire() as conn:
        return Allocation(la_id=la_id, amount=pounds(await allocation_of(conn, la_id)),
                          termly_payment=money(await termly_payment_of(conn, la_id)))


@serves(routes, api.GET_ALLOCATION)
async def get_allocation(request: web.Request) -> Allocation:
    return await _allocation(request, _la_of_vs(request[CLAIMS], request.match_info["la_id"]))


@serves(routes, api.SET_ALLOCATION)
async def set_allocation(request: web.Request) -> Allocation:
    claims = request[CLAIMS]
    la_id = _la_of_vs(claims, request.match_info["la_id"])
    if "vs_admin" not in roles_at(claims, str(la_id)):
        raise Problem(403, "Only the Virtual School's administrator sets the PP+ allocation", code="forbidden")
    body = await parse_body(request, AllocationIn)
    allocation = Decimal(body.amount)
    termly = Decimal(body.termly_payment) if body.termly_payment else None
    if termly is not None and not Decimal(0) < termly <= allocation:
        raise invalid([Invalid("termly_payment", "The termly payment must be more than £0 and at most the "
                                                 "allocation")])
    async with request.app[POOL].acquire() as conn:
        # The termly payment changes only when the body names it (null: no automatic payments).
        await conn.execute("INSERT INTO la_settings (la_id, allocation, termly_payment, changed_by) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT (la_id) DO UPDATE SET allocation = $2, "
                           "termly_payment = CASE WHEN $5 THEN $3 ELSE la_settings.termly_payment END, "
                           "changed_by = $4, changed_at = now()",
                           la_id, allocation, termly, uuid.UUID(require_user(claims)),
                           "termly_payment" in body.model_fields_set)
    return await _allocation(request, la_id)


CSV_COLUMNS = ("request_id", "child_id", "child_name", "setting_id", "pep_id", "target", "academic_year", "term",
               "description", "area_of_focus", "intervention_type", "funding_type", "amount_requested", "status",
               "amount_approved", "reason", "decided_at", "decided_by", "financial_year")


@serves(routes, api.FUNDING_CSV)
async def export(request: web.Request) -> web.Response:
    """Every PP+ request of an LA with its decision, for finance (query: la_id)."""
    claims = request[CLAIMS]
    la_id = _la_of_vs(claims, request.query.get("la_id", ""))
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(REQUEST_SQL + "WHERE f.la_id = $1 ORDER BY f.requested_at, f.target", la_id)
        termly = await conn.fetch(
            "SELECT t.*, c.given_name, c.family_name FROM termly_payments t LEFT JOIN children c ON c.id = t.child_id "
            "WHERE t.la_id = $1 ORDER BY t.paid_at, t.child_id", la_id)
    # Finance opens this in a spreadsheet: shared/csvcells keeps names as written and amounts as numbers, and
    # guards any text that would run as a formula.
    requests = [(d.id, d.child_id, d.child_name, d.setting_id, d.pep_id, d.target, d.academic_year, d.term,
                 d.description, d.area_of_focus, d.intervention_type, d.funding_type, d.amount_requested, d.status,
                 d.amount_approved, d.reason, d.decided_at.isoformat() if d.decided_at else None, d.decided_by_name,
                 d.financial_year)
                for d in (_request(r, claims) for r in rows)]
    # The automatic termly payments: a row each, paid (no request behind them, so its own id and no target).
    # amount_requested is the LA's termly payment, amount_approved what was paid: less (or 0.00) where the child's
    # allocation for the year ran out, which the reason says.
    payments = [(t["id"], t["child_id"], f"{t['given_name']} {t['family_name']}" if t["given_name"] else None,
                 t["setting_id"], t["pep_id"], None, t["academic_year"], t["term"], "Automatic termly payment", None,
                 None, "termly_payment", money(t["amount_due"]), "paid", money(t["amount"]),
                 capped_words(t["amount"], t["amount_due"]), t["paid_at"].isoformat(), None,
                 t["financial_year"]) for t in termly]
    return csv_response(CSV_COLUMNS, [*requests, *payments], f"pp-plus-{la_id}.csv")


# ---- automatic termly payments -----------------------------------------------------------------------------------


async def pay_termly(conn: asyncpg.Connection, moment: datetime) -> int:
    """Pay each LA's termly payment, where it has one, for every child with an approved or finalised PEP in a term
    of the current academic year not yet paid for (turning payments on does not pay for years gone by), never past
    what is left of the child's allocation for the financial year (the payment's, by its UK date): the remainder,
    or nothing, recorded as such so the term is settled and the CSV and the child's totals say so. Each payment is
    its own transaction holding the child's lock, so two terms (or two replicas) never both spend the same
    remainder; the unique (child, academic year, term) makes it once. Each is announced (qa.termly_payment.made)
    for the child's profile. Returns how many were made."""
    today = uk_date(moment)
    start = today.year if today.month >= 9 else today.year - 1
    year = financial_year(today)
    due = await conn.fetch(
        "SELECT DISTINCT ON (p.child_id, p.academic_year, p.term) p.child_id, p.la_id, p.id AS pep_id, "
        "p.setting_id, p.academic_year, p.term FROM peps p JOIN la_settings s ON s.la_id = p.la_id "
        "AND s.termly_payment IS NOT NULL WHERE p.status IN ('approved', 'finalised') AND p.academic_year = $1 "
        "AND NOT EXISTS (SELECT 1 FROM termly_payments t WHERE t.child_id = p.child_id "
        "AND t.academic_year = p.academic_year AND t.term = p.term) "
        "ORDER BY p.child_id, p.academic_year, p.term, p.status_version DESC, p.id", f"{start}/{(start + 1) % 100:02d}")
    made = 0
    for d in due:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('qa.pp_plus'), hashtext($1))",
                               str(d["child_id"]))
            settings = await conn.fetchrow("SELECT allocation, termly_payment FROM la_settings WHERE la_id = $1",
                                           d["la_id"])
            if settings is None or settings["termly_payment"] is None:
                continue
            spent = await conn.fetchval(
                "SELECT coalesce((SELECT sum(amount_approved) FROM funding_requests WHERE child_id = $1 "
                "AND la_id = $2 AND status = 'approved' AND financial_year = $3), 0) + coalesce((SELECT sum(amount) "
                "FROM termly_payments WHERE child_id = $1 AND la_id = $2 AND financial_year = $3), 0)",
                d["child_id"], d["la_id"], year)
            amount_due: Decimal = settings["termly_payment"]
            amount = min(amount_due, max(settings["allocation"] - spent, Decimal(0)))
            payment_id = await conn.fetchval(
                "INSERT INTO termly_payments (id, child_id, la_id, pep_id, setting_id, academic_year, term, amount, "
                "amount_due, financial_year, paid_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, "
                "$10) ON CONFLICT (child_id, academic_year, term) DO NOTHING RETURNING id",
                d["child_id"], d["la_id"], d["pep_id"], d["setting_id"], d["academic_year"], d["term"], amount,
                amount_due, year, moment)
            if payment_id is None:
                continue  # another replica paid this term first
            await add_event(conn, "qa", TermlyPaymentMade(
                payment_id=payment_id, child_id=d["child_id"], la_id=d["la_id"], pep_id=d["pep_id"],
                academic_year=d["academic_year"], term=d["term"], amount=pounds(amount), amount_due=pounds(amount_due),
                financial_year=year), tenant=str(d["la_id"]))
            made += 1
    return made


async def _termly_tick(app: web.Application, moment: datetime) -> None:
    async with app[POOL].acquire() as conn:
        paid = await pay_termly(conn, moment)
    if paid:
        log.info("termly PP+ payments made", extra={"payments": paid})


scheduler = every("termly_payments", lambda app: getattr(app[SETTINGS], "termly_payment_interval_seconds", 300.0),
                  _termly_tick)
