"""Invoicing's operator routes for what was set aside: quarantined charges and their re-invoicing,
charges waiting for an unknown account, accounts the periodic tasks skipped."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts.types import Month, PaymentTerms
from services.invoicing import containment, quarantine
from shared import auth, http, task_failures
from shared.http import ERROR_RESPONSES

# operators only: what was set aside spans every partner's accounts
router = APIRouter(prefix="/v1", tags=["containment"], dependencies=[Depends(auth.OPERATOR)],
                   responses=ERROR_RESPONSES)
# an account id as stored (one set aside may predate the checked ids): no control characters
ACCOUNT = r"^[^\x00-\x1f\x7f]{1,200}$"


class ReinvoiceRequest(BaseModel):
    account_id: str = Field(pattern=ACCOUNT)
    month: Month
    payment_terms_days: PaymentTerms | None = Field(
        default=None, description="the operator's correction of the charge's payment terms")


# ------------------------------------------------------------------ responses
# Each model lists every key the handler returns today; its base (http.ResponseModel) keeps any key not listed
# (a response model filters what it does not know). Money is a decimal string ("12.50") and
# instants are ISO 8601 strings, as sent.
class QuarantinedChargeOut(http.ResponseModel):
    run_id: str
    account_id: str
    month: str = Field(examples=["2024-05"])
    currency: str
    total: str = Field(description="the charge's total, a decimal string")
    reason: str = Field(description="a short code: why its invoice could not be issued "
                                    "(e.g. `pending_charge_expired`)")
    error: str = Field(description="the text an operator reads")
    at: str = Field(description="when it was (last) quarantined")
    resolved_invoice: str | None = Field(description="the invoice that resolved it; null while open")
    resolved_at: str | None = Field(description="when it was resolved; null while open")


class ReinvoiceResultOut(http.ResponseModel):
    run_id: str
    invoice: str | None = Field(description="the account's invoice for the month; null when the charge "
                                            "failed again (it stays quarantined)")
    reason: str | None = Field(description="null when invoiced; else the new reason it stays quarantined")
    error: str | None = Field(description="null when invoiced; else the new error")


class ReinvoiceOut(http.ResponseModel):
    account_id: str
    month: str
    results: list[ReinvoiceResultOut] = Field(description="one per quarantined charge of the account and month")


class PendingChargeOut(http.ResponseModel):
    event_id: str
    account_id: str = Field(description="the account invoicing does not know yet")
    parked_at: str
    waiting_hours: float = Field(description="hours since `parked_at`, rounded to 2 decimals")


@router.get("/quarantine", response_model=list[QuarantinedChargeOut],
            summary="Charges whose invoice could not be issued, with why (open ones; "
                    "resolved=true adds the re-invoiced ones)")
async def quarantined(request: Request, month: Annotated[Month | None, Query()] = None,
                      account: str | None = Query(default=None, pattern=ACCOUNT), resolved: bool = False):
    async with request.app.state.runtime.pool.acquire() as conn:
        return [http.row_json(r) for r in await quarantine.listing(conn, month, account, resolved)]


@router.post("/quarantine/reinvoice", response_model=ReinvoiceOut,
             summary="Issue the invoices of an account's quarantined charges for a month once the cause is fixed")
async def reinvoice(body: ReinvoiceRequest, request: Request):
    rt = request.app.state.runtime
    async with rt.pool.acquire() as conn:
        results = await containment.reinvoice(conn, rt.settings, body.account_id, body.month, rt.clock.now(),
                                              body.payment_terms_days)
    return {"account_id": body.account_id, "month": body.month, "results": results}


@router.get("/pending-charges", response_model=list[PendingChargeOut],
            summary="Charges waiting for an account invoicing does not know yet "
                    "(they expire into the quarantine after BILLING_PENDING_CHARGES_TTL_HOURS)")
async def pending_charges(request: Request):
    rt = request.app.state.runtime
    async with rt.pool.acquire() as conn:
        return await containment.pending(conn, rt.clock.now())


@router.get("/task-failures", summary="Accounts the periodic tasks (billing_runs, overdue) skip because "
                                      "their data makes the task fail, with the last error",
            response_model=list[task_failures.TaskFailureOut])
async def failures(request: Request, task: str | None = Query(default=None, pattern=ACCOUNT)):
    async with request.app.state.runtime.pool.acquire() as conn:
        return await task_failures.listing(conn, task)
