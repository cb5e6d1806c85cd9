"""The remaining-lifetime estimate of an account's credits (BILLING_RULES.md section 8)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from services.rating.pricing import day_of, zone

from .ledger import DEBIT_KINDS, ZERO, Entry, Lot

WINDOW_DAYS = 30


def lifetime_estimate(entries: Iterable[Entry], lots: Iterable[Lot], at: datetime, time_zone: str = "UTC",
                      first_redeemed_at: datetime | None = None) -> date | None:
    """The day the credits held at `at` are expected to run out, or None at a zero balance.

    consumption = what `usage` and `recurring` entries charged (shortfalls included) in
    [at - 30 days, at) (wall-clock days of the account zone); n = days from the first
    redemption's day to d(at), between 1 and 30; the estimate is d(at) + floor(balance / (consumption / n))
    days, never after the expiry day of the last-expiring lot still holding credits, and that
    day when there is no consumption. `entries` need only cover the window (and the first
    redemption, unless `first_redeemed_at` is given: else the earliest `redeemed` entry, else the
    earliest lot); `lots` are the lots still holding credits (those expiring at or before `at`
    are taken as expired). Example (section 8): 296.45 left on 04-15 after 193.55 consumed in 30
    days lasts 45 days (05-30), bounded by the lot's expiry: 2026-05-02.
    """
    tz = zone(time_zone)
    holding = [lot for lot in lots if lot.remaining > 0 and lot.expires_at > at]
    balance = sum((lot.remaining for lot in holding), ZERO)
    if balance <= 0:
        return None
    today = day_of(at, tz)
    last_day = day_of(max(lot.expires_at for lot in holding), tz)
    # wall-clock arithmetic: the same local time 30 calendar days before, across a DST change too
    since = (at.astimezone(tz) - timedelta(days=WINDOW_DAYS)).astimezone(tz)
    entries = list(entries)
    consumption = sum((e.charged for e in entries if e.kind in DEBIT_KINDS and since <= e.at < at), ZERO)
    if consumption <= 0:
        return last_day
    first = first_redeemed_at or min((e.at for e in entries if e.kind == "redeemed"),
                                     default=min(lot.redeemed_at for lot in holding))
    n = min(WINDOW_DAYS, max(1, (today - day_of(first, tz)).days))
    days = int((balance * n) // consumption)  # floor(balance / average), exact: no division rounding
    return last_day if days >= (last_day - today).days else today + timedelta(days=days)
