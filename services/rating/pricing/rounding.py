"""The one place where money is rounded: half-up to the currency's minor unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_QUANTA = {n: Decimal(1).scaleb(-n) for n in range(0, 7)}


def round_money(amount: Decimal, minor_units: int = 2) -> Decimal:
    """Round an exact Decimal amount once, half-up (ties away from zero), to `minor_units` places."""
    return amount.quantize(_QUANTA[minor_units], rounding=ROUND_HALF_UP)


def round_ratio(numerator: Decimal, denominator: int, minor_units: int = 2) -> Decimal:
    """Round the exact value `numerator / denominator` once, half-up, to `minor_units` places.

    Integer arithmetic keeps the quotient exact (no intermediate Decimal division), so a true
    tie such as 0.125 always rounds up and a value just below it never does.
    """
    num, den = numerator.as_integer_ratio()
    den *= denominator
    scale = 10**minor_units
    sign = -1 if (num < 0) != (den < 0) else 1
    num, den = abs(num) * scale, abs(den)
    units = (2 * num + den) // (2 * den)
    return Decimal(sign * units).scaleb(-minor_units)
