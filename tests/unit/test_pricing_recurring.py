"""Recurring charges: pro-rata, whole months, in advance, arrears, minimum licence, same day, removal."""

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, ChargeLine, PriceBook, PriceVersion, Product, Subscription, billing_run,
)
from services.rating.pricing.lines import make_line

UTC = timezone.utc
CAT = Catalog.of("USD", [
    Product("FEAT", "recurring", D("12.00"), minimum_days=30),
    Product("WALL", "recurring", D("150.00"), minimum_days=30),
    Product("PLAN", "recurring", D("29.95")),
    Product("LONG", "recurring", D("31.00"), minimum_days=45),
    Product("VERS", "recurring", D("10.00"), versions=(PriceVersion("v2", date(2026, 5, 1), D("20.00")),)),
])
ACME = Account("acme", "UTC", "USD")


def at(y, m, d, h=12, tz=UTC):
    return datetime(y, m, d, h, tzinfo=tz)


def run_months(months, subs, account=ACME, catalog=CAT, **kw):
    """Run each month in order, carrying the ledger; returns {month: lines}."""
    ledger, out = EMPTY_LEDGER, {}
    for month in months:
        result = billing_run(month, account, catalog, subs, ledger=ledger, **kw)
        ledger = ledger.apply(result.ledger_update)
        out[month] = [(l.from_date.isoformat(), l.to_date.isoformat(), str(l.amount), l.rule) for l in result.lines]
    return out


@pytest.mark.parametrize("start, end, run, expected", [
    # seed example 1: March 15 -> April run bills 17/31 and April in advance
    (at(2026, 3, 15), None, (2026, 4), [("2026-03-15", "2026-04-01", "6.58", "pro_rata_arrears"),
                                        ("2026-04-01", "2026-05-01", "12.00", "in_advance")]),
    # seed example 2: April 27 -> 4/30 plus May
    (at(2026, 4, 27), None, (2026, 5), [("2026-04-27", "2026-05-01", "1.60", "pro_rata_arrears"),
                                        ("2026-05-01", "2026-06-01", "12.00", "in_advance")]),
    # whole month start on the 1st: exact price, no fraction
    (at(2026, 3, 1, 0), None, (2026, 4), [("2026-03-01", "2026-04-01", "12.00", "arrears"),
                                          ("2026-04-01", "2026-05-01", "12.00", "in_advance")]),
    # minimum licence worked example: 2 days held -> 30 days, May piece billed at once
    (at(2026, 4, 10, 8), at(2026, 4, 12, 17), (2026, 5), [("2026-04-10", "2026-05-01", "8.40", "minimum_licence"),
                                                          ("2026-05-01", "2026-05-10", "3.48", "minimum_licence")]),
    # same day: never charged
    (at(2026, 4, 10, 8), at(2026, 4, 10, 17), (2026, 5), []),
    # held longer than the minimum: billed to the removal day only
    (at(2026, 3, 1, 9), at(2026, 4, 20), (2026, 5), [("2026-03-01", "2026-04-01", "12.00", "arrears"),
                                                     ("2026-04-01", "2026-04-20", "7.60", "pro_rata_arrears")]),
    # provisioned at the metering point: not part of that run
    (at(2026, 4, 1, 0), None, (2026, 4), []),
    # provisioned one second before it: its 0-day March piece is empty, April in advance
    (datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC), None, (2026, 4),
     [("2026-03-31", "2026-04-01", "0.39", "pro_rata_arrears"), ("2026-04-01", "2026-05-01", "12.00", "in_advance")]),
])
def test_single_run(start, end, run, expected):
    assert run_months([run], [Subscription("s1", "acme", "FEAT", start, end=end)])[run] == expected


def test_removal_after_metering_point_is_unknown_to_that_run():
    sub = Subscription("s1", "acme", "FEAT", at(2026, 3, 15), end=at(2026, 4, 1, 0))
    lines = run_months([(2026, 4)], [sub])[(2026, 4)]
    assert [l[2] for l in lines] == ["6.58", "12.00"]  # April billed whole: the removal is at the point


def test_no_refund_of_a_month_billed_in_advance():
    open_sub = Subscription("s1", "acme", "FEAT", at(2026, 3, 1, 0))
    removed = Subscription("s1", "acme", "FEAT", at(2026, 3, 1, 0), end=at(2026, 4, 5))
    ledger = EMPTY_LEDGER.apply(billing_run((2026, 4), ACME, CAT, [open_sub]).ledger_update)
    may = billing_run((2026, 5), ACME, CAT, [removed], ledger=ledger)
    assert may.lines == () and may.total == 0


def test_each_piece_billed_once_across_runs():
    sub = Subscription("s1", "acme", "WALL", at(2026, 1, 1, 0))
    out = run_months([(2026, 2), (2026, 3), (2026, 3), (2026, 4)], [sub])
    assert out[(2026, 2)] == [("2026-01-01", "2026-02-01", "150.00", "arrears"),
                              ("2026-02-01", "2026-03-01", "150.00", "in_advance")]
    assert out[(2026, 3)] == []  # the second March run (already billed) bills nothing
    assert out[(2026, 4)] == [("2026-04-01", "2026-05-01", "150.00", "in_advance")]


def test_skipped_runs_bill_every_unbilled_piece_up_to_the_month():
    sub = Subscription("s1", "acme", "PLAN", at(2026, 1, 16, 0))
    out = run_months([(2026, 4)], [sub])[(2026, 4)]
    assert out == [("2026-01-16", "2026-02-01", "15.46", "pro_rata_arrears"),
                   ("2026-02-01", "2026-03-01", "29.95", "arrears"),
                   ("2026-03-01", "2026-04-01", "29.95", "arrears"),
                   ("2026-04-01", "2026-05-01", "29.95", "in_advance")]


def test_minimum_licence_spilling_past_the_run_month_waits_for_its_run():
    # held Jan 20 -> Jan 25 with a 45-day minimum: [01-20, 03-06); rule 2 bills months <= M only,
    # so the March piece is billed by the March run although it is known at the February run
    sub = Subscription("s1", "acme", "LONG", at(2026, 1, 20), end=at(2026, 1, 25))
    out = run_months([(2026, 2), (2026, 3), (2026, 4)], [sub])
    assert out[(2026, 2)] == [("2026-01-20", "2026-02-01", "12.00", "minimum_licence"),
                              ("2026-02-01", "2026-03-01", "31.00", "minimum_licence")]
    assert out[(2026, 3)] == [("2026-03-01", "2026-03-06", "5.00", "minimum_licence")]
    assert out[(2026, 4)] == []


@pytest.mark.parametrize("quantity, amount", [(1, "12.00"), (3, "36.00"), (7, "84.00")])
def test_quantity_multiplies(quantity, amount):
    sub = Subscription("s1", "acme", "FEAT", at(2026, 3, 1, 0), quantity=quantity)
    assert run_months([(2026, 4)], [sub])[(2026, 4)][1][2] == amount


def test_price_version_in_force_on_the_first_day_of_the_piece():
    sub = Subscription("s1", "acme", "VERS", at(2026, 4, 16, 0))
    result = billing_run((2026, 5), ACME, CAT, [sub])
    assert [(l.price_version, str(l.unit_price), str(l.amount)) for l in result.lines] == [
        ("VERS@base", "10.00", "5.00"), ("v2", "20.00", "20.00")]


def test_price_book_overrides_the_catalogue():
    book = PriceBook("partner-x", {"FEAT": D("9.00")})
    sub = Subscription("s1", "acme", "FEAT", at(2026, 3, 1, 0))
    result = billing_run((2026, 4), ACME, CAT, [sub], price_book=book)
    assert [(l.price_version, str(l.amount)) for l in result.lines] == [("partner-x:FEAT", "9.00")] * 2


def test_two_books_with_one_id_never_share_a_price():
    """One catalogue rates a chunk of accounts: each account's own book prices its lines."""
    sub = Subscription("s1", "acme", "FEAT", at(2026, 3, 1, 0))
    cheap, dear = PriceBook("standard", {"FEAT": D("9.00")}), PriceBook("standard", {"FEAT": D("11.00")})
    assert billing_run((2026, 4), ACME, CAT, [sub], price_book=cheap).lines[0].amount == D("9.00")
    assert billing_run((2026, 4), ACME, CAT, [sub], price_book=dear).lines[0].amount == D("11.00")


def test_lines_explain_themselves_and_fast_lines_equal_normal_ones():
    result = billing_run((2026, 4), ACME, CAT, [Subscription("s1", "acme", "FEAT", at(2026, 3, 15))])
    first = result.lines[0]
    assert "17/31 days" in first.explanation and "6.58" in first.explanation
    assert first == ChargeLine(*[getattr(first, f) for f in ChargeLine.__dataclass_fields__])
    assert make_line("a", "s", "p", date(2026, 1, 1), date(2026, 2, 1), 1, D(1), "v", D(1), 31, 31, "x") == \
        ChargeLine("a", "s", "p", date(2026, 1, 1), date(2026, 2, 1), 1, D(1), "v", D(1), 31, 31, "x")
