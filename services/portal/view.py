"""What pages show beside the APIs' data: how to pay an invoice, statement months. No I/O."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

# BILLING_RULES section 7: the policy's card surcharge (an issuer's own setting may differ; the
# invoice's `surcharges` list what was charged)
SURCHARGE_THRESHOLD = Decimal("3000.00")
SURCHARGE_RATE = Decimal("0.03")


def how_to_pay(invoice: dict, settings) -> dict:
    """The payment section of an invoice: due date, bank transfer details, card and its surcharge."""
    total = Decimal(invoice["total"])
    issued, due = (date.fromisoformat(str(invoice[k])[:10]) for k in ("issue_date", "due_date"))
    return {"due_date": invoice["due_date"], "terms_days": (due - issued).days, "payee": settings.bank_payee, "iban": settings.bank_iban,
            "bic": settings.bank_bic, "reference": invoice["invoice_number"],
            "surcharged": total >= SURCHARGE_THRESHOLD, "threshold": str(SURCHARGE_THRESHOLD),
            "rate_percent": f"{(SURCHARGE_RATE * 100).normalize():f}"}


def month_bounds(month: str) -> tuple[date, date]:
    """`YYYY-MM` as the half-open days [first of the month, first of the next)."""
    year, number = (int(p) for p in month.split("-"))
    start = date(year, number, 1)
    return start, start + relativedelta(months=1)


def months_between(first: str, last: str) -> list[str]:
    """Every `YYYY-MM` from `last` back to `first`, newest first (empty when last < first)."""
    start, _ = month_bounds(first)
    anchor, _ = month_bounds(last)
    months = (anchor - relativedelta(months=n) for n in range(240))  # offsets from one anchor
    return [m.strftime("%Y-%m") for m in months if m >= start]


def shift_month(month: str, months: int) -> str:
    """`YYYY-MM` moved by `months` (negative: back)."""
    start, _ = month_bounds(month)
    return (start + relativedelta(months=months)).strftime("%Y-%m")
