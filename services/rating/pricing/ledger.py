"""What an account has already been billed, and what a run adds to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping


@dataclass(frozen=True)
class LedgerUpdate:
    """What one run billed, to persist in the same transaction as its charges.

    `billed_through`: subscription id -> the new first day not yet billed (exclusive end of
    what is now billed). `usage_units`: (part number, first day of the usage month) -> units
    billed by this run (to add). `rated_usage_ids`: usage record ids rated by this run.
    """

    billed_through: Mapping[str, date] = field(default_factory=dict)
    usage_units: Mapping[tuple[str, date], Decimal] = field(default_factory=dict)
    rated_usage_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class BilledLedger:
    """One account's billing history as the rating core needs it.

    The billed days of a subscription are always a prefix of its billable interval (runs bill
    month pieces in order and never refund), so one date per subscription records which
    (subscription, month) pieces were billed and up to which day: `billed_through[id]` is the
    first day not yet billed. `usage_units[(part, month_first_day)]` is how many units of that
    product and usage month were billed; `rated_usage_ids` the usage record ids already rated.

    Persist as three tables: (subscription_id PK, billed_through date) upserted with GREATEST;
    (account, part_number, usage_month, units numeric) incremented; (usage_record_id PK).
    """

    billed_through: Mapping[str, date] = field(default_factory=dict)
    usage_units: Mapping[tuple[str, date], Decimal] = field(default_factory=dict)
    rated_usage_ids: frozenset[str] = frozenset()

    def apply(self, update: LedgerUpdate) -> "BilledLedger":
        """The ledger after `update` (pure: returns a new ledger)."""
        through = dict(self.billed_through)
        for sid, day in update.billed_through.items():
            if sid not in through or through[sid] < day:
                through[sid] = day
        units = dict(self.usage_units)
        for key, added in update.usage_units.items():
            units[key] = units.get(key, Decimal(0)) + added
        return BilledLedger(through, units, self.rated_usage_ids | update.rated_usage_ids)


EMPTY_LEDGER = BilledLedger()
