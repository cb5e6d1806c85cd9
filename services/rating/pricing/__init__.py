"""The pure pricing core: rates one account's billing run from state known before the run.

Public API (no I/O, no clock; standard library + dateutil + zoneinfo only):

- `billing_run(month, account, catalog, subscriptions, user_counts=(), usage=(), ledger=EMPTY_LEDGER,
  price_book=None) -> RunResult` rates the run of `month` ((year, month), a date or "YYYY-MM")
  for one `Account(id, time_zone, currency)`.
- Inputs: `Catalog(currency, {part: Product})` / `Catalog.of(currency, [Product])`, `Product`
  (kind recurring|pack|usage, unit_price, minimum_days, minimum_term_months, termination,
  pack_size, minimum_packs, tiers, tier_mode, versions of `PriceVersion`), `PriceBook(id, prices)`;
  `Subscription(id, account, part_number, start, quantity, end, termination_effective)`;
  user counts as (instant, count) pairs; `UsageRecord(id, part_number, quantity, used_at, arrived_at)`.
- `BilledLedger(billed_through, usage_units, rated_usage_ids)`: what was billed before.
  `RunResult.ledger_update` (`LedgerUpdate`) is what the run adds: persist it with the lines,
  and `BilledLedger.apply(update)` gives the next ledger.
- `RunResult(account, month, currency, lines, ledger_update)`, `.total`; `ChargeLine` (frozen)
  with `.explanation`.
- `daily_usage(midnight, time_zone, catalog, records, debited_units, debited_ids, price_book)
  -> DailyUsage(debits: UsageDebit..., units_added, units, record_ids)`: a prepaid account's usage
  debits at one local midnight, one per product and month of use, tiers continuing in the month.
- Helpers: `known_before` / `counts_known_at` (facts a run may know), `termination_effective`,
  `pack_start`, `packs_for`, `metering_point`, `day_of`, `add_months`, `round_money`.
"""

from .calendar import add_months, as_month, day_of, days_in_month, metering_point, month_pieces, zone
from .catalog import Catalog, Price, PriceBook, PriceVersion, Product, Tier
from .daily import DailyUsage, UsageDebit, daily_usage
from .ledger import EMPTY_LEDGER, BilledLedger, LedgerUpdate
from .lines import ChargeLine, RunResult
from .packs import UserCounts, pack_start, packs_for
from .rounding import round_money, round_ratio
from .run import Account, billing_run
from .terms import termination_effective
from .timeline import Subscription, billable_interval, counts_known_at, known_before
from .usage import UsageRecord, price_units

__all__ = [
    "Account", "BilledLedger", "Catalog", "ChargeLine", "DailyUsage", "EMPTY_LEDGER", "LedgerUpdate", "Price",
    "PriceBook", "PriceVersion", "Product", "RunResult", "Subscription", "Tier", "UsageDebit", "UsageRecord",
    "UserCounts", "add_months", "as_month", "billable_interval", "billing_run", "counts_known_at",
    "daily_usage", "day_of", "days_in_month", "known_before", "metering_point", "month_pieces", "pack_start",
    "packs_for", "price_units", "round_money", "round_ratio", "termination_effective", "zone",
]
