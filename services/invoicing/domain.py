"""Pure invoicing rules: invoice assembly and numbering, payments and card surcharges, overdue,
statements, run scheduling and reconciliation. No I/O, no clock: instants come in as arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any, Sequence

from shared.calendar import (  # noqa: F401  (re-exported: domain.parse_month and the like)
    local_date, metering_point, month_of, month_text, next_month, parse_month,
)
from shared.money import round_money
from shared.refusal import Refused

PLATFORM_ISSUER = "platform"
PAYMENT_METHODS = ("bank_transfer", "card")


@dataclass(frozen=True)
class SurchargePolicy:
    """An issuer's card surcharge (a setting per issuer): `rate` of the amount paid by card, for
    invoices whose total as issued is `threshold` or more (inclusive). The policy's defaults:
    3,000.00 and 3%."""

    threshold: Decimal = Decimal("3000.00")
    rate: Decimal = Decimal("0.03")


DEFAULT_SURCHARGE = SurchargePolicy()


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
    account: str, month: tuple[int, int], currency: str, lines: Sequence[Any], payment_terms_days: int = 30,
    amount_of: Callable[[Any], Decimal] = attrgetter("amount"),
) -> Invoice | None:
    """The invoice of one account's run for `month`, or None when the run has no lines.

    Issue date is the 1st of the run's month, even for a late run; due date is issue date +
    `payment_terms_days` days; total is the sum of the lines' already rounded amounts (no
    further rounding), each read by `amount_of` (lines as dicts: `itemgetter("amount")`).
    """
    if not lines:
        return None
    issue = date(month[0], month[1], 1)
    total = sum(map(amount_of, lines), Decimal(0))
    return Invoice(account, month, currency, issue, issue + timedelta(days=payment_terms_days), total, tuple(lines))


# ------------------------------------------------------------------ numbers
def issuer_of(parent_account_id: str | None) -> str:
    """Invoices are issued by the account's parent partner, or by the platform for top-level accounts."""
    return parent_account_id or PLATFORM_ISSUER


def invoice_number(issuer: str, sequence: int) -> str:
    """`PLATFORM-000001`: the issuer upper-cased and its gapless sequence number, 6 digits at least."""
    return f"{issuer.upper()}-{sequence:06d}"


def number_invoices(issuers: Sequence[str], last_numbers: Mapping[str, int]) -> list[str]:
    """Numbers for invoices in order, by issuer: `last_numbers` is each issuer's last number
    *after* reserving this batch, so the batch uses `last - count + 1 .. last` in order."""
    counts: dict[str, int] = {}
    for issuer in issuers:
        counts[issuer] = counts.get(issuer, 0) + 1
    next_seq = {issuer: last_numbers[issuer] - counts[issuer] + 1 for issuer in counts}
    numbers = []
    for issuer in issuers:
        numbers.append(invoice_number(issuer, next_seq[issuer]))
        next_seq[issuer] += 1
    return numbers


# ------------------------------------------------------------------ payments
class PaymentRefused(Refused, ValueError):
    """A payment refused with a reason code (422); nothing changes."""


def card_surcharge(invoice_total: Decimal, method: str, amount: Decimal, currency: str,
                   policy: SurchargePolicy = DEFAULT_SURCHARGE) -> Decimal:
    """The surcharge of paying `amount` of an invoice of `invoice_total` (as issued: credit notes
    never lower it) by `method`: the issuer's rate (default 3%) of the amount paid by card when the
    invoice total is its threshold (default 3,000.00) or more (inclusive), rounded half-up once to
    the currency's minor unit; 0 otherwise."""
    if method != "card" or invoice_total < policy.threshold:
        return Decimal("0.00")
    return round_money(amount * policy.rate, currency)


def check_payment(method: str, amount: Decimal, currency: str, outstanding: Decimal,
                  invoice_currency: str) -> None:
    """Raise PaymentRefused for a payment that may not be recorded, reasons in this order:
    `payment_method_not_allowed` (only bank transfer and card), `invalid_amount` (must be > 0,
    in minor units), `currency_mismatch`, `amount_exceeds_outstanding` (invoice total plus its
    surcharges minus what was paid)."""
    if method not in PAYMENT_METHODS:
        raise PaymentRefused("payment_method_not_allowed",
                             f"{method!r} is not accepted; use one of {', '.join(PAYMENT_METHODS)}")
    if amount <= 0 or round_money(amount, invoice_currency) != amount:
        raise PaymentRefused("invalid_amount", f"amount must be positive in minor units, got {amount}")
    if currency != invoice_currency:
        raise PaymentRefused("currency_mismatch", f"invoice is in {invoice_currency}, payment in {currency}")
    if amount > outstanding:
        raise PaymentRefused("amount_exceeds_outstanding", f"outstanding is {outstanding}, payment {amount}")


def is_paid(total: Decimal, paid_total: Decimal) -> bool:
    """An invoice is paid when its payments cover its total (surcharges are separate charges)."""
    return paid_total >= total


def is_overdue(due_date: date, today: date, total: Decimal, paid_total: Decimal) -> bool:
    """Overdue: not paid and `today` (in the account's zone) is after the due date; the due date
    itself is still in time."""
    return today > due_date and not is_paid(total, paid_total)


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class Statement:
    """An account's month: closing = balance forward + new charges - payments - credit notes."""

    account_id: str
    month: str
    currency: str
    balance_forward: Decimal
    new_charges: Decimal
    payments: Decimal
    credit_notes: Decimal
    closing_balance: Decimal


def build_statement(account_id: str, month: str, currency: str, balance_forward: Decimal,
                    charges: Iterable[Decimal], payments: Iterable[Decimal],
                    credit_notes: Iterable[Decimal] = ()) -> Statement:
    """Sum the month's items (already rounded amounts; no rounding here)."""
    new = sum(charges, Decimal("0.00"))
    paid = sum(payments, Decimal("0.00"))
    credited = sum(credit_notes, Decimal("0.00"))
    return Statement(account_id, month, currency, balance_forward, new, paid, credited,
                     balance_forward + new - paid - credited)


# ------------------------------------------------------------------ runs
@dataclass(frozen=True)
class KnownAccount:
    account_id: str
    time_zone: str
    opened_at: datetime
    last_requested_month: str | None = None


def runs_due(accounts: Iterable[KnownAccount], now: datetime,
             failed: list[tuple[str, Exception]] | None = None) -> dict[str, list[str]]:
    """Month -> accounts whose run for their current month (in their zone) is due and not yet
    requested. An account opened at or after that month's metering point has nothing to bill
    for it and waits for the next month. An account whose own data fails the test (a zone
    zoneinfo does not know, a date out of range) is skipped and added to `failed` with why:
    one bad account does not stop the others' runs."""
    due: dict[str, list[str]] = {}
    for account in accounts:
        try:
            month = month_of(local_date(now, account.time_zone))
            text = month_text(month)
            if account.last_requested_month is not None and account.last_requested_month >= text:
                continue
            if account.opened_at >= metering_point(month, account.time_zone):
                continue
        except Exception as exc:  # this account's data: its own failure
            if failed is not None:
                failed.append((account.account_id, exc))
            continue
        due.setdefault(text, []).append(account.account_id)
    return due


@dataclass(frozen=True)
class Reconciliation:
    """A run's invoices against its summary. status: `requested` (no summary yet), `invoicing`
    (invoices still arriving), `reconciled`, `completed_with_quarantine` (reconciled, with
    accounts set aside), `mismatch`, or `failed` (rating could not rate the run at all)."""

    status: str
    expected_accounts: int | None
    received_accounts: int
    expected_totals: dict[str, Decimal]
    received_totals: dict[str, Decimal]
    problems: tuple[str, ...] = ()


def reconcile(expected_accounts: int | None, expected_totals: Mapping[str, Decimal] | None,
              received: Mapping[str, tuple[int, Decimal]], empty_accounts: int = 0,
              summary_at: datetime | None = None, now: datetime | None = None,
              grace: timedelta = timedelta(minutes=15),
              quarantined: Mapping[str, tuple[int, Decimal]] | None = None,
              rating_quarantined: int = 0, failure: str | None = None) -> Reconciliation:
    """Compare the invoices received for a run (`received`: currency -> (count, total)), plus the
    accounts it rated for invoicing with no lines (`empty_accounts`, no invoice) and the charges
    set aside here because their invoice could not be issued (`quarantined`, same shape), with
    the run summary's invoice account count and invoice totals per currency. Fewer than expected
    is `invoicing` until `grace` after the summary arrived, then `mismatch`; more, or equal counts
    with different totals, is a `mismatch` at once. A run that adds up but set accounts aside
    (here, or in rating: `rating_quarantined`) is `completed_with_quarantine`; a run rating
    could not rate at all (`failure`) is `failed`."""
    held = quarantined or {}
    got_totals = {c: t for c, (_, t) in received.items()}
    accounted = dict(got_totals)
    for currency, (_, total) in held.items():
        accounted[currency] = accounted.get(currency, Decimal(0)) + total
    got_accounts = sum(n for n, _ in received.values()) + empty_accounts + sum(n for n, _ in held.values())
    if expected_accounts is None or expected_totals is None:
        return Reconciliation("requested", None, got_accounts, {}, got_totals)
    if failure is not None:
        return Reconciliation("failed", expected_accounts, got_accounts, dict(expected_totals), got_totals,
                              (failure,))
    want = {c: t for c, t in expected_totals.items() if t != 0}
    have = {c: t for c, t in accounted.items() if t != 0}
    problems = []
    if got_accounts != expected_accounts:
        problems.append(f"accounts: expected {expected_accounts}, received {got_accounts}")
    for currency in sorted(set(want) | set(have)):
        if want.get(currency, Decimal(0)) != have.get(currency, Decimal(0)):
            problems.append(f"{currency} total: expected {want.get(currency, Decimal(0))}, "
                            f"received {have.get(currency, Decimal(0))}")
    if not problems:
        status = "completed_with_quarantine" if held or rating_quarantined else "reconciled"
    elif got_accounts < expected_accounts and not (summary_at and now and now - summary_at > grace):
        status = "invoicing"
    else:
        status = "mismatch"
    return Reconciliation(status, expected_accounts, got_accounts, dict(expected_totals), got_totals,
                          tuple(problems))
