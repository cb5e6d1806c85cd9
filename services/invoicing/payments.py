"""The payment use case: record a payment of an invoice, its card surcharge, and paid status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from contracts.invoicing import InvoicePaidV1, PaymentRecordedV1, PaymentRejectedV1, SurchargeChargedV1
from contracts.topics import INVOICING_EVENTS
from services.invoicing import amounts, balances, domain, money_store, store
from services.invoicing.service import wrap_event
from shared import outbox
from shared.refusal import Refused
from shared.settings import Settings


class NotFound(Refused, LookupError):
    """An unknown (or, for a partner, unreachable) invoice, account or run: 404."""

    status = 404


class Conflict(Refused, ValueError):
    """A request that contradicts what exists (a payment id reused differently): 409."""

    status = 409


@dataclass(frozen=True)
class PaymentRequest:
    amount: Decimal
    method: str
    paid_at: datetime
    currency: str | None = None
    payment_id: str | None = None


async def record_payment(conn: asyncpg.Connection, settings: Settings, number: str, request: PaymentRequest,
                         now: datetime) -> dict:
    """Record a payment of invoice `number`; one transaction: lock the invoice, check, insert the
    payment (and its surcharge), update the invoice, write the events. A refused payment raises
    domain.PaymentRefused after writing only a PaymentRejectedV1 event; a repeated `payment_id`
    returns the first recording."""
    try:
        return await _record(conn, settings, number, request, now)
    except asyncpg.UniqueViolationError:
        # the same payment_id recorded meanwhile for another invoice (one invoice's payments
        # are serialised by its row lock, so a retry there finds the first recording instead)
        raise Conflict("payment_id_reused", f"payment {request.payment_id} was recorded differently") from None


async def _record(conn: asyncpg.Connection, settings: Settings, number: str, request: PaymentRequest,
                  now: datetime) -> dict:
    async with conn.transaction():
        # the invoice's lock first: concurrent payments with one payment_id then see each other
        invoice = await conn.fetchrow(store.LOCK_INVOICE, number)
        if request.payment_id is not None:
            previous = await conn.fetchrow(store.GET_PAYMENT, request.payment_id)
            if previous is not None:
                if previous["invoice_number"] != number or previous["amount"] != request.amount:
                    raise Conflict("payment_id_reused", f"payment {request.payment_id} was recorded differently")
                surcharge = await conn.fetchval(
                    "SELECT amount FROM surcharges WHERE payment_id = $1", request.payment_id)
                return _result(previous, surcharge or Decimal("0.00"), None)
        if invoice is None:
            raise NotFound("unknown_invoice", f"no invoice {number}")
        # section 7: outstanding = due (total - credited) + surcharges - paid (net of refunds)
        outstanding = (invoice["total"] - invoice["credited_total"] + invoice["surcharge_total"]
                       - invoice["paid_total"] + invoice["refunded_total"])
        try:
            domain.check_payment(request.method, request.amount, request.currency or invoice["currency"],
                                 outstanding, invoice["currency"])
        except domain.PaymentRefused as exc:
            refused = exc
            rejected = PaymentRejectedV1(invoice_number=number, account_id=invoice["account_id"],
                                         amount=str(request.amount), method=request.method,
                                         reason=refused.reason, detail=refused.detail, at=now)
            await outbox.add(conn, settings.topic(INVOICING_EVENTS.name),
                             [wrap_event(rejected, invoice["account_id"], settings, now)])
        else:
            return await _apply(conn, settings, invoice, request, now)
    raise refused  # after the commit: only the rejection event was written


async def _apply(conn: asyncpg.Connection, settings: Settings, invoice: asyncpg.Record,
                 request: PaymentRequest, now: datetime) -> dict:
    account, currency, number = invoice["account_id"], invoice["currency"], invoice["invoice_number"]
    payment_id = request.payment_id or f"pay-{uuid.uuid4().hex}"
    policy = await money_store.surcharge_policy(conn, invoice["issuer"])  # the issuer's threshold and rate
    surcharge = balances.surcharge_of(invoice["total"], request.method, request.amount, currency, policy)
    paid_total = invoice["paid_total"] + request.amount
    # paid when paid (net of refunds) covers due (total - credited); surcharges are separate charges
    due = invoice["total"] - invoice["credited_total"]
    paid_now = domain.is_paid(due, paid_total - invoice["refunded_total"])
    became_paid = invoice["status"] != "paid" and paid_now
    status = "paid" if paid_now else invoice["status"]
    await conn.execute(store.INSERT_PAYMENT, payment_id, number, account, request.amount, currency,
                       request.method, request.paid_at, now)
    events = [PaymentRecordedV1(payment_id=payment_id, invoice_number=number, account_id=account,
                                amount=request.amount, currency=currency, method=request.method,
                                paid_at=request.paid_at, surcharge=surcharge)]
    if surcharge:
        surcharge_id = f"sur-{payment_id}"
        await conn.execute(store.INSERT_SURCHARGE, surcharge_id, payment_id, number, account, currency,
                           request.amount, policy.rate, surcharge, request.paid_at)
        events.append(SurchargeChargedV1(
            surcharge_id=surcharge_id, payment_id=payment_id, invoice_number=number, account_id=account,
            currency=currency, base_amount=request.amount, rate=policy.rate,
            threshold=policy.threshold, amount=surcharge, charged_at=request.paid_at))
    await conn.execute(store.APPLY_PAYMENT, number, request.amount, surcharge, status,
                       request.paid_at if became_paid else None)
    if became_paid:
        events.append(InvoicePaidV1(invoice_number=number, account_id=account, currency=currency,
                                    total=invoice["total"], paid_total=paid_total, paid_at=request.paid_at))
    envelopes = [wrap_event(e, account, settings, now) for e in events]
    envelopes.append(await amounts.amounts_changed(conn, settings, number, request.paid_at, now))
    await outbox.add(conn, settings.topic(INVOICING_EVENTS.name), envelopes)
    payment = {"payment_id": payment_id, "invoice_number": number, "amount": request.amount,
               "currency": currency, "method": request.method, "paid_at": request.paid_at}
    return _result(payment, surcharge, status)


def _result(payment, surcharge: Decimal, status: str | None) -> dict:
    out = {k: payment[k] for k in ("payment_id", "invoice_number", "amount", "currency", "method", "paid_at")}
    out["amount"] = str(out["amount"])
    out["paid_at"] = out["paid_at"].isoformat()
    out["surcharge"] = str(surcharge)
    if status is not None:
        out["invoice_status"] = status
    return out
