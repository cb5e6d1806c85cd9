"""Usage reports' pure rules: which local days a period covers, and per-day totals with empty days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from shared.calendar import local_midnight, month_info, parse_month, previous_month

MAX_DAYS = 366  # a report covers at most a (leap) year of days: longer ones are refused, not scanned
DIRECTIONS = ("inbound", "outbound")


class PeriodError(ValueError):
    """A period a report cannot cover: reason code `invalid_period` and a sentence saying why."""


@dataclass(frozen=True)
class Period:
    """Local days `[start, end)` in the account's billing time zone; `kind` is how it was chosen
    (`month`, `cycle` or `range`) and `name` its month for the first two."""

    start: date
    end: date
    kind: str
    name: str | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    def bounds(self, time_zone: str) -> tuple[datetime, datetime]:
        """The aware instants `[start 00:00, end 00:00)` in `time_zone`: a day of a DST change is
        23 or 25 hours long, and a midnight in a DST gap reads with the offset before it (fold=0,
        as PostgreSQL does)."""
        return local_midnight(self.start, time_zone), local_midnight(self.end, time_zone)


def calendar_month(month: str) -> Period:
    """The local days of calendar month `YYYY-MM`."""
    first, after, _ = month_info(parse_month(month))
    return Period(first, after, "month", month)


def billing_cycle(month: str) -> Period:
    """The usage billed by the run (and invoice) of month `YYYY-MM`: usage is billed in arrears,
    so it is the previous calendar month's days (late records aside: they are counted on the
    day they were used)."""
    first, after, _ = month_info(previous_month(parse_month(month)))
    return Period(first, after, "cycle", month)


def resolve(month: str | None = None, cycle: str | None = None, start: date | None = None,
            end: date | None = None) -> Period:
    """The period a report asks for: exactly one of a calendar `month`, a billing `cycle`, or
    `start` and `end` (half-open: `end` is the day after the last). PeriodError otherwise, or for
    an empty, reversed or longer than MAX_DAYS period."""
    chosen = [name for name, value in (("month", month), ("cycle", cycle), ("from/to", start or end)) if value]
    if len(chosen) != 1:
        raise PeriodError("give one of `month`, `cycle`, or `from` and `to`" +
                          (f", not {' and '.join(chosen)}" if chosen else ""))
    if month:
        return calendar_month(month)
    if cycle:
        return billing_cycle(cycle)
    if start is None or end is None:
        raise PeriodError("`from` and `to` go together")
    if end <= start:
        raise PeriodError("`to` must be after `from` (the period is half-open: `to` is the day after the last)")
    if (end - start).days > MAX_DAYS:
        raise PeriodError(f"a period covers at most {MAX_DAYS} days, not {(end - start).days}")
    return Period(start, end, "range")


def per_day(period: Period, rows: list[tuple[date, str | None, Decimal, int]]) -> list[dict]:
    """One entry per local day of the period, empty days included: units used `inbound`,
    `outbound` and `unspecified` (records without a direction) and the `records` count, from
    `rows` of (day, direction, units, records)."""
    by_day = {day: {"date": day.isoformat(), "inbound": Decimal(0), "outbound": Decimal(0),
                    "unspecified": Decimal(0), "records": 0} for day in period.days}
    for day, direction, units, records in rows:
        entry = by_day.get(day)
        if entry is None:  # outside the period: never asked for
            continue
        entry[direction if direction in DIRECTIONS else "unspecified"] += units
        entry["records"] += records
    return list(by_day.values())


def totals(days: list[dict]) -> dict:
    """The period's totals of `per_day`'s entries."""
    out = {"inbound": Decimal(0), "outbound": Decimal(0), "unspecified": Decimal(0), "records": 0}
    for entry in days:
        for key in out:
            out[key] += entry[key]
    return out
