"""The one calendar: months, metering points and days in an account's zone, and working days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
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


def parse_month(text: str) -> Month:
    """'2026-05' -> (2026, 5); ValueError for anything else (strict: the edges' month text)."""
    year, sep, month = text.partition("-")
    if not sep or len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(f"month must be YYYY-MM, got {text!r}")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"month must be YYYY-MM, got {text!r}")
    return int(year), int(month)


def month_text(month: Month) -> str:
    """(2026, 5) -> '2026-05'."""
    return f"{month[0]:04d}-{month[1]:02d}"


def local_date(instant: datetime, time_zone: str) -> date:
    """The calendar day, in zone `time_zone` (IANA name), on which the aware `instant` falls."""
    return day_of(instant, zone(time_zone))


def metering_point_at_or_before(instant: datetime, time_zone: str) -> datetime:
    """The latest metering point (a 1st at 00:00 in `time_zone`) at or before the aware `instant`."""
    local = day_of(instant, zone(time_zone))
    return metering_point(month_of(local), time_zone)



@dataclass(frozen=True)
class WorkingCalendar:
    """Working days of one issuer: weekdays in `weekdays` (0 = Monday) that are not holidays."""

    time_zone: str = "UTC"
    holidays: frozenset[date] = field(default_factory=frozenset)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})

    @classmethod
    def of(cls, time_zone: str = "UTC", holidays: Iterable[date] = ()) -> "WorkingCalendar":
        ZoneInfo(time_zone)  # refuse unknown zones early
        return cls(time_zone=time_zone, holidays=frozenset(holidays))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """`start` moved forward by `days` working days, keeping its local time of day.

        A start on a non-working day counts from 00:00 of the next working day, so a dispute
        received on Saturday is due as if received first thing on Monday. Example: Friday
        15:00 + 3 -> Wednesday 15:00. The result is in the calendar's zone (aware).
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if days < 0:
            raise ValueError("days must be >= 0")
        tz = ZoneInfo(self.time_zone)
        local = start.astimezone(tz)
        day, clock = local.date(), local.timetz().replace(tzinfo=None)
        if not self.is_working_day(day):
            day, clock = self.next_working_day(day), time(0)
        for _ in range(days):
            day = self.next_working_day(day)
        return datetime.combine(day, clock, tzinfo=tz)
