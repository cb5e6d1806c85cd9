"""End-of-month terminations with minimum terms, and brands billed through the day before."""

from datetime import date, datetime, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, Product, Subscription, add_months, billing_run, termination_effective,
)

UTC = timezone.utc


@pytest.mark.parametrize("anchor, months, expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 1, 31), 2, date(2026, 3, 31)),  # from the anchor, not by repeated addition
    (date(2026, 3, 15), 12, date(2027, 3, 15)),
])
def test_add_months_clamps_to_the_month_end(anchor, months, expected):
    assert add_months(anchor, months) == expected


@pytest.mark.parametrize("start, requested, term, expected", [
    # worked example: ready 2026-03-15, request 2026-06-10, 12 months -> 2027-04-01
    (datetime(2026, 3, 15, 10, tzinfo=UTC), datetime(2026, 6, 10, 9, tzinfo=UTC), 12, date(2027, 4, 1)),
    # Theme Brand, no term: next month end
    (datetime(2026, 3, 15, 10, tzinfo=UTC), datetime(2026, 6, 10, 9, tzinfo=UTC), 0, date(2026, 7, 1)),
    # request exactly at a metering point takes effect at it
    (datetime(2026, 3, 15, 10, tzinfo=UTC), datetime(2026, 7, 1, 0, tzinfo=UTC), 0, date(2026, 7, 1)),
    # request after the term: the request decides
    (datetime(2025, 1, 5, tzinfo=UTC), datetime(2026, 6, 10, tzinfo=UTC), 12, date(2026, 7, 1)),
    # start Jan 31 + 1 month = Feb 28 -> March 1
    (datetime(2026, 1, 31, 10, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC), 1, date(2026, 3, 1)),
    # term ending on a 1st: that 1st at 00:00 is a metering point
    (datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), 12, date(2027, 3, 1)),
    # never started billing: ends at once, on the request's day
    (None, datetime(2026, 6, 10, 9, tzinfo=UTC), 12, date(2026, 6, 10)),
])
def test_termination_effective(start, requested, term, expected):
    assert termination_effective(start, requested, term, ZoneInfo("UTC")) == expected


def test_termination_in_the_account_zone():
    # 2026-06-30T23:30 UTC is already July 1 01:30 in Berlin: the next metering point is August 1
    tz = ZoneInfo("Europe/Berlin")
    assert termination_effective(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
                                 0, tz) == date(2026, 8, 1)


def test_full_brand_billed_through_the_day_before_the_effective_date():
    catalog = Catalog.of("USD", [Product("FULL", "recurring", D("4000.00"), termination="end_of_month",
                                         minimum_term_months=12)])
    account = Account("p", "UTC")
    sub = Subscription("b1", "p", "FULL", datetime(2026, 3, 15, 10, tzinfo=UTC),
                       termination_effective=date(2027, 4, 1))
    ledger, billed = EMPTY_LEDGER, []
    for month in [(2026, m) for m in range(4, 13)] + [(2027, m) for m in range(1, 7)]:
        result = billing_run(month, account, catalog, [sub], ledger=ledger)
        ledger = ledger.apply(result.ledger_update)
        billed += [(l.from_date, l.to_date, l.amount) for l in result.lines]
    assert billed[0] == (date(2026, 3, 15), date(2026, 4, 1), D("2193.55"))
    assert billed[-1] == (date(2027, 3, 1), date(2027, 4, 1), D("4000.00"))
    assert len(billed) == 13 and all(amount == D("4000.00") for _, _, amount in billed[1:])
