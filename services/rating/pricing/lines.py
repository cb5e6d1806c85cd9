"""Charge lines and run results: what a run bills, each line explaining its amount."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property, lru_cache

from shared.calendar import Month
from .ledger import LedgerUpdate

_RULE_TEXT = {
    "in_advance": "whole month in advance",
    "arrears": "whole month in arrears",
    "pro_rata_arrears": "pro-rata part month in arrears",
    "minimum_licence": "minimum licence",
    "pack": "user packs",
    "usage": "usage in arrears",
    "usage_late": "late usage",
}


@dataclass(frozen=True)
class ChargeLine:
    """One rated line. Service period [from_date, to_date) is half-open, in the account's zone.

    Recurring and pack lines: `amount = unit_price × quantity × days / month_days`, exact, rounded
    once half-up to the currency's minor unit (a whole month is exactly unit_price × quantity).
    Usage lines (`subscription` None) cover the usage month; `quantity` is the summed units,
    `unit_price` is None when tiers priced them (see `note`), `days`/`month_days` are None.
    """

    account: str
    subscription: str | None
    part_number: str
    from_date: date
    to_date: date
    quantity: int | Decimal
    unit_price: Decimal | None
    price_version: str
    amount: Decimal
    days: int | None
    month_days: int | None
    rule: str
    late: bool = False
    note: str = ""
    product_name: str = ""  # the catalogue's name of the product, "" when it has none
    customer: str | None = None  # the reseller's customer a feature is for, None for the account's own

    @property
    def explanation(self) -> str:
        """A human sentence saying why the line costs what it costs."""
        before, after = explanation_around(
            self.part_number, self.rule, self.from_date, self.to_date, str(self.quantity), str(self.unit_price),
            self.price_version, str(self.amount), self.days, self.month_days, self.note, self.subscription is None)
        return before if self.subscription is None else before + self.subscription + after


@lru_cache(maxsize=65536)
def explanation_around(part_number: str, rule: str, from_date: date, to_date: date, quantity: str,
                       unit_price: str, price_version: str, amount: str, days: int | None,
                       month_days: int | None, note: str, usage: bool) -> tuple[str, str]:
    """A line's explanation as the text before and after its subscription id (usage lines have
    none: all of it comes first). Numbers come as their text, so equal values written
    differently (12 and 12.00) stay apart in the cache: a run explains the same few line shapes
    for many subscriptions."""
    what = _RULE_TEXT.get(rule, rule)
    period = _period(from_date, to_date)
    if usage:
        tail = f"; {note}" if note else ""
        return (f"{part_number}: {what}, {quantity} units used {period}, price {price_version}{tail} = {amount}",
                "")
    unit = "pack" if rule == "pack" else "unit"
    share = "whole month" if days == month_days else f"{days}/{month_days} days"
    return (f"{part_number} (", f"): {what}, {period}, {quantity} {unit}(s) × {unit_price}/month "
                                f"(price {price_version}) × {share} = {amount}")


@lru_cache(maxsize=4096)
def _period(first: date, end: date) -> str:
    """'YYYY-MM-DD to YYYY-MM-DD (exclusive)': a run repeats the same few periods many times."""
    return f"{first.isoformat()} to {end.isoformat()} (exclusive)"


_new = object.__new__
_set_dict = object.__setattr__


def build_frozen(cls, fields: dict):
    """An instance of the frozen (non-slots) dataclass `cls` with exactly `fields`, without its
    __init__: equal to `cls(**fields)` when every field is given. For the run's hot path only."""
    obj = _new(cls)
    _set_dict(obj, "__dict__", fields)
    return obj


def make_line(account, subscription, part_number, from_date, to_date, quantity, unit_price, price_version,
              amount, days, month_days, rule, late=False, note="", product_name="", customer=None) -> ChargeLine:
    """A ChargeLine equal to `ChargeLine(...)` with the same arguments, built without the frozen
    dataclass __init__ (one __setattr__ per field): about three times faster on the run's hot path."""
    return build_frozen(ChargeLine, {
        "account": account, "subscription": subscription, "part_number": part_number, "from_date": from_date,
        "to_date": to_date, "quantity": quantity, "unit_price": unit_price, "price_version": price_version,
        "amount": amount, "days": days, "month_days": month_days, "rule": rule, "late": late, "note": note,
        "product_name": product_name, "customer": customer})


@dataclass(frozen=True)
class RunResult:
    """A run's result for one account: its lines (in order) and the ledger entries to add."""

    account: str
    month: Month
    currency: str
    lines: tuple[ChargeLine, ...]
    ledger_update: LedgerUpdate

    @cached_property
    def total(self) -> Decimal:
        """Sum of the (already rounded) line amounts (worked out once: the ledger and the wire
        both read it)."""
        return sum((line.amount for line in self.lines), Decimal(0))
