"""Pure invoice assembly: one invoice per account and run from its rated charge lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Sequence


@dataclass(frozen=True)
class Invoice:
    """An invoice of one account for one run's month. `number` is assigned later by the issuer's
    gapless sequence (None until then). `lines` are the run's charge lines, as rated."""

    account: str
    month: tuple[int, int]
    currency: str
    issue_date: date
    due_date: date
    total: Decimal
    lines: tuple[Any, ...]
    number: str | None = None


def assemble_invoice(
    account: str, month: tuple[int, int], currency: str, lines: Sequence[Any], payment_terms_days: int = 30
) -> Invoice | None:
    """The invoice of one account's run for `month`, or None when the run has no lines.

    Issue date is the 1st of the run's month, even for a late run; due date is issue date +
    `payment_terms_days` days; total is the sum of the lines' already rounded `amount`s (no
    further rounding).
    """
    if not lines:
        return None
    issue = date(month[0], month[1], 1)
    total = sum((line.amount for line in lines), Decimal(0))
    return Invoice(account, month, currency, issue, issue + timedelta(days=payment_terms_days), total, tuple(lines))
