"""Invoicing's HTTP routes: decode, call one use case or query, map refusals to 4xx with a reason."""

from __future__ import annotations

from typing import Annotated, Literal

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
# CSV exports: 200 is text/csv, refusals stay the JSON error body
CSV: dict = {200: {"description": "CSV, one header line", "content": {"text/csv": {"schema": {"type": "string"}}}}}


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


@router.post("/runs", status_code=202)
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


@router.get("/runs")
async def list_runs(request: Request, month: Annotated[Month | None, Query()] = None, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        if caller.is_partner:
            return await queries.runs_within(conn, month, await auth.tree(conn, caller), rt.clock.now())
        return await queries.runs(conn, month, rt.clock.now())


@router.get("/runs/{run_id}")
async def run_status(run_id: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_run(conn, caller, run_id)
        return await queries.run_status(conn, run_id, rt.clock.now())


@router.get("/invoices/{number}")
async def show_invoice(number: Id, request: Request, caller: Caller = PARTNER,
                       group_by: Annotated[Literal["customer"] | None, Query()] = None):
    """An invoice with its lines, payments, surcharges, credit notes, refunds and its `amounts` now
    (section 7: credited, paid net of refunds, due, surcharges, outstanding, disputed_open, overdue,
    status). `group_by=customer` adds `customers`: one group per reseller's customer
    (`customer_id`, `total`, `lines`; the account's own lines first, `customer_id` null)."""
    async with _rt(request).pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        return await queries.invoice(conn, number, group_by, _rt(request).clock.now())


@router.get("/invoices/{number}/lines.csv", responses=CSV)
async def invoice_lines_csv(number: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        text = await queries.lines_csv(conn, number)
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{number}-lines.csv"'})


@router.post("/invoices/{number}/payments", status_code=201)
async def pay_invoice(number: Id, body: PaymentIn, request: Request, caller: Caller = PARTNER):
    """Record a payment (bank_transfer or card). Card payments of invoices of 3,000.00 or more
    add a 3% surcharge, returned in `surcharge`."""
    rt = _rt(request)
    now = rt.clock.now()
    pay = payments.PaymentRequest(body.amount, body.method, body.paid_at or now, body.currency, body.payment_id)
    async with rt.pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        return await payments.record_payment(conn, rt.settings, number, pay, now)


@router.get("/accounts/{account_id}/invoices")
async def account_invoices(account_id: Id, request: Request, caller: Caller = PARTNER):
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.account_invoices(conn, account_id)


@router.get("/accounts/{account_id}/statements/{month}")
async def account_statement(account_id: Id, month: Month, request: Request, caller: Caller = PARTNER):
    domain.parse_month(month)
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        return await queries.statement(conn, account_id, month)


@router.get("/accounts/{account_id}/usage.csv", responses=CSV)
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

    @app.get("/health")
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
