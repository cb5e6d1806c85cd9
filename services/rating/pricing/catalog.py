"""Products, effective-dated price versions and partner price books."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping

KINDS = ("recurring", "pack", "usage")
TERMINATIONS = ("immediate", "end_of_month")
TIER_MODES = ("graduated", "volume")


@dataclass(frozen=True, slots=True)
class Tier:
    """A usage tier: units up to and including `up_to` (None: no upper bound) at `unit_price`."""

    up_to: Decimal | None
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class PriceVersion:
    """A price in force from `effective_from` (a local date, inclusive) until the next version."""

    id: str
    effective_from: date
    unit_price: Decimal
    tiers: tuple[Tier, ...] = ()
    tier_mode: str | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """The price that applies to one line: flat `unit_price`, or tiers, and the version's id."""

    version: str
    unit_price: Decimal
    tiers: tuple[Tier, ...] = ()
    tier_mode: str | None = None


@dataclass(frozen=True)
class Product:
    """A catalogue product.

    `unit_price` (and `tiers`/`tier_mode`) is the base price, in force before any of `versions`
    (id "<part_number>@base"). Recurring: per unit per calendar month; pack: per pack per month;
    usage: per unit. `minimum_days` is the minimum licence (recurring features),
    `minimum_term_months` the minimum term of end_of_month products.
    """

    part_number: str
    kind: str
    unit_price: Decimal
    name: str | None = None
    minimum_days: int = 0
    minimum_term_months: int = 0
    termination: str = "immediate"
    pack_size: int = 100_000
    minimum_packs: int = 1
    tiers: tuple[Tier, ...] = ()
    tier_mode: str | None = None
    versions: tuple[PriceVersion, ...] = ()
    _base: Price = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown product kind {self.kind!r}")
        if self.termination not in TERMINATIONS:
            raise ValueError(f"unknown termination {self.termination!r}")
        if self.tiers and self.tier_mode not in TIER_MODES:
            raise ValueError(f"tiers need a tier_mode in {TIER_MODES}")
        object.__setattr__(self, "versions", tuple(sorted(self.versions, key=lambda v: v.effective_from)))
        base = Price(f"{self.part_number}@base", self.unit_price, self.tiers, self.tier_mode)
        object.__setattr__(self, "_base", base)

    def price_on(self, day: date) -> Price:
        """The price in force on `day`: the latest version with effective_from <= day, else the base."""
        chosen = self._base
        for version in self.versions:
            if version.effective_from > day:
                break
            chosen = Price(version.id, version.unit_price, version.tiers, version.tier_mode)
        return chosen


@dataclass(frozen=True)
class PriceBook:
    """A partner's negotiated prices: part number -> flat unit price, overriding the catalogue.

    A price-book price replaces the catalogue version entirely for that part (tiers included:
    a negotiated price is a flat price per unit); lines name the version `<book id>:<part>`.
    """

    id: str
    prices: Mapping[str, Decimal]


@dataclass(frozen=True)
class Catalog:
    """The products of one currency; lines in it are rounded to the currency's minor unit
    (`shared.money.minor_units`: JPY 0 places, USD 2)."""

    currency: str
    products: Mapping[str, Product]
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    # the run's line shapes, memoised per catalogue object by run.py: accounts of one batch bill
    # the same few (product, period, quantity) pieces over and over
    shapes: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, currency: str, products: list[Product] | tuple[Product, ...]) -> "Catalog":
        """A catalogue from a list of products."""
        return cls(currency, {p.part_number: p for p in products})

    def price(self, part_number: str, day: date, book: PriceBook | None = None) -> Price:
        """The price of `part_number` for a piece or usage month starting on `day`.

        The partner price book wins over the catalogue; otherwise the catalogue version in force
        on `day`. Results are memoised per (book object, part, day): two books with one id but
        different prices never share an entry (the cache pins each book, so its id() is not reused).
        """
        key = (id(book) if book is not None else None, part_number, day)
        found = self._cache.get(key)
        if found is None:
            if book is not None:
                self._cache[("book", id(book))] = book
            if book is not None and part_number in book.prices:
                found = Price(f"{book.id}:{part_number}", Decimal(book.prices[part_number]))
            else:
                found = self.products[part_number].price_on(day)
            self._cache[key] = found
        return found
