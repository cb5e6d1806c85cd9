"""Time zones, DST, leap years, rounding ties and delayed runs."""

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from services.rating.pricing import (
    Account, Catalog, Product, Subscription, billing_run, day_of, days_in_month, known_before, metering_point,
    month_pieces, round_money, round_ratio, zone,
)

UTC = timezone.utc
CAT = Catalog.of("USD", [Product("FEAT", "recurring", D("12.00")),
                         Product("HALF", "recurring", D("0.01"))])


@pytest.mark.parametrize("amount, expected", [
    ("0.125", "0.13"), ("0.135", "0.14"), ("2.675", "2.68"), ("0.124999", "0.12"), ("-0.125", "-0.13"),
])
def test_round_money_half_up(amount, expected):
    assert round_money(D(amount), "USD") == D(expected)


@pytest.mark.parametrize("numerator, denominator, expected", [
    ("1.55", 2, "0.78"),   # exactly 0.775: a tie, up
    ("12.00", 31, "0.39"),
    ("2", 3, "0.67"),
    ("0.05", 2, "0.03"),   # 0.025 tie
    ("0.049", 2, "0.02"),
])
def test_round_ratio_exact(numerator, denominator, expected):
    assert round_ratio(D(numerator), denominator, "USD") == D(expected)


def test_pro_rata_tie_rounds_half_up_on_a_line():
    # 0.01 × 15/30 = 0.005 exactly: a tie, rounded up to 0.01
    sub = Subscription("s", "a", "HALF", datetime(2026, 4, 16, tzinfo=UTC))
    line = billing_run((2026, 5), Account("a"), CAT, [sub]).lines[0]
    assert (line.days, line.month_days, line.amount) == (15, 30, D("0.01"))


@pytest.mark.parametrize("instant, tz, day", [
    (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "UTC", date(2026, 3, 31)),
    (datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 4, 1)),
    (datetime(2026, 4, 1, 2, 0, tzinfo=UTC), "America/New_York", date(2026, 3, 31)),
])
def test_day_of_in_the_account_zone(instant, tz, day):
    assert day_of(instant, zone(tz)) == day


def test_instant_still_the_previous_day_in_the_account_zone():
    # 2026-04-01T02:00Z is March 31 22:00 in New York: before its April metering point (04:00Z)
    ny = Account("ny", "America/New_York")
    sub = Subscription("s", "ny", "FEAT", datetime(2026, 4, 1, 2, tzinfo=UTC))
    lines = billing_run((2026, 4), ny, CAT, [sub]).lines
    assert [(str(l.from_date), str(l.to_date), str(l.amount)) for l in lines] == [
        ("2026-03-31", "2026-04-01", "0.39"), ("2026-04-01", "2026-05-01", "12.00")]
    assert metering_point((2026, 4), "America/New_York") == datetime(2026, 4, 1, 4, tzinfo=UTC)


def test_dst_month_has_calendar_days_not_hours():
    # March 2026 in Berlin has a 23-hour day; pro-rata counts days: 17/31
    berlin = Account("b", "Europe/Berlin")
    sub = Subscription("s", "b", "FEAT", datetime(2026, 3, 14, 23, 30, tzinfo=UTC))  # March 15 00:30 local
    line = billing_run((2026, 4), berlin, CAT, [sub]).lines[0]
    assert (line.from_date, line.days, line.month_days, line.amount) == (date(2026, 3, 15), 17, 31, D("6.58"))
    assert metering_point((2026, 4), "Europe/Berlin") == datetime(2026, 3, 31, 22, tzinfo=UTC)  # CEST


@pytest.mark.parametrize("month, days", [((2024, 2), 29), ((2026, 2), 28), ((2000, 2), 29), ((2100, 2), 28)])
def test_days_in_february(month, days):
    assert days_in_month(month) == days


def test_leap_year_february_pro_rata():
    sub = Subscription("s", "a", "FEAT", datetime(2028, 2, 15, tzinfo=UTC))
    line = billing_run((2028, 3), Account("a"), CAT, [sub]).lines[0]
    assert (line.days, line.month_days, line.amount) == (15, 29, D("6.21"))


def test_month_pieces_are_half_open_and_cut_at_month_ends():
    assert month_pieces(date(2026, 1, 30), date(2026, 3, 2)) == [
        ((2026, 1), date(2026, 1, 30), date(2026, 2, 1)), ((2026, 2), date(2026, 2, 1), date(2026, 3, 1)),
        ((2026, 3), date(2026, 3, 1), date(2026, 3, 2))]
    assert month_pieces(date(2026, 1, 30), date(2026, 1, 30)) == []


def test_delayed_run_gives_the_on_time_result():
    mp = metering_point((2026, 4), "UTC")
    subs = [Subscription("s1", "a", "FEAT", datetime(2026, 3, 15, tzinfo=UTC)),
            Subscription("s2", "a", "FEAT", datetime(2026, 4, 3, tzinfo=UTC))]  # after the point
    removed_late = [Subscription("s1", "a", "FEAT", datetime(2026, 3, 15, tzinfo=UTC),
                                 end=datetime(2026, 4, 2, tzinfo=UTC)), subs[1]]
    on_time = billing_run((2026, 4), Account("a"), CAT, known_before(subs, mp, lambda s: s.start))
    delayed = billing_run((2026, 4), Account("a"), CAT, removed_late)  # knows more; ignores it itself
    assert on_time.lines == delayed.lines and len(on_time.lines) == 2
