"""Usage reports' periods and per-day totals: months, billing cycles, ranges, zones and DST days."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.rating.usage_periods import MAX_DAYS, Period, PeriodError, per_day, resolve, totals

D = date.fromisoformat


@pytest.mark.parametrize(("kwargs", "start", "end", "kind"), [
    ({"month": "2026-03"}, "2026-03-01", "2026-04-01", "month"),
    ({"month": "2024-02"}, "2024-02-01", "2024-03-01", "month"),  # leap February: 29 days
    ({"month": "2026-12"}, "2026-12-01", "2027-01-01", "month"),
    # the run of a month bills the previous month's usage (in arrears)
    ({"cycle": "2026-04"}, "2026-03-01", "2026-04-01", "cycle"),
    ({"cycle": "2026-01"}, "2025-12-01", "2026-01-01", "cycle"),
    ({"start": D("2026-03-05"), "end": D("2026-03-06")}, "2026-03-05", "2026-03-06", "range"),
    ({"start": D("2024-01-01"), "end": D("2025-01-01")}, "2024-01-01", "2025-01-01", "range"),  # 366 days
])
def test_periods(kwargs, start, end, kind):
    period = resolve(**kwargs)
    assert (period.start, period.end, period.kind) == (D(start), D(end), kind)
    assert len(period.days) == (D(end) - D(start)).days


@pytest.mark.parametrize("kwargs", [
    {},
    {"month": "2026-03", "cycle": "2026-04"},
    {"month": "2026-03", "start": D("2026-03-01"), "end": D("2026-04-01")},
    {"start": D("2026-03-01")},
    {"end": D("2026-03-01")},
    {"start": D("2026-03-05"), "end": D("2026-03-05")},  # empty
    {"start": D("2026-03-06"), "end": D("2026-03-05")},  # reversed
    {"start": D("2000-01-01"), "end": D("2099-12-31")},  # a century: refused, not scanned
    {"start": D("2025-01-01"), "end": D("2025-01-01") + timedelta(days=MAX_DAYS + 1)},
])
def test_periods_refused(kwargs):
    with pytest.raises(PeriodError):
        resolve(**kwargs)


@pytest.mark.parametrize(("zone", "day", "hours"), [
    ("Europe/Berlin", "2026-03-29", 23),  # spring forward
    ("Europe/Berlin", "2026-10-25", 25),  # fall back
    ("America/New_York", "2026-03-08", 23),
    ("America/New_York", "2026-11-01", 25),
    ("Australia/Lord_Howe", "2026-04-05", 24.5),  # half an hour back
    ("UTC", "2026-03-29", 24),
    ("Asia/Kolkata", "2026-03-29", 24),
])
def test_a_local_day_is_as_long_as_its_zone_makes_it(zone, day, hours):
    start, end = Period(D(day), D(day) + timedelta(days=1), "range").bounds(zone)
    # (aware datetimes of one zone subtract as wall clocks: compare in UTC)
    assert (end.astimezone(timezone.utc) - start.astimezone(timezone.utc)).total_seconds() == hours * 3600


def test_bounds_are_local_midnights():
    start, end = resolve(month="2026-03").bounds("Europe/Berlin")
    assert start.astimezone(timezone.utc) == datetime(2026, 2, 28, 23, tzinfo=timezone.utc)
    assert end.astimezone(timezone.utc) == datetime(2026, 3, 31, 22, tzinfo=timezone.utc)  # CEST by then


def test_a_midnight_in_a_dst_gap_reads_with_the_offset_before_it():
    # America/Santiago's clocks jumped from 2022-09-11 00:00 to 01:00: that midnight does not exist
    start, _ = Period(D("2022-09-11"), D("2022-09-12"), "range").bounds("America/Santiago")
    assert start.astimezone(timezone.utc) == datetime(2022, 9, 11, 4, tzinfo=timezone.utc)


def test_per_day_fills_empty_days_and_splits_directions():
    period = resolve(start=D("2026-03-28"), end=D("2026-03-31"))
    rows = [(D("2026-03-28"), "inbound", Decimal(2), 1), (D("2026-03-29"), "inbound", Decimal(3), 1),
            (D("2026-03-29"), "outbound", Decimal(5), 2), (D("2026-03-29"), None, Decimal("0.5"), 1),
            (D("2026-04-01"), "inbound", Decimal(100), 1)]  # outside: ignored
    days = per_day(period, rows)
    assert [d["date"] for d in days] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert days[1] == {"date": "2026-03-29", "inbound": 3, "outbound": 5, "unspecified": Decimal("0.5"), "records": 4}
    assert days[2]["records"] == 0 and days[2]["inbound"] == 0
    assert totals(days) == {"inbound": 5, "outbound": 5, "unspecified": Decimal("0.5"), "records": 5}


@given(st.dates(min_value=D("2000-01-01"), max_value=D("2098-12-01")), st.integers(1, MAX_DAYS),
       st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"]))
def test_consecutive_periods_tile_time(start, length, zone):
    """Two adjacent periods share their boundary instant: no record is counted twice or lost."""
    first = resolve(start=start, end=start + timedelta(days=length))
    second = resolve(start=first.end, end=first.end + timedelta(days=1))
    assert first.bounds(zone)[1] == second.bounds(zone)[0]
    assert first.bounds(zone)[0] < first.bounds(zone)[1]
