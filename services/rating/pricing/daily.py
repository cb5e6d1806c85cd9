"""Daily prepaid usage pricing: one local midnight's usage debits of a prepaid account (section 8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .calendar import Month, day_of, month_info, zone
from .catalog import Catalog, PriceBook
from .rounding import round_money
from .usage import UsageRecord, price_units

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class UsageDebit:
    """The debit of one product and month of use: `units` priced after the units of that month
    already debited, `amount` rounded once (half-up, the currency's minor unit); `unit_price`
    is None for tiered prices; `explanation` says which tiers."""

    part_number: str
    month: Month
    units: Decimal
    amount: Decimal
    unit_price: Decimal | None
    price_version: str | None
    explanation: str
    record_ids: tuple[str, ...]

    @property
    def month_first(self) -> date:
        return month_info(self.month)[0]


@dataclass(frozen=True)
class DailyUsage:
    """One midnight's debits, in order of month of use then part number; `units_added` and
    `units` ((part number, first day of the month of use) -> units) are the units this debit
    adds and the new totals debited for those months; `record_ids` the records it debited."""

    debits: tuple[UsageDebit, ...] = ()
    units_added: Mapping[tuple[str, date], Decimal] = field(default_factory=dict)
    units: Mapping[tuple[str, date], Decimal] = field(default_factory=dict)
    record_ids: frozenset[str] = frozenset()

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.debits), ZERO)


def daily_usage(midnight: datetime, time_zone: str, catalog: Catalog, records: Iterable[UsageRecord],
                debited_units: Mapping[tuple[str, date], Decimal] = {},  # noqa: B006 - read only
                debited_ids: frozenset[str] | set[str] = frozenset(),
                price_book: PriceBook | None = None) -> DailyUsage:
    """Price a prepaid account's usage at a local `midnight` (aware; 00:00 in `time_zone`): the
    records that arrived strictly before it and are not in `debited_ids` (a repeated id counts
    once), one debit per product and month of use (the account zone's month of `used_at`).

    Tiers continue within the month of use after `debited_units[(part, first day of month)]`
    (section 5: graduated tiers continue from there, volume tiers use the month's new total),
    with the price in force on the month's first day, as a billing run prices usage.
    """
    tz = zone(time_zone)
    groups: dict[tuple[Month, str], tuple[Decimal, list[str]]] = {}
    seen: set[str] = set()
    for rec in records:
        if rec.arrived_at >= midnight or rec.id in debited_ids or rec.id in seen:
            continue
        seen.add(rec.id)
        used = day_of(rec.used_at, tz)
        key = ((used.year, used.month), rec.part_number)
        units, ids = groups.get(key, (ZERO, []))
        ids.append(rec.id)
        groups[key] = (units + Decimal(rec.quantity), ids)
    debits: list[UsageDebit] = []
    added: dict[tuple[str, date], Decimal] = {}
    totals: dict[tuple[str, date], Decimal] = {}
    for (month, part), (units, ids) in sorted(groups.items()):
        first = month_info(month)[0]
        already = debited_units.get((part, first), ZERO)
        p = catalog.price(part, first, price_book)
        exact, note = price_units(p, already, units)
        debits.append(UsageDebit(part, month, units, round_money(exact, catalog.minor_units),
                                 None if p.tiers else p.unit_price, p.version, note, tuple(ids)))
        added[(part, first)] = units
        totals[(part, first)] = already + units
    return DailyUsage(tuple(debits), added, totals, frozenset(seen))
