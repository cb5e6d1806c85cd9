"""The one rounding of money: half-up, once, to the currency's minor unit from Babel's CLDR table."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision


@lru_cache(maxsize=None)
def minor_units(currency: str) -> int:
    """Decimal places of `currency`'s minor unit per CLDR (Babel): USD, EUR, GBP 2; JPY 0; KWD 3.
    A code CLDR does not list (the prepaid credits' `CRD`) has CLDR's default, 2."""
    return get_currency_precision(currency)


_QUANTA: dict[str, Decimal] = {}  # a plain dict: rounding is on the pricing core's per-line path


def quantum(currency: str) -> Decimal:
    """The currency's smallest amount: Decimal('0.01') for USD, Decimal('1') for JPY."""
    found = _QUANTA.get(currency)
    if found is None:
        found = _QUANTA[currency] = Decimal(1).scaleb(-minor_units(currency))
    return found


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an exact Decimal amount once, half-up (ties away from zero), to `currency`'s minor
    unit: 0.005 USD -> 0.01, 0.5 JPY -> 1."""
    q = _QUANTA.get(currency) or quantum(currency)
    return amount.quantize(q, rounding=ROUND_HALF_UP)


def round_ratio(numerator: Decimal, denominator: int, currency: str) -> Decimal:
    """Round the exact value `numerator / denominator` once, half-up, to `currency`'s minor unit.

    Integer arithmetic keeps the quotient exact (no intermediate Decimal division), so a true
    tie such as 0.125 always rounds up and a value just below it never does.
    """
    places = minor_units(currency)
    num, den = numerator.as_integer_ratio()
    den *= denominator
    sign = -1 if (num < 0) != (den < 0) else 1
    num, den = abs(num) * 10**places, abs(den)
    units = (2 * num + den) // (2 * den)
    return Decimal(sign * units).scaleb(-places)


round_half_up = round_money  # the name invoicing used
