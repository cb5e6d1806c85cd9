"""Events of the invoicing service, for partner systems: invoices issued, paid and overdue;
payments recorded and refused; card surcharges charged. Money is a decimal string on the wire."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from contracts.envelope import Contract
from contracts.rating import ChargeLineV1
from contracts.registry import event
from contracts.types import Currency, Id, Instant, Month

PaymentMethod = Literal["bank_transfer", "card"]


@event("invoicing.invoice.issued", 1)
class InvoiceIssuedV1(Contract):
    """An invoice was issued: one per billing account and run month, numbered from the issuer's
    gapless sequence (`issuer` is the account's parent partner, or `platform`). `total` is the
    sum of the rounded `lines`; `due_date` is `issue_date` + the account's payment terms."""

    invoice_number: Id
    issuer: str
    account_id: Id
    month: Month
    run_id: Id
    issue_date: date
    due_date: date
    currency: Currency
    total: Decimal
    lines: list[ChargeLineV1]


@event("invoicing.payment.recorded", 1)
class PaymentRecordedV1(Contract):
    """A payment towards an invoice was recorded (electronic methods only). `surcharge` is the
    card surcharge it caused (0 when none; see SurchargeChargedV1)."""

    payment_id: Id
    invoice_number: Id
    account_id: Id
    amount: Decimal
    currency: Currency
    method: PaymentMethod
    paid_at: Instant
    surcharge: Decimal = Decimal(0)


@event("invoicing.payment.rejected", 1)
class PaymentRejectedV1(Contract):
    """A payment was refused with a reason code (`payment_method_not_allowed`, ...); nothing changed."""

    invoice_number: Id
    account_id: Id | None = None
    amount: str = ""
    method: str = ""
    reason: str
    detail: str = ""
    at: Instant


@event("invoicing.surcharge.charged", 1)
class SurchargeChargedV1(Contract):
    """A card surcharge, its own charge on the account: `rate` × the amount paid by card,
    rounded half-up once, for a payment by card of an invoice whose total is at or above
    `threshold`. It is due on top of the invoice (it does not count towards paying it)."""

    surcharge_id: Id
    payment_id: Id
    invoice_number: Id
    account_id: Id
    currency: Currency
    base_amount: Decimal
    rate: Decimal
    threshold: Decimal
    amount: Decimal
    charged_at: Instant


@event("invoicing.invoice.paid", 1)
class InvoicePaidV1(Contract):
    """The payments of an invoice now cover its total (published once, by the payment that did it)."""

    invoice_number: Id
    account_id: Id
    currency: Currency
    total: Decimal
    paid_total: Decimal
    paid_at: Instant


@event("invoicing.invoice.overdue", 1)
class InvoiceOverdueV1(Contract):
    """An invoice is unpaid after its due date (in the account's time zone); published once."""

    invoice_number: Id
    account_id: Id
    currency: Currency
    due_date: date
    outstanding: Decimal
    detected_at: Instant
