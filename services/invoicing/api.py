"""Invoicing's HTTP routes: decode, call one use case or query, map refusals to 4xx with a reason."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from contracts.types import Amount, Currency, Id, Instant, LocalDate, Month, Name

from services.invoicing import containment_api, domain, money_api, payments, queries, service, store
from shared import auth, http
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# the operator everything; a partner its tree's invoices, payments, statements and runs
PARTNER = Depends(auth.allow("partner"))


class RunRequest(BaseModel):
    month: Month
    account_ids: list[Id] | None = Field(default=None, max_length=10_000)
    requested_by: Name = "operator"
    as_of: Instant | None = Field(default=None, description="the run's requested_at (default: now); "
                                        "rating bills accounts whose metering point is at or before it")


class PaymentIn(BaseModel):
    amount: Amount = Field(examples=["3000.00"])
    method: Name = Field(examples=["bank_transfer", "card"])
    paid_at: Instant | None = None
    currency: Currency | None = None
    payment_id: Id | None = Field(default=None, description="client idempotency key")


# ------------------------------------------------------------------ responses
# Each model lists every key the handler returns today; its base (http.ResponseModel) keeps any key not listed
# (a response model filters what it does not know). Money is a decimal string ("12.50") and
# instants and days are ISO 8601 strings, as sent. A key that is sometimes absent has a default
# and its route excludes unset keys, so it stays absent rather than becoming null.
MONEY = "a decimal string"


class RunQuarantinedOut(http.ResponseModel):
    account_id: str
    stage: Literal["rating", "invoicing"] = Field(description="`rating`: not rated (a re-rate bills it); "
                                                              "`invoicing`: rated, but its invoice could not be "
                                                              "issued (a re-invoice issues it)")
    reason: str = Field(description="a short code: the failure's kind")
    error: str = Field(description="the text an operator reads")
    currency: str | None = Field(default=None, description="`invoicing` stage only (absent for `rating`)")
    total: str | None = Field(default=None, description=f"`invoicing` stage only (absent for `rating`): "
                                                        f"the set-aside charge's total, {MONEY}")
    invoice: str | None = Field(description="the account's invoice for the month once it exists (it was billed "
                                            "after all); null until then")


class RunOut(http.ResponseModel):
    run_id: str
    month: str = Field(examples=["2024-05"])
    status: Literal["requested", "invoicing", "reconciled", "completed_with_quarantine", "mismatch", "failed"] = \
        Field(description="`requested` (no summary from rating yet), `invoicing` (invoices still arriving), "
                          "`reconciled`, `completed_with_quarantine` (reconciled, with accounts set aside), "
                          "`mismatch`, or `failed` (rating could not rate the run at all)")
    requested_at: str | None = Field(description="null for a run known only from rating's summary")
    requested_by: str | None = Field(description="null for a run known only from rating's summary")
    account_ids: int | Literal["all"] = Field(description="how many accounts the run named, or `all`")
    summary: dict[str, Any] | None = Field(description="rating's BillingRunRatedV1 payload as received "
                                                       "(null until it arrives)")
    invoices: int = Field(description="invoices received for the run")
    accounts_without_lines: int = Field(description="accounts rated for invoicing with no lines (no invoice)")
    expected_invoice_accounts: int | None = Field(description="from the summary; null until it arrives")
    expected_totals: dict[str, str] = Field(description=f"invoice totals per currency from the summary, {MONEY}")
    received_totals: dict[str, str] = Field(description=f"totals per currency of the invoices received, {MONEY}")
    problems: list[str] = Field(description="why the run does not reconcile (empty when it does)")
    quarantined: list[RunQuarantinedOut] = Field(description="the accounts the run set aside, and why")


class InvoiceOut(http.ResponseModel):
    invoice_number: str
    issuer: str
    account_id: str
    month: str = Field(examples=["2024-05"], description="the month of the run that issued it")
    run_id: str
    currency: str
    issue_date: str
    due_date: str
    total: str = Field(examples=["120.00"], description=MONEY)
    paid_total: str = Field(description=f"payments recorded, before refunds, {MONEY}")
    surcharge_total: str = Field(description=f"card surcharges charged, {MONEY}")
    status: Literal["issued", "paid", "overdue"] = Field(description="the stored status (see `amounts.status` "
                                                                     "for the section 7 status now)")
    outstanding: str = Field(description=f"total - credited + surcharges - paid (net of refunds), {MONEY}")


class AmountsOut(http.ResponseModel):
    total: str
    credited: str = Field(description="credit notes issued")
    paid: str = Field(description="payments net of refunds")
    due: str = Field(description="total - credited")
    surcharges: str
    outstanding: str = Field(description="due + surcharges - paid")
    disputed_open: str = Field(description="amounts of open disputes, held back from `overdue`")
    overdue: str = Field(description="once past the due date: due - disputed_open - paid, when above zero")
    status: Literal["paid", "overdue", "open"]


class CustomerGroupOut(http.ResponseModel):
    customer_id: str | None = Field(description="the reseller's customer; null for the account's own lines")
    total: str = Field(description=f"the sum of the group's line amounts, {MONEY}")
    lines: list[dict[str, Any]] = Field(description="the group's lines in invoice order, as in `lines`")


class InvoicePaymentOut(http.ResponseModel):
    payment_id: str
    amount: str
    method: Literal["bank_transfer", "card"]
    paid_at: str


class InvoiceSurchargeOut(http.ResponseModel):
    surcharge_id: str
    payment_id: str = Field(description="the card payment it surcharged")
    amount: str
    charged_at: str


class InvoiceDetailOut(InvoiceOut):
    lines: list[dict[str, Any]] = Field(description="the rated lines exactly as rating sent them (ChargeLineV1's "
                                                    "wire form: `part_number`, `product_name`, `subscription_id`, "
                                                    "`from`, `to`, `quantity`, `unit_price`, `price_version`, "
                                                    "`amount`, `days`, `month_days`, `rule`, `late`, "
                                                    "`explanation`, `customer_id`; decimals as strings)")
    amounts: AmountsOut = Field(description="section 7 amounts now")
    credit_notes: list[money_api.CreditNoteOut]
    refunds: list[money_api.RefundOut]
    customers: list[CustomerGroupOut] | None = Field(default=None, description="only with `group_by=customer` "
                                                                               "(absent otherwise): one group "
                                                                               "per customer, the account's "
                                                                               "own lines first")
    payments: list[InvoicePaymentOut]
    surcharges: list[InvoiceSurchargeOut]


class PaymentOut(http.ResponseModel):
    payment_id: str
    invoice_number: str
    amount: str
    currency: str
    method: Literal["bank_transfer", "card"]
    paid_at: str
    surcharge: str = Field(description=f"the card surcharge this payment added (0.00 when none), {MONEY}")
    invoice_status: Literal["issued", "paid", "overdue"] | None = Field(
        default=None, description="the invoice's status after the payment; absent when a repeated "
                                  "`payment_id` answers the first recording")


class StatementChargeOut(http.ResponseModel):
    kind: Literal["invoice", "surcharge"]
    ref: str = Field(description="the invoice number or surcharge id")
    date: str = Field(description="the day, in the account's time zone")
    amount: str


class StatementPaymentOut(http.ResponseModel):
    payment_id: str
    invoice_number: str
    method: Literal["bank_transfer", "card"]
    date: str = Field(description="the day, in the account's time zone")
    amount: str


class StatementCreditOut(http.ResponseModel):
    ref: str = Field(description="the credit note number or refund id")
    invoice_number: str
    dispute_id: str
    date: str = Field(description="the day, in the account's time zone")
    amount: str


class StatementOut(http.ResponseModel):
    account_id: str
    month: str = Field(examples=["2024-05"])
    currency: str
    balance_forward: str = Field(description=f"the closing balance of everything before the month, {MONEY}")
    new_charges: str = Field(description=f"invoices and surcharges of the month, {MONEY}")
    payments: str
    credit_notes: str
    refunds: str
    closing_balance: str = Field(description="balance_forward + new_charges - payments - credit_notes + refunds")
    charges: list[StatementChargeOut]
    payment_items: list[StatementPaymentOut]
    credit_note_items: list[StatementCreditOut]
    refund_items: list[StatementCreditOut]


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _error(status: int, reason: str, detail: str = "") -> JSONResponse:
    return http.error(status, reason, detail)


async def _check_account(conn, caller: Caller, account_id: str) -> None:
    """Another partner's account is as unknown to a partner as one that does not exist."""
    if not await auth.may_see(conn, caller, account_id):
        raise payments.NotFound("unknown_account", f"no account {account_id}")


async def _check_invoice(conn, caller: Caller, number: str) -> None:
    if caller.is_partner and not await auth.may_see(conn, caller, await conn.fetchval(store.INVOICE_ACCOUNT, number)):
        raise payments.NotFound("unknown_invoice", f"no invoice {number}")


async def _check_run(conn, caller: Caller, run_id: str) -> None:
    """A partner sees a run that named accounts, every one of them its own."""
    if not caller.is_partner:
        return
    named = await conn.fetchval(store.RUN_ACCOUNTS, run_id)
    if not named or not set(named) <= await auth.tree(conn, caller):
        raise payments.NotFound("unknown_run", f"no run {run_id}")


@router.post("/runs", status_code=202, response_model=RunOut, response_model_exclude_unset=True)
async def request_run(body: RunRequest, request: Request, caller: Caller = PARTNER):
    """Request a billing run for a month (all accounts, or `account_ids`): recorded here and sent
    to rating as RequestBillingRunV1. A partner names accounts of its own tree."""
    rt = _rt(request)
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        if caller.is_partner:
            if not body.account_ids:
                raise auth.forbid("forbidden_field", "a partner requests runs of named accounts of its own")
            for account_id in body.account_ids:
                await _check_account(conn, caller, account_id)
            body = body.model_copy(update={"requested_by": f"partner:{caller.account_id} key {caller.key_id}"})
        if body.as_of is not None and body.as_of > now:
            # A run as of the future would bill before every fact of its month could be known.
            # Only preview accounts (automatic_runs = false: replays, demos) may be run ahead.
            known = await store.accounts_by_id(conn, body.account_ids or [])
            if not body.account_ids or any(a not in known or known[a]["automatic_runs"] for a in body.account_ids):
                return _error(422, "as_of_in_future", "a run as of a future instant is only allowed for named "
                                                      "accounts opened with automatic_runs = false")
        run_id = await service.request_run(conn, rt.settings, body.month, body.as_of or now,
                                           body.requested_by, body.account_ids)
        return await queries.run_status(conn, run_id, rt.clock.now())


@router.get("/runs", response_model=list[RunOut], response_model_exclude_unset=True)
async def list_runs(request: Request, month: Annotated[Month | None, Query()] = None, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        if caller.is_partner:
            return await queries.runs_within(conn, month, await auth.tree(conn, caller), rt.clock.now())
        return await queries.runs(conn, month, rt.clock.now())


@router.get("/runs/{run_id}", response_model=RunOut, response_model_exclude_unset=True)
async def run_status(run_id: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_run(conn, caller, run_id)
        return await queries.run_status(conn, run_id, rt.clock.now())


@router.get("/invoices/{number}", response_model=InvoiceDetailOut, response_model_exclude_unset=True)
async def show_invoice(number: Id, request: Request, caller: Caller = PARTNER,
                       group_by: Annotated[Literal["customer"] | None, Query()] = None):
    """An invoice with its lines, payments, surcharges, credit notes, refunds and its `amounts` now
    (section 7: credited, paid net of refunds, due, surcharges, outstanding, disputed_open, overdue,
    status). `group_by=customer` adds `customers`: one group per reseller's customer
    (`customer_id`, `total`, `lines`; the account's own lines first, `customer_id` null)."""
    async with _rt(request).pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        return await queries.invoice(conn, number, group_by, _rt(request).clock.now())


@router.get("/invoices/{number}/lines.csv", responses=http.CSV, response_class=http.CsvText)
async def invoice_lines_csv(number: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        text = await queries.lines_csv(conn, number)
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{number}-lines.csv"'})


@router.post("/invoices/{number}/payments", status_code=201, response_model=PaymentOut,
              response_model_exclude_unset=True)
async def pay_invoice(number: Id, body: PaymentIn, request: Request, caller: Caller = PARTNER):
    """Record a payment (bank_transfer or card). Card payments of invoices of 3,000.00 or more
    add a 3% surcharge, returned in `surcharge`."""
    rt = _rt(request)
    now = rt.clock.now()
    pay = payments.PaymentRequest(body.amount, body.method, body.paid_at or now, body.currency, body.payment_id)
    async with rt.pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        return await payments.record_payment(conn, rt.settings, number, pay, now)


@router.get("/accounts/{account_id}/invoices", response_model=list[InvoiceOut])
async def account_invoices(account_id: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.account_invoices(conn, account_id)


@router.get("/accounts/{account_id}/statements/{month}", response_model=StatementOut)
async def account_statement(account_id: Id, month: Month, request: Request, caller: Caller = PARTNER):
    domain.parse_month(month)
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.statement(conn, account_id, month)


@router.get("/accounts/{account_id}/usage.csv", responses=http.CSV, response_class=http.CsvText)
async def account_usage_csv(account_id: Id, request: Request, from_: Annotated[LocalDate, Query(alias="from")],
                            to: Annotated[LocalDate, Query()], caller: Caller = PARTNER):
    """The account's usage records used in [from, to) (days in the account's time zone)."""
    if to <= from_:
        return _error(422, "invalid_period", "`to` must be after `from` (the period is half-open)")
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        text = await queries.usage_csv(conn, account_id, from_, to)
    return PlainTextResponse(text, media_type="text/csv")


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Invoicing API", version="1",
                  description="Invoices, billing runs, payments, statements and CSV exports.")
    app.state.runtime = runtime
    app.include_router(money_api.router)  # first: its statements/{month}.csv before statements/{month}
    app.include_router(router)
    app.include_router(containment_api.router)
    auth.install(app, runtime.settings)

    @app.exception_handler(ValueError)
    async def invalid(_: Request, exc: ValueError):
        return _error(422, "invalid_input", str(exc))

    http.install(app)

    @app.get("/health", response_model=http.HealthOut)
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
