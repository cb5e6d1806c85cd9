"""Usage: per unit, graduated and volume tiers, duplicates, late usage continuing the month's tiers."""

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, Price, PriceBook, Product, Tier, UsageRecord, billing_run, price_units,
)

UTC = timezone.utc
GRAD = Price("g", D("0.04"), (Tier(D(1000), D("0.04")), Tier(None, D("0.02"))), "graduated")
VOL = Price("v", D("0.010"), (Tier(D(10000), D("0.010")), Tier(None, D("0.008"))), "volume")
FLAT = Price("f", D("0.05"))
CAT = Catalog.of("USD", [
    Product("OUT", "usage", D("0.05")),
    Product("IN", "usage", D("0.04"), tiers=GRAD.tiers, tier_mode="graduated"),
    Product("MIN", "usage", D("0.010"), tiers=VOL.tiers, tier_mode="volume"),
])
ACCOUNT = Account("acme", "UTC")


@pytest.mark.parametrize("price, already, units, amount", [
    (FLAT, 0, 10, "0.50"),
    (GRAD, 0, 1000, "40.00"),        # up_to is inclusive: unit 1000 is in the first tier
    (GRAD, 0, 1001, "40.02"),
    (GRAD, 0, 1500, "50.00"),
    (GRAD, 900, 200, "4.00 + 2.00"),  # late units continue the tiers: 100 at 0.04, 100 at 0.02
    (GRAD, 1000, 10, "0.20"),
    (VOL, 0, 10000, "100.00"),       # 10,000 is still the first tier
    (VOL, 0, 10001, "80.008"),
    (VOL, 9000, 2000, "16.00"),      # new total 11,000: new units at 0.008, old ones not re-priced
    (VOL, 0, 5000, "50.00"),
])
def test_price_units(price, already, units, amount):
    expected = sum(D(part) for part in amount.split(" + "))
    assert price_units(price, D(already), D(units))[0] == expected


def rec(id, part, qty, used, arrived=None):
    return UsageRecord(id, part, D(qty), used, arrived or used)


def at(m, d, h=12):
    return datetime(2026, m, d, h, tzinfo=UTC)


def test_usage_in_arrears_one_line_per_product_and_month():
    usage = [rec("a", "OUT", 10, at(4, 2)), rec("b", "OUT", 5, at(4, 20)), rec("c", "IN", 1500, at(4, 3)),
             rec("d", "OUT", 7, at(5, 2))]  # May usage waits for the June run
    lines = billing_run((2026, 5), ACCOUNT, CAT, [], usage=usage).lines
    assert [(l.part_number, str(l.quantity), str(l.amount), l.rule, str(l.from_date), str(l.to_date))
            for l in lines] == [("IN", "1500", "50.00", "usage", "2026-04-01", "2026-05-01"),
                                ("OUT", "15", "0.75", "usage", "2026-04-01", "2026-05-01")]


def test_duplicate_ids_are_rated_once_within_and_across_runs():
    usage = [rec("a", "OUT", 10, at(4, 2)), rec("a", "OUT", 10, at(4, 2), at(4, 3))]
    first = billing_run((2026, 5), ACCOUNT, CAT, [], usage=usage)
    assert [str(l.amount) for l in first.lines] == ["0.50"]
    ledger = EMPTY_LEDGER.apply(first.ledger_update)
    again = usage + [rec("a", "OUT", 10, at(4, 2), at(5, 10))]
    assert billing_run((2026, 6), ACCOUNT, CAT, [], usage=again, ledger=ledger).lines == ()


def test_late_usage_has_its_own_line_and_continues_the_tiers():
    on_time = [rec("a", "IN", 900, at(4, 2)), rec("v1", "MIN", 9000, at(4, 2))]
    may = billing_run((2026, 5), ACCOUNT, CAT, [], usage=on_time)
    assert [str(l.amount) for l in may.lines] == ["36.00", "90.00"]
    ledger = EMPTY_LEDGER.apply(may.ledger_update)
    late = on_time + [rec("b", "IN", 200, at(4, 29), at(5, 1, 0)), rec("v2", "MIN", 2000, at(4, 30), at(5, 3))]
    june = billing_run((2026, 6), ACCOUNT, CAT, [], usage=late, ledger=ledger)
    assert [(l.part_number, str(l.quantity), str(l.amount), l.late, l.rule) for l in june.lines] == [
        ("IN", "200", "6.00", True, "usage_late"), ("MIN", "2000", "16.00", True, "usage_late")]


def test_usage_arriving_after_the_point_is_unknown_to_the_run():
    usage = [rec("a", "OUT", 10, at(4, 2), at(5, 1, 0))]
    assert billing_run((2026, 5), ACCOUNT, CAT, [], usage=usage).lines == ()


def test_usage_price_book_is_a_flat_price():
    book = PriceBook("bk", {"IN": D("0.01")})
    lines = billing_run((2026, 5), ACCOUNT, CAT, [], usage=[rec("a", "IN", 1500, at(4, 2))], price_book=book).lines
    assert [(str(l.amount), l.price_version) for l in lines] == [("15.00", "bk:IN")]
