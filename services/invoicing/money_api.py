"""Invoicing's routes after the invoice: credit notes, refunds and their payout, statement CSV,
and the card surcharge's settings per issuer (operator only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from contracts.types import MAX_AMOUNT, Id, Instant, Month, Name
from services.invoicing import balances, credits, domain, money_store, queries
from services.invoicing.payments import NotFound
from shared import auth, http
from shared.auth import Caller
from shared.http import ERROR_RESPONSES

router = APIRouter(prefix="/v1", tags=["credit notes and refunds"], responses=ERROR_RESPONSES)
PARTNER = Depends(auth.allow("partner"))

Threshold = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False, examples=["3000.00"],
                                     description="invoice total from which card payments are surcharged (inclusive)")]
Rate = Annotated[Decimal, Field(ge=0, lt=1, decimal_places=6, allow_inf_nan=False, examples=["0.03"],
                                description="the surcharge as a fraction of the amount paid by card (0.03 = 3%)")]


class SurchargeIn(BaseModel):
    threshold: Threshold = balances.DEFAULT_SURCHARGE.threshold
    rate: Rate = balances.DEFAULT_SURCHARGE.rate


class PayoutIn(BaseModel):
    paid_out_at: Instant | None = Field(default=None, description="when it was paid out (default: now)")
    reference: Name = Field(default="", description="the bank's or PSP's reference")


# ------------------------------------------------------------------ responses
# Each model lists every key the handler returns today; its base (http.ResponseModel) keeps any key not listed
# (a response model filters what it does not know). Money is a decimal string ("12.50") and
# instants and days are ISO 8601 strings, as sent.
class CreditNoteOut(http.ResponseModel):
    credit_note_number: str = Field(description="`<ISSUER>-CN-000001`: the issuer's own gapless credit-note sequence")
    issuer: str
    invoice_number: str
    dispute_id: str = Field(description="the upheld dispute it credits (one credit note per dispute)")
    account_id: str
    currency: str
    amount: str = Field(examples=["400.00"], description="the credited amount, a decimal string")
    issued_at: str = Field(description="the dispute's resolution instant")


class RefundOut(http.ResponseModel):
    refund_id: str = Field(description="`RF-<dispute id>`: named by the dispute whose resolution caused it")
    invoice_number: str
    dispute_id: str
    account_id: str
    currency: str
    amount: str = Field(examples=["100.00"], description="what was paid beyond what the invoice owes after "
                                                          "the credit note, a decimal string")
    issued_at: str = Field(description="the dispute's resolution instant")
    due_at: str = Field(description="24 hours after `issued_at`: when it must be paid out by")
    paid_out_at: str | None = Field(description="when it was paid out; null until then")
    payout_reference: str | None = Field(description="the bank's or PSP's reference given with the payout "
                                                     "(\"\" when none was given); null until paid out")
    overdue: bool = Field(description="not paid out by `due_at` (as of now), or paid out after it")


class SurchargeOut(http.ResponseModel):
    issuer: str
    threshold: str = Field(examples=["3000.00"], description="invoice total from which card payments are "
                                                             "surcharged (inclusive), a decimal string")
    rate: str = Field(examples=["0.03"], description="the surcharge as a fraction of the amount paid by card, "
                                                     "a decimal string")
    default: bool = Field(description="the issuer has no settings of its own: the defaults apply")


def _rt(request: Request):
    return request.app.state.runtime


async def _check_account(conn, caller: Caller, account_id: str) -> None:
    if not await auth.may_see(conn, caller, account_id):
        raise NotFound("unknown_account", f"no account {account_id}")


async def _refund(conn, caller: Caller, refund_id: str):
    row = await conn.fetchrow(money_store.GET_REFUND, refund_id)
    if row is None or (caller.is_partner and not await auth.may_see(conn, caller, row["account_id"])):
        raise NotFound("unknown_refund", f"no refund {refund_id}")
    return row


@router.get("/accounts/{account_id}/credit-notes", response_model=list[CreditNoteOut])
async def account_credit_notes(account_id: Id, request: Request, caller: Caller = PARTNER):
    """The account's credit notes, oldest first (each for one upheld dispute)."""
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        await queries.account(conn, account_id)
        return [credits.credit_note_json(r) for r in await conn.fetch(money_store.ACCOUNT_CREDIT_NOTES, account_id)]


@router.get("/accounts/{account_id}/refunds", response_model=list[RefundOut])
async def account_refunds(account_id: Id, request: Request, caller: Caller = PARTNER):
    """The account's refunds with their due instants, payouts and whether they are overdue."""
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        await queries.account(conn, account_id)
        now = rt.clock.now()
        return [credits.refund_json(r, now) for r in await conn.fetch(money_store.ACCOUNT_REFUNDS, account_id)]


@router.get("/refunds/{refund_id}", response_model=RefundOut)
async def show_refund(refund_id: Id, request: Request, caller: Caller = PARTNER):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        return credits.refund_json(await _refund(conn, caller, refund_id), rt.clock.now())


@router.post("/refunds/{refund_id}/payout", response_model=RefundOut, dependencies=[Depends(auth.OPERATOR)])
async def pay_out_refund(refund_id: Id, body: PayoutIn, request: Request):
    """Record that the refund was paid out (once; the same recording again answers the first,
    another one is refused with `already_paid_out`)."""
    rt = _rt(request)
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        return await credits.pay_out_refund(conn, rt.settings, refund_id, body.paid_out_at or now, body.reference, now)


@router.get("/accounts/{account_id}/statements/{month}.csv", responses=http.CSV, response_class=http.CsvText)
async def account_statement_csv(account_id: Id, month: Month, request: Request, caller: Caller = PARTNER):
    """The monthly statement as CSV: balance forward, every item with the running balance, closing."""
    domain.parse_month(month)
    async with _rt(request).pool.acquire() as conn:
        await _check_account(conn, caller, account_id)
        text = queries.statement_csv(await queries.statement(conn, account_id, month))
    return PlainTextResponse(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{account_id}-{month}-statement.csv"'})


@router.get("/issuers/{issuer}/surcharge", response_model=SurchargeOut, dependencies=[Depends(auth.OPERATOR)])
async def show_surcharge(issuer: Id, request: Request):
    """The issuer's card surcharge settings (`default`: it has none of its own: 3000.00 and 3%)."""
    async with _rt(request).pool.acquire() as conn:
        return await credits.surcharge_json(conn, issuer)


@router.put("/issuers/{issuer}/surcharge", response_model=SurchargeOut, dependencies=[Depends(auth.OPERATOR)])
async def set_surcharge(issuer: Id, body: SurchargeIn, request: Request):
    """Set the issuer's card surcharge: threshold (invoice total, inclusive) and rate; applies to
    card payments recorded from now on."""
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        return await credits.set_surcharge(conn, issuer, balances.SurchargePolicy(body.threshold, body.rate),
                                           "operator", rt.clock.now())
