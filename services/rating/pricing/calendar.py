"""Account-zone calendar: days of instants, metering points, month lengths and month pieces."""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

Month = tuple[int, int]  # (year, month)


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, cached (one object per zone per process)."""
    return ZoneInfo(name)


def day_of(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day, in the account's zone `tz`, on which the aware `instant` falls."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: instants must be aware")
    return instant.astimezone(tz).date()


def month_of(day: date) -> Month:
    """The (year, month) a day belongs to."""
    return (day.year, day.month)


def as_month(value: Month | date | str) -> Month:
    """Normalise a month given as (year, month), a date (any day of it) or 'YYYY-MM'."""
    if isinstance(value, date):
        return (value.year, value.month)
    if isinstance(value, str):
        year, month = value.split("-")[:2]
        return (int(year), int(month))
    year, month = value
    return (int(year), int(month))


@lru_cache(maxsize=4096)
def month_info(month: Month) -> tuple[date, date, int]:
    """(first day, first day of the next month, number of days) of a month; cached."""
    year, mon = month
    first = date(year, mon, 1)
    nxt = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return first, nxt, (nxt - first).days


def days_in_month(month: Month) -> int:
    """Number of days of a calendar month (February of a leap year has 29)."""
    return month_info(month)[2]


def next_month(month: Month) -> Month:
    """The month after `month`."""
    year, mon = month
    return (year + 1, 1) if mon == 12 else (year, mon + 1)


def previous_month(month: Month) -> Month:
    """The month before `month`."""
    year, mon = month
    return (year - 1, 12) if mon == 1 else (year, mon - 1)


@lru_cache(maxsize=65536)
def metering_point(month: Month, tz_name: str) -> datetime:
    """The metering point of `month`: its 1st at 00:00 local time in zone `tz_name` (aware).

    Where local midnight does not exist (a DST gap at midnight), zoneinfo's fold=0 reading is
    used: the instant the clock would have shown with the offset in force before the change.
    """
    year, mon = month
    return datetime(year, mon, 1, tzinfo=zone(tz_name))


@lru_cache(maxsize=65536)
def metering_point_utc(month: Month, tz_name: str) -> datetime:
    """`metering_point` expressed in UTC (same instant). Comparing it with instants whose tzinfo
    is `timezone.utc` takes CPython's same-tzinfo fast path: no utcoffset() calls."""
    return metering_point(month, tz_name).astimezone(timezone.utc)


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months from that anchor, clamped to the month's last day.

    January 31 + 1 month is February 28 (29 in a leap year).
    """
    return day + relativedelta(months=months)


def first_metering_day_at_or_after(instant_day: date, at_midnight: bool) -> date:
    """The first 1st-of-month at or after a local instant given as its day and whether it is
    exactly 00:00: the 1st at 00:00 is itself a metering point; any later moment goes to the next."""
    if instant_day.day == 1 and at_midnight:
        return instant_day
    return month_info(month_of(instant_day))[1]


def month_pieces(start: date, end: date, last_month: Month | None = None) -> list[tuple[Month, date, date]]:
    """Cut the half-open day interval [start, end) at month boundaries.

    Returns (month, from, to) pieces, each half-open and inside one month, in order; pieces of
    months after `last_month` are left out when it is given. Empty when end <= start.
    """
    pieces: list[tuple[Month, date, date]] = []
    month = (start.year, start.month)
    a = start
    while a < end and (last_month is None or month <= last_month):
        _, nxt, _ = month_info(month)
        b = end if end < nxt else nxt
        pieces.append((month, a, b))
        a = b
        month = next_month(month)
    return pieces


def local_midnight(day: date, tz_name: str) -> datetime:
    """The aware instant of `day` at 00:00 in zone `tz_name`."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz_name))

