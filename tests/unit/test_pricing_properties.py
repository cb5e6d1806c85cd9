"""Property tests: pieces billed once whatever the runs, cutting costs only rounding, no negatives."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, Product, Subscription, billable_interval, billing_run, day_of, month_pieces,
    round_money, round_ratio, zone,
)
from shared.calendar import month_info

UTC = timezone.utc
CAT = Catalog.of("USD", [Product("F", "recurring", D("12.00"), minimum_days=30),
                         Product("B", "recurring", D("249.95"))])
MONTHS = [(2026, m) for m in range(2, 13)] + [(2027, 1)]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]

instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 10, 31),
                        timezones=st.just(UTC))


@st.composite
def cases(draw):
    start = draw(instants)
    end = draw(st.none() | st.builds(lambda s, h: s + timedelta(hours=h), st.just(start),
                                     st.integers(0, 24 * 120)))
    runs = sorted(draw(st.lists(st.sampled_from(MONTHS), min_size=1, max_size=8)))
    return (Subscription("s", "a", draw(st.sampled_from(["F", "B"])), start, draw(st.integers(1, 5)), end),
            Account("a", draw(st.sampled_from(ZONES))), runs)


def run_all(sub, account, runs):
    ledger, lines = EMPTY_LEDGER, []
    for month in runs:
        mp = datetime(*month, 1, tzinfo=UTC)  # the caller's filter is irrelevant: the core filters
        result = billing_run(month, account, CAT, [sub], ledger=ledger)
        ledger = ledger.apply(result.ledger_update)
        lines += result.lines
        assert all(l.from_date < l.to_date <= month_info(month)[1] for l in result.lines), mp
    return lines


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_day_billed_at_most_once_and_nothing_negative(case):
    sub, account, runs = case
    lines = run_all(sub, account, runs)
    days = [l.from_date + timedelta(n) for l in lines for n in range((l.to_date - l.from_date).days)]
    assert len(days) == len(set(days))
    assert all(l.amount >= 0 and l.days > 0 for l in lines)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_every_day_of_the_billable_interval_is_billed_whatever_the_sequence_of_runs(case):
    sub, account, runs = case
    last_day = month_info(runs[-1])[1]
    tz = zone(account.time_zone)
    start_day = day_of(sub.start, tz)
    end_day = None if sub.end is None else day_of(sub.end, tz)
    _, to, _ = billable_interval(start_day, end_day, CAT.products[sub.part_number].minimum_days)
    to = last_day if to is None else min(to, last_day)
    last_point = datetime(*runs[-1], 1, tzinfo=tz)
    if sub.start >= last_point:
        assert run_all(sub, account, runs) == []  # not yet part of any run
        return
    if sub.end is not None and sub.end >= last_point:
        return  # the removal is not known to the last run: covered by the first property
    expected = {start_day + timedelta(n) for n in range((to - start_day).days)}
    billed = {l.from_date + timedelta(n) for l in run_all(sub, account, runs) for n in range(l.days)}
    assert expected <= billed  # and days beyond it are only months billed in advance (no refunds)
    assert all(day < last_day for day in billed)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_same_events_same_lines(case):
    sub, account, runs = case
    assert run_all(sub, account, runs) == run_all(sub, account, runs)


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2024, 1, 1), date(2027, 12, 1)), st.integers(1, 400), st.data(),
       st.decimals(D("0.01"), D("9999.99"), places=2), st.integers(1, 10))
def test_cutting_an_interval_changes_the_total_only_by_line_rounding(start, length, data, price, quantity):
    end = start + timedelta(days=length)
    cut = start + timedelta(days=data.draw(st.integers(1, length)))
    def total(a, b):
        return [(price * quantity * (y - x).days, month_info(m)[2]) for m, x, y in month_pieces(a, b)]
    whole = total(start, end)
    split = total(start, cut) + total(cut, end)
    exact = sum(n / d for n, d in whole)
    assert abs(sum(n / d for n, d in split) - exact) < D("1e-20")
    rounded_whole = sum(round_ratio(n, d, "USD") for n, d in whole)
    rounded_split = sum(round_ratio(n, d, "USD") for n, d in split)
    extra_lines = len(split) - len(whole)
    assert abs(rounded_split - rounded_whole) <= D("0.005") * (len(split) + len(whole))
    assert abs(rounded_split - round_money(exact, "USD")) <= D("0.005") * len(split) + D("0.005")
    assert extra_lines in (0, 1)
