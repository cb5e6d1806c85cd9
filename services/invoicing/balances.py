"""Pure money after the invoice (BILLING_RULES sections 7 and 9): amounts, overdue, refunds, statements."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

# the payment and surcharge rules live in domain (re-exported here for the money modules); the
# dispute rules in services/disputes/domain.py
from services.invoicing.domain import DEFAULT_SURCHARGE, SurchargePolicy, next_month  # noqa: F401
from services.invoicing.domain import card_surcharge as surcharge_of  # noqa: F401

ZERO = Decimal("0.00")
REFUND_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class Amounts:
    """An invoice's amounts at an instant (section 7). `paid` is net of refunds."""

    total: Decimal
    credited: Decimal
    paid: Decimal
    due: Decimal
    surcharges: Decimal
    outstanding: Decimal
    overdue: Decimal
    status: str  # paid | overdue | open


def past_due(due_date: date, time_zone: str, at: datetime) -> bool:
    """From 00:00 (account zone) of the day after the due date; the due date is still in time."""
    return at.astimezone(ZoneInfo(time_zone)).date() > due_date


def amounts(total: Decimal, credited: Decimal, payments: Decimal, refunds: Decimal, surcharges: Decimal,
            open_disputed: Decimal, is_past_due: bool) -> Amounts:
    """Section 7: due = total − credited; paid = payments − refunds; outstanding = due +
    surcharges − paid; overdue (only once past due) = due − open disputed − paid when above zero
    (surcharges never make an invoice overdue); status paid when paid ≥ due, else overdue when
    overdue above zero, else open."""
    due = total - credited
    paid = payments - refunds
    overdue = max(due - open_disputed - paid, ZERO) if is_past_due else ZERO
    status = "paid" if paid >= due else "overdue" if overdue > 0 else "open"
    return Amounts(total, credited, paid, due, surcharges, due + surcharges - paid, overdue, status)


def credit_note_number(issuer: str, sequence: int) -> str:
    """`ACME-CN-000001`: the issuer upper-cased, `CN`, and its own gapless credit-note sequence."""
    return f"{issuer.upper()}-CN-{sequence:06d}"


def refund_id(dispute_id: str) -> str:
    """A refund is named by the dispute whose resolution caused it (at most one each); a dispute
    id too long for an id with the prefix is named by its digest instead."""
    name = f"RF-{dispute_id}"
    return name if len(name) <= 128 else f"RF-{hashlib.sha256(dispute_id.encode()).hexdigest()}"


def refund_after_credit(due: Decimal, surcharges: Decimal, paid: Decimal) -> Decimal:
    """The excess refunded when an invoice's paid amount (net of earlier refunds) exceeds what it
    owes after a credit note (due + surcharges); 0.00 when none, e.g. before any payment."""
    return max(paid - (due + surcharges), ZERO)


def refund_due_at(resolved_at: datetime) -> datetime:
    """A refund is due within 24 hours of the resolution."""
    return resolved_at + REFUND_WITHIN


def refund_overdue(due_at: datetime, paid_out_at: datetime | None, at: datetime) -> bool:
    """Not paid out by its due instant (strictly after it, as of `at`)."""
    return (paid_out_at is None and at > due_at) or (paid_out_at is not None and paid_out_at > due_at)


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class StatementItem:
    """One money movement on an account: `kind` invoice | surcharge | payment | credit_note | refund,
    on `day` (account zone)."""

    kind: str
    day: date
    amount: Decimal
    ref: str = ""


SIGN = {"invoice": 1, "surcharge": 1, "payment": -1, "credit_note": -1, "refund": 1}


@dataclass(frozen=True)
class MonthStatement:
    """closing = forward + new charges − payments − credit notes + refunds."""

    month: tuple[int, int]
    balance_forward: Decimal
    new_charges: Decimal
    payments: Decimal
    credit_notes: Decimal
    refunds: Decimal
    closing_balance: Decimal
    items: tuple[StatementItem, ...] = ()


def month_of(day: date) -> tuple[int, int]:
    return day.year, day.month


def statements(items: Iterable[StatementItem], first: tuple[int, int], last: tuple[int, int]) -> list[MonthStatement]:
    """One statement per month from `first` to `last` (inclusive), each forward the previous
    closing (0.00 for the first); items before `first` count into its forward."""
    items = sorted(items, key=lambda i: (i.day, i.kind, i.ref))
    forward = sum((SIGN[i.kind] * i.amount for i in items if month_of(i.day) < first), ZERO)
    out: list[MonthStatement] = []
    month = first
    while month <= last:
        mine = tuple(i for i in items if month_of(i.day) == month)
        total = {k: sum((i.amount for i in mine if i.kind == k), ZERO) for k in SIGN}
        charges = total["invoice"] + total["surcharge"]
        closing = forward + charges - total["payment"] - total["credit_note"] + total["refund"]
        out.append(MonthStatement(month, forward, charges, total["payment"], total["credit_note"],
                                  total["refund"], closing, mine))
        forward, month = closing, next_month(month)
    return out


def statement_months(first_invoice: date | None, until: datetime, time_zone: str) -> Sequence[tuple[int, int]]:
    """(first, last): from the first invoice's month to the month of `until` (account zone); None
    when the account has no invoice yet."""
    if first_invoice is None:
        return ()
    return month_of(first_invoice), month_of(until.astimezone(ZoneInfo(time_zone)).date())
