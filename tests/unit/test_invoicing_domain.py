"""Invoicing rules, pure: surcharge threshold and rounding, payment refusals, due dates, overdue,
statement arithmetic, numbering, scheduling and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.invoicing import domain
from services.invoicing.domain import KnownAccount

D = Decimal
UTC = timezone.utc


@pytest.mark.parametrize("total, method, amount, expected", [
    ("3000.00", "card", "3000.00", "90.00"),        # exactly the threshold: surcharged
    ("2999.99", "card", "2999.99", "0.00"),         # just below: not
    ("3000.00", "bank_transfer", "3000.00", "0.00"),
    ("5000.00", "card", "1000.01", "30.00"),        # 30.0003 -> 30.00
    ("5000.00", "card", "0.50", "0.02"),            # 0.015 -> 0.02, half-up
    ("5000.00", "card", "0.49", "0.01"),            # 0.0147 -> 0.01
    ("5000.00", "card", "1234.50", "37.04"),        # 37.035 -> 37.04, half-up not banker's
])
def test_card_surcharge(total, method, amount, expected):
    assert domain.card_surcharge(D(total), method, D(amount), "USD") == D(expected)


@pytest.mark.parametrize("method, amount, currency, outstanding, reason", [
    ("cash", "10.00", "USD", "100.00", "payment_method_not_allowed"),
    ("cheque", "10.00", "EUR", "1.00", "payment_method_not_allowed"),  # method is checked first
    ("card", "0", "USD", "100.00", "invalid_amount"),
    ("card", "-1.00", "USD", "100.00", "invalid_amount"),
    ("card", "1.001", "USD", "100.00", "invalid_amount"),
    ("card", "10.00", "EUR", "100.00", "currency_mismatch"),
    ("bank_transfer", "100.01", "USD", "100.00", "amount_exceeds_outstanding"),
])
def test_refused_payments(method, amount, currency, outstanding, reason):
    with pytest.raises(domain.PaymentRefused) as refused:
        domain.check_payment(method, D(amount), currency, D(outstanding), "USD")
    assert refused.value.reason == reason


def test_accepted_payment_up_to_outstanding():
    domain.check_payment("card", D("100.00"), "USD", D("100.00"), "USD")
    domain.check_payment("bank_transfer", D("0.01"), "USD", D("100.00"), "USD")


@dataclass(frozen=True)
class Line:
    amount: Decimal


@pytest.mark.parametrize("month, terms, issue, due", [
    ((2026, 5), 30, date(2026, 5, 1), date(2026, 5, 31)),
    ((2026, 2), 30, date(2026, 2, 1), date(2026, 3, 3)),
    ((2026, 12), 45, date(2026, 12, 1), date(2027, 1, 15)),
    ((2026, 4), 0, date(2026, 4, 1), date(2026, 4, 1)),
])
def test_issue_and_due_dates(month, terms, issue, due):
    invoice = domain.assemble_invoice("a", month, "USD", [Line(D("1.10")), Line(D("2.25"))], terms)
    assert (invoice.issue_date, invoice.due_date, invoice.total) == (issue, due, D("3.35"))


def test_no_lines_no_invoice():
    assert domain.assemble_invoice("a", (2026, 5), "USD", [], 30) is None


@pytest.mark.parametrize("today, paid, overdue", [
    (date(2026, 5, 31), "0", False),     # the due date itself is in time
    (date(2026, 6, 1), "0", True),
    (date(2026, 6, 1), "99.99", True),   # partly paid is still overdue
    (date(2026, 6, 1), "100.00", False),
])
def test_overdue_rule(today, paid, overdue):
    assert domain.is_overdue(date(2026, 5, 31), today, D("100.00"), D(paid)) is overdue


def test_local_date_decides_overdue_in_the_account_zone():
    instant = datetime(2026, 6, 1, 2, tzinfo=UTC)
    assert domain.local_date(instant, "America/New_York") == date(2026, 5, 31)
    assert domain.local_date(instant, "Europe/Berlin") == date(2026, 6, 1)


def test_statement_arithmetic():
    st = domain.build_statement("a", "2026-05", "USD", D("3030.00"), [D("100.00"), D("0.30")],
                                [D("3000.00"), D("10.00")], [D("5.00")])
    assert (st.new_charges, st.payments, st.credit_notes) == (D("100.30"), D("3010.00"), D("5.00"))
    assert st.closing_balance == D("115.30")
    empty = domain.build_statement("a", "2026-05", "USD", D("0.00"), [], [])
    assert empty.closing_balance == D("0.00")


def test_gapless_numbers_per_issuer_in_batch_order():
    issuers = ["platform", "acme", "platform", "platform"]
    assert domain.number_invoices(issuers, {"platform": 12, "acme": 1}) == [
        "PLATFORM-000010", "ACME-000001", "PLATFORM-000011", "PLATFORM-000012"]
    assert domain.invoice_number("platform", 1_234_567) == "PLATFORM-1234567"
    assert domain.issuer_of(None) == "platform" and domain.issuer_of("acme") == "acme"


@pytest.mark.parametrize("text, ok", [("2026-05", True), ("2026-5", False), ("2026-13", False),
                                      ("26-05", False), ("2026-00", False), ("abcd-01", False)])
def test_parse_month(text, ok):
    if ok:
        assert domain.month_text(domain.parse_month(text)) == text
    else:
        with pytest.raises(ValueError):
            domain.parse_month(text)


def test_runs_due_at_each_zone_metering_point():
    opened = datetime(2026, 1, 1, tzinfo=UTC)
    accounts = [KnownAccount("utc", "UTC", opened), KnownAccount("ny", "America/New_York", opened, "2026-04"),
                KnownAccount("tokyo", "Asia/Tokyo", opened, "2026-05"),
                KnownAccount("fresh", "UTC", datetime(2026, 5, 1, tzinfo=UTC))]
    now = datetime(2026, 5, 1, 1, tzinfo=UTC)
    # New York is still on April 30 (already requested); Tokyo is done; 'fresh' opened at the point
    assert domain.runs_due(accounts, now) == {"2026-05": ["utc"]}
    assert domain.runs_due(accounts, now + timedelta(hours=4)) == {"2026-05": ["utc", "ny"]}


def test_reconcile():
    received = {"USD": (2, D("112.50"))}
    ok = domain.reconcile(2, {"USD": D("112.50")}, received)
    assert ok.status == "reconciled" and ok.problems == ()
    assert domain.reconcile(None, None, received).status == "requested"
    at = datetime(2026, 5, 1, tzinfo=UTC)
    waiting = domain.reconcile(3, {"USD": D("120.00")}, received, summary_at=at, now=at + timedelta(minutes=1))
    assert waiting.status == "invoicing"
    late = domain.reconcile(3, {"USD": D("120.00")}, received, summary_at=at, now=at + timedelta(hours=1))
    assert late.status == "mismatch"
    wrong = domain.reconcile(2, {"USD": D("112.49")}, received)
    assert wrong.status == "mismatch" and wrong.problems == ("USD total: expected 112.49, received 112.50",)
    extra = domain.reconcile(1, {"USD": D("112.50")}, received)
    assert extra.status == "mismatch"
    with_empty = domain.reconcile(3, {"USD": D("112.50"), "EUR": D("0")}, received, empty_accounts=1)
    assert with_empty.status == "reconciled"
