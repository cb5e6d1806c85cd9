"""Disputes' HTTP routes: decode, call one use case or query, map refusals to 4xx with a reason."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.disputes import DisputedAmount
from contracts.types import Id, LocalDate, Name, TimeZone
from services.disputes import domain, queries, service, store
from shared import auth, http
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# the operator everything; a partner the disputes of its tree, the resolutions of the invoices it
# issued and its own calendar
PARTNER = Depends(auth.allow("partner"))

class DisputeIn(BaseModel):
    dispute_id: Id = Field(description="client-chosen: the same open repeated answers the first dispute (200); "
                                       "the id used for anything else is refused with `duplicate_dispute`")
    invoice_number: Id
    amount: DisputedAmount = Field(examples=["400.00"])
    reason: Name = ""
    lines: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=list, max_length=1000, description="1-based positions of the disputed invoice lines")


class ResolutionIn(BaseModel):
    outcome: Literal["upheld", "rejected"]
    credited: DisputedAmount | None = Field(default=None, examples=["400.00"],
                                            description="upheld only: the credit note's amount (default: "
                                                        "the disputed amount; at most it)")


class CalendarIn(BaseModel):
    time_zone: TimeZone = "UTC"
    holidays: list[LocalDate] = Field(default_factory=list, max_length=1000)


class DisputeOut(BaseModel):
    dispute_id: str
    invoice_number: str
    account_id: str
    issuer: str
    currency: str
    amount: str
    reason: str
    lines: list[int]
    received_at: str
    due_at: str = Field(description="3 working days after receipt in the issuer's calendar (section 9)")
    status: Literal["open", "overdue", "upheld", "rejected"]
    outcome: Literal["upheld", "rejected"] | None
    credited: str | None
    resolved_at: str | None
    late: bool
    overdue_announced_at: str | None


class CalendarOut(BaseModel):
    issuer: str
    time_zone: str
    holidays: list[str]
    default: bool


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _refused(reason: str, detail: str = "") -> domain.DisputeRefused:
    return domain.DisputeRefused(reason, detail)


async def _visible_dispute(conn, caller: Caller, dispute_id: str):
    """The dispute's row; another partner's dispute is as unknown as one that does not exist."""
    row = await conn.fetchrow(store.GET_DISPUTE, dispute_id)
    if row is None or not await auth.may_see(conn, caller, row["account_id"]):
        raise _refused("unknown_dispute", f"no dispute {dispute_id}")
    return row


async def _check_invoice(conn, caller: Caller, number: str) -> None:
    if caller.is_partner and not await auth.may_see(conn, caller, await conn.fetchval(store.INVOICE_ACCOUNT, number)):
        raise _refused("unknown_invoice", f"no invoice {number}")


def _check_issuer(caller: Caller, issuer: str) -> None:
    """A partner manages its own calendar only; any other issuer is unknown to it."""
    if caller.is_partner and caller.account_id != issuer:
        raise _refused("unknown_issuer", f"no issuer {issuer}")


@router.post("/disputes", status_code=201, response_model=DisputeOut,
             responses={200: {"model": DisputeOut, "description": "the same open again: the first dispute"}})
async def open_dispute(body: DisputeIn, request: Request, caller: Caller = PARTNER):
    """Open a dispute of an invoice (by number), received now by the service's clock; answers it
    with its `due_at`. Refusals: `unknown_invoice` 404, `duplicate_dispute` 409, `invalid_amount`,
    `amount_exceeds_disputable`, `invalid_lines` 422."""
    rt = _rt(request)
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        await _check_invoice(conn, caller, body.invoice_number)
        dispute, new = await service.open_dispute(conn, rt.settings, service.OpenRequest(
            body.dispute_id, body.invoice_number, body.amount, body.reason, tuple(body.lines), now), now)
    return JSONResponse(queries.view(dispute, now), status_code=201 if new else 200)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut)
async def show_dispute(dispute_id: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _visible_dispute(conn, caller, dispute_id)
        return await queries.dispute(conn, dispute_id, rt.clock.now())


@router.post("/disputes/{dispute_id}/resolution", response_model=DisputeOut)
async def resolve_dispute(dispute_id: Id, body: ResolutionIn, request: Request, caller: Caller = PARTNER):
    """Resolve a dispute now: `upheld` (invoicing then issues a credit note of `credited`) or
    `rejected`. The operator, or a partner whose tree holds the invoice's issuer. Refusals:
    `unknown_dispute` 404, `already_resolved` 409, `invalid_amount`, `credit_exceeds_disputed` 422."""
    rt = _rt(request)
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        row = await _visible_dispute(conn, caller, dispute_id)
        if caller.is_partner and not await auth.may_see(conn, caller, row["issuer"]):
            raise auth.forbid("not_the_issuer", "only the invoice's issuer (or an operator) resolves its disputes")
        await service.resolve_dispute(conn, rt.settings, service.ResolveRequest(
            dispute_id, body.outcome, body.credited, now), now)
        return await queries.dispute(conn, dispute_id, now)


@router.get("/invoices/{number}/disputes", response_model=list[DisputeOut])
async def invoice_disputes(number: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_invoice(conn, caller, number)
        if await conn.fetchval(store.INVOICE_ACCOUNT, number) is None:
            raise _refused("unknown_invoice", f"no invoice {number}")
        return await queries.invoice_disputes(conn, number, rt.clock.now())


@router.get("/accounts/{account_id}/disputes", response_model=list[DisputeOut])
async def account_disputes(account_id: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        if not await auth.may_see(conn, caller, account_id):
            raise _refused("unknown_account", f"no account {account_id}")
        return await queries.account_disputes(conn, account_id, rt.clock.now())


@router.get("/issuers/{issuer}/calendar", response_model=CalendarOut)
async def show_calendar(issuer: Id, request: Request, caller: Caller = PARTNER):
    """The issuer's working calendar (`platform`: the platform's own invoices)."""
    _check_issuer(caller, issuer)
    async with _rt(request).pool.acquire() as conn:
        return await queries.calendar(conn, issuer)


@router.put("/issuers/{issuer}/calendar", response_model=CalendarOut)
async def set_calendar(issuer: Id, body: CalendarIn, request: Request, caller: Caller = PARTNER):
    """Set the issuer's time zone and holidays (Monday to Friday minus the holidays are working
    days). Disputes received from now on are due by it; earlier deadlines stay as they were."""
    _check_issuer(caller, issuer)
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await service.set_calendar(conn, issuer, body.time_zone, body.holidays, rt.clock.now())
        return await queries.calendar(conn, issuer)


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Disputes API", version="1",
                  description="Disputes of invoices (BILLING_RULES.md section 9): open, resolve, deadlines in "
                              "each issuer's working calendar.")
    app.state.runtime = runtime
    app.include_router(router)
    auth.install(app, runtime.settings)

    http.install(app)  # DisputeRefused answers with its reason's status (domain.STATUS)

    @app.get("/health", response_model=http.HealthOut)
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
