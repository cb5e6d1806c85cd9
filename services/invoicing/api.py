"""Invoicing's HTTP routes: decode, call one use case or query, map refusals to 4xx with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import AwareDatetime, BaseModel, Field

from services.invoicing import containment_api, domain, payments, queries, service, store
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class RunRequest(BaseModel):
    month: str = Field(pattern=MONTH, examples=["2026-05"])
    account_ids: list[str] | None = None
    requested_by: str = "operator"
    as_of: AwareDatetime | None = Field(default=None, description="the run's requested_at (default: now); "
                                        "rating bills accounts whose metering point is at or before it")


class PaymentIn(BaseModel):
    amount: Decimal = Field(examples=["3000.00"])
    method: str = Field(examples=["bank_transfer", "card"])
    paid_at: AwareDatetime | None = None
    currency: str | None = None
    payment_id: str | None = Field(default=None, description="client idempotency key")


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _error(status: int, reason: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"reason": reason, "detail": detail}, status_code=status)


@router.post("/runs", status_code=202)
async def request_run(body: RunRequest, request: Request):
    """Request a billing run for a month (all accounts, or `account_ids`): recorded here and sent
    to rating as RequestBillingRunV1."""
    rt = _rt(request)
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
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
async def list_runs(request: Request, month: str | None = Query(default=None, pattern=MONTH)):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        return await queries.runs(conn, month, rt.clock.now())


@router.get("/runs/{run_id}")
async def run_status(run_id: str, request: Request):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        return await queries.run_status(conn, run_id, rt.clock.now())


@router.get("/invoices/{number}")
async def show_invoice(number: str, request: Request):
    async with _rt(request).pool.acquire() as conn:
        return await queries.invoice(conn, number)


@router.get("/invoices/{number}/lines.csv", response_class=PlainTextResponse)
async def invoice_lines_csv(number: str, request: Request):
    async with _rt(request).pool.acquire() as conn:
        text = await queries.lines_csv(conn, number)
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{number}-lines.csv"'})


@router.post("/invoices/{number}/payments", status_code=201)
async def pay_invoice(number: str, body: PaymentIn, request: Request):
    """Record a payment (bank_transfer or card). Card payments of invoices of 3,000.00 or more
    add a 3% surcharge, returned in `surcharge`."""
    rt = _rt(request)
    now = rt.clock.now()
    pay = payments.PaymentRequest(body.amount, body.method, body.paid_at or now, body.currency, body.payment_id)
    async with rt.pool.acquire() as conn:
        return await payments.record_payment(conn, rt.settings, number, pay, now)


@router.get("/accounts/{account_id}/invoices")
async def account_invoices(account_id: str, request: Request):
    async with _rt(request).pool.acquire() as conn:
        return await queries.account_invoices(conn, account_id)


@router.get("/accounts/{account_id}/statements/{month}")
async def account_statement(account_id: str, month: str, request: Request):
    domain.parse_month(month)
    async with _rt(request).pool.acquire() as conn:
        return await queries.statement(conn, account_id, month)


@router.get("/accounts/{account_id}/usage.csv", response_class=PlainTextResponse)
async def account_usage_csv(account_id: str, request: Request, from_: date = Query(alias="from"),
                            to: date = Query()):
    """The account's usage records used in [from, to) (days in the account's time zone)."""
    if to <= from_:
        return _error(422, "invalid_period", "`to` must be after `from` (the period is half-open)")
    async with _rt(request).pool.acquire() as conn:
        text = await queries.usage_csv(conn, account_id, from_, to)
    return PlainTextResponse(text, media_type="text/csv")


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Invoicing API", version="1",
                  description="Invoices, billing runs, payments, statements and CSV exports.")
    app.state.runtime = runtime
    app.include_router(router)
    app.include_router(containment_api.router)

    @app.exception_handler(payments.NotFound)
    async def not_found(_: Request, exc: payments.NotFound):
        return _error(404, exc.reason, exc.detail)

    @app.exception_handler(payments.Conflict)
    async def conflict(_: Request, exc: payments.Conflict):
        return _error(409, exc.reason, exc.detail)

    @app.exception_handler(domain.PaymentRefused)
    async def refused(_: Request, exc: domain.PaymentRefused):
        return _error(422, exc.reason, exc.detail)

    @app.exception_handler(ValueError)
    async def invalid(_: Request, exc: ValueError):
        return _error(422, "invalid_input", str(exc))

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError):
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_input", detail)

    @app.get("/health")
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
