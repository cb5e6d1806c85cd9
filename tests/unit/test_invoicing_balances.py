"""Money after the invoice, pure (services/invoicing/balances.py): section 7's amounts and status,
overdue net of open disputes, surcharges per issuer, refunds, statements and their chaining."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from services.invoicing import balances as b
from services.invoicing import domain

UTC = timezone.utc


def test_section_7_worked_example_amounts():
    # 3,600.00 paid by card (108.00 surcharge), 600.00 credited, 492.00 refunded
    a = b.amounts(D("3600.00"), D("600.00"), D("3600.00"), D("492.00"), D("108.00"), D(0), is_past_due=False)
    assert (a.credited, a.paid, a.due, a.surcharges, a.outstanding, a.overdue, a.status) == \
        (D("600.00"), D("3108.00"), D("3000.00"), D("108.00"), D("0.00"), D("0.00"), "paid")
    assert b.refund_after_credit(D("3000.00"), D("108.00"), D("3600.00")) == D("492.00")


@pytest.mark.parametrize("paid, disputed, past_due, overdue, status", [
    ("500.00", "400.00", True, "100.00", "overdue"),   # section 9's example from 05-02
    ("500.00", "0.00", True, "500.00", "overdue"),     # rejected: all of it due again
    ("500.00", "400.00", False, "0.00", "open"),       # in time
    ("0.00", "1000.00", True, "0.00", "open"),         # all disputed: nothing may become overdue
    ("1000.00", "0.00", True, "0.00", "paid"),
])
def test_overdue_counts_only_undisputed_amounts(paid, disputed, past_due, overdue, status):
    a = b.amounts(D("1000.00"), D(0), D(paid), D(0), D(0), D(disputed), past_due)
    assert (a.overdue, a.status) == (D(overdue), status)


def test_surcharges_never_make_an_invoice_overdue():
    a = b.amounts(D("3000.00"), D(0), D("3000.00"), D(0), D("90.00"), D(0), is_past_due=True)
    assert (a.outstanding, a.overdue, a.status) == (D("90.00"), D("0.00"), "paid")


@pytest.mark.parametrize("due_date, at, expected", [
    (date(2026, 5, 1), datetime(2026, 5, 1, 23, 59, tzinfo=UTC), False),  # the due date is in time
    (date(2026, 5, 1), datetime(2026, 5, 2, 0, 0, tzinfo=UTC), True),
])
def test_past_due_from_the_day_after(due_date, at, expected):
    assert b.past_due(due_date, "UTC", at) is expected


def test_past_due_in_the_account_zone():
    at = datetime(2026, 5, 2, 3, 0, tzinfo=UTC)  # still 05-01 in New York
    assert not b.past_due(date(2026, 5, 1), "America/New_York", at) and b.past_due(date(2026, 5, 1), "UTC", at)


@pytest.mark.parametrize("total, amount, policy, expected", [
    ("3000.00", "3000.00", b.DEFAULT_SURCHARGE, "90.00"),
    ("2999.99", "2999.99", b.DEFAULT_SURCHARGE, "0.00"),
    ("3600.00", "3600.00", b.DEFAULT_SURCHARGE, "108.00"),
    ("200.00", "99.99", b.SurchargePolicy(D("100.00"), D("0.05")), "5.00"),   # an issuer's own settings
    ("99.99", "99.99", b.SurchargePolicy(D("100.00"), D("0.05")), "0.00"),
])
def test_card_surcharge_by_issuer_policy(total, amount, policy, expected):
    assert b.surcharge_of(D(total), "card", D(amount), "USD", policy) == D(expected)
    assert b.surcharge_of(D(total), "bank_transfer", D(amount), "USD", policy) == D("0.00")


@pytest.mark.parametrize("method, amount, outstanding, reason", [
    ("cash", "10.00", "100.00", "payment_method_not_allowed"),
    ("cash", "0", "100.00", "payment_method_not_allowed"),   # the method is checked first
    ("card", "0.00", "100.00", "invalid_amount"),
    ("card", "-1.00", "100.00", "invalid_amount"),
    ("card", "1.001", "100.00", "invalid_amount"),
    ("card", "100.01", "100.00", "amount_exceeds_outstanding"),
])
def test_payment_refusals_in_format_order(method, amount, outstanding, reason):
    with pytest.raises(domain.PaymentRefused) as refused:
        domain.check_payment(method, D(amount), "USD", D(outstanding), "USD")
    assert refused.value.reason == reason


def test_refunds_none_before_payment_and_due_in_24_hours():
    assert b.refund_after_credit(D("600.00"), D(0), D(0)) == D("0.00")
    assert b.refund_after_credit(D("600.00"), D(0), D("900.00")) == D("300.00")
    resolved = datetime(2026, 3, 10, 9, tzinfo=UTC)
    assert b.refund_due_at(resolved) == datetime(2026, 3, 11, 9, tzinfo=UTC)
    assert not b.refund_overdue(b.refund_due_at(resolved), None, datetime(2026, 3, 11, 9, tzinfo=UTC))
    assert b.refund_overdue(b.refund_due_at(resolved), None, datetime(2026, 3, 11, 9, 0, 1, tzinfo=UTC))


def test_numbers_and_ids():
    assert b.credit_note_number("acme", 1) == "ACME-CN-000001"
    assert b.refund_id("d1") == "RF-d1" and len(b.refund_id("x" * 128)) <= 128


def test_statements_chain_and_count_items_before_the_first_month():
    items = [b.StatementItem("invoice", date(2026, 4, 1), D("1000.00")),
             b.StatementItem("payment", date(2026, 4, 20), D("500.00")),
             b.StatementItem("invoice", date(2026, 5, 1), D("200.00")),
             b.StatementItem("credit_note", date(2026, 5, 6), D("100.00")),
             b.StatementItem("refund", date(2026, 5, 6), D("20.00")),
             b.StatementItem("surcharge", date(2026, 6, 3), D("3.00"))]
    april, may, june = b.statements(items, (2026, 4), (2026, 6))
    assert (april.balance_forward, april.closing_balance) == (D("0.00"), D("500.00"))
    assert (may.balance_forward, may.new_charges, may.credit_notes, may.refunds, may.closing_balance) == \
        (D("500.00"), D("200.00"), D("100.00"), D("20.00"), D("620.00"))
    assert (june.balance_forward, june.new_charges, june.closing_balance) == (D("620.00"), D("3.00"), D("623.00"))
    [only_may] = b.statements(items, (2026, 5), (2026, 5))
    assert only_may == may
