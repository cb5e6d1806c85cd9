"""Working-day calendar: Monday to Friday, minus an issuer's holidays, in a given time zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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
