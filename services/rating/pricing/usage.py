"""Usage records and their pricing: per unit, graduated tiers or volume tiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .catalog import Price

ZERO = Decimal(0)


@dataclass(frozen=True)  # not slots: live runs build them with lines.build_frozen (see Subscription)
class UsageRecord:
    """One call detail record: `quantity` units of `part_number` used at `used_at`, received at
    `arrived_at`. `id` is unique across the platform: a known id is ignored."""

    id: str
    part_number: str
    quantity: Decimal
    used_at: datetime
    arrived_at: datetime


def price_units(price: Price, already: Decimal, units: Decimal) -> tuple[Decimal, str]:
    """Exact (unrounded) amount of `units` new units of one product and month, when `already`
    units of that month were billed before; and a short explanation of the tiers used.

    Tier bounds are inclusive: with up_to 1000, unit 1000 is in the first tier, unit 1001 in the
    next. Graduated: units numbered already+1 .. already+units each priced at their tier.
    Volume: all new units at the tier of the month's new total (already + units); units already
    billed are never re-priced.
    """
    if not price.tiers:
        return price.unit_price * units, f"{units} × {price.unit_price}"
    total = already + units
    if price.tier_mode == "volume":
        for tier in price.tiers:
            if tier.up_to is None or total <= tier.up_to:
                return tier.unit_price * units, f"{units} × {tier.unit_price} (volume tier for a month total of {total})"
        raise ValueError("tiers must end with an unbounded tier")
    amount = ZERO
    parts = []
    lower = ZERO
    for tier in price.tiers:
        upper = total if tier.up_to is None else min(tier.up_to, total)
        n = upper - max(lower, already)
        if n > 0:
            amount += tier.unit_price * n
            parts.append(f"{n} × {tier.unit_price}")
        if tier.up_to is None or tier.up_to >= total:
            break
        lower = tier.up_to
    else:
        raise ValueError("tiers must end with an unbounded tier")
    return amount, " + ".join(parts) + f" (graduated, units {already + 1}..{total})"
