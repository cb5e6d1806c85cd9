"""Money: a Decimal amount with its currency. Floats are refused; rounding is half-up, once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# minor units per ISO 4217 currency; prepaid credits ("CRD") carry 2 as well
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CRD": 2, "JPY": 0}


def to_decimal(value: Decimal | int | str) -> Decimal:
    """A Decimal from an int, str or Decimal; a float is refused (binary fractions lose cents)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must not be a float or bool: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        result = Decimal(value)
        if not result.is_finite():
            raise ValueError(f"money must be finite: {value!r}")
        return result
    raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def round_half_up(amount: Decimal, currency: str = "USD") -> Decimal:
    """Round to the currency's minor unit, half-up (0.005 -> 0.01). The one rounding rule."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency. Arithmetic keeps full precision; call `rounded()` once per line."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be a 3-letter upper-case code: {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(Decimal(0), currency)

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> "Money":
        return Money(self.amount * to_decimal(factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __lt__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> "Money":
        return Money(round_half_up(self.amount, self.currency), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
