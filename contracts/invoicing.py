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
    """An invoice is unpaid after its due date (in the account's time zone); published once.
    `overdue` is its undisputed unpaid amount (due − open disputed − paid), `outstanding` what
    payments may still cover (due + surcharges − paid)."""

    invoice_number: Id
    account_id: Id
    currency: Currency
    due_date: date
    outstanding: Decimal
    overdue: Decimal | None = None
    detected_at: Instant


class InvoiceAmountsV1(Contract):
    """An invoice's amounts of BILLING_RULES section 7 at `at`: `credited` (its credit notes),
    `paid` (payments minus refunds), `due` = total − credited, `surcharges`, `outstanding` = due
    + surcharges − paid, `disputed_open` (held back by open disputes), `overdue` (from the day
    after the due date: due − disputed_open − paid when above zero) and `status` (`paid` when
    paid ≥ due, else `overdue` when overdue above zero, else `open`)."""

    total: Decimal
    credited: Decimal
    paid: Decimal
    due: Decimal
    surcharges: Decimal
    outstanding: Decimal
    disputed_open: Decimal = Decimal(0)
    overdue: Decimal
    status: Literal["paid", "overdue", "open"]
    at: Instant


@event("invoicing.invoice.amounts_changed", 1)
class InvoiceAmountsChangedV1(Contract):
    """An invoice's amounts changed (a payment, a surcharge, a dispute opened or resolved, a credit
    note, a refund): its section 7 amounts as of the change."""

    invoice_number: Id
    account_id: Id
    currency: Currency
    amounts: InvoiceAmountsV1


@event("invoicing.credit_note.issued", 1)
class CreditNoteIssuedV1(Contract):
    """A credit note against an invoice for an upheld dispute, at the resolution instant; numbered
    from the issuer's own gapless credit-note sequence (`<ISSUER>-CN-000001`). One per dispute."""

    credit_note_number: Id
    issuer: str
    invoice_number: Id
    dispute_id: Id
    account_id: Id
    currency: Currency
    amount: Decimal
    issued_at: Instant


@event("invoicing.refund.issued", 1)
class RefundIssuedV1(Contract):
    """What an invoice was paid beyond what it owes (due + surcharges) after a credit note is
    refunded: due by `due_at` (24 hours after the resolution). One per dispute at most."""

    refund_id: Id
    invoice_number: Id
    dispute_id: Id
    account_id: Id
    currency: Currency
    amount: Decimal
    issued_at: Instant
    due_at: Instant


@event("invoicing.refund.paid_out", 1)
class RefundPaidOutV1(Contract):
    """A refund was paid out (recorded by an operator); `late` when after its `due_at`."""

    refund_id: Id
    invoice_number: Id
    account_id: Id
    currency: Currency
    amount: Decimal
    paid_out_at: Instant
    due_at: Instant
    late: bool
    reference: str = ""


@event("invoicing.refund.overdue", 1)
class RefundOverdueV1(Contract):
    """A refund not paid out by its due instant (on the service clock); published once."""

    refund_id: Id
    invoice_number: Id
    account_id: Id
    currency: Currency
    amount: Decimal
    due_at: Instant
    detected_at: Instant
