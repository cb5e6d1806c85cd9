"""User packs: started blocks of users, counted at the metering point, billed in advance."""

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, Product, Subscription, UserCounts, billing_run, counts_known_at, pack_start,
    packs_for,
)

UTC = timezone.utc
CAT = Catalog.of("USD", [Product("PACK", "pack", D("2500.00"), pack_size=100_000, minimum_packs=1)])
ACCOUNT = Account("p", "UTC")


@pytest.mark.parametrize("count, packs", [
    (0, 1), (1, 1), (100_000, 1), (100_001, 2), (200_000, 2), (201_000, 3), (1_000_000, 10),
])
def test_packs_for(count, packs):
    assert packs_for(count, 100_000, 1) == packs


def test_minimum_packs_setting():
    assert packs_for(50_000, 100_000, 3) == 3


def test_count_at_an_instant_is_the_last_reported_at_or_before():
    counts = UserCounts([(datetime(2026, 3, 31, 20, tzinfo=UTC), 200_000),
                         (datetime(2026, 4, 1, 0, tzinfo=UTC), 250_000)])
    assert counts.at(datetime(2026, 3, 31, 19, tzinfo=UTC)) == 0
    assert counts.at(datetime(2026, 3, 31, 23, tzinfo=UTC)) == 200_000
    assert counts.at(datetime(2026, 4, 1, 0, tzinfo=UTC)) == 250_000  # reported at the point counts


def test_count_reported_at_the_metering_point_is_that_points_count():
    mp = datetime(2026, 4, 1, tzinfo=UTC)
    reports = [(datetime(2026, 3, 31, 20, tzinfo=UTC), 200_000), (mp, 201_000),
               (datetime(2026, 4, 1, 0, 1, tzinfo=UTC), 900_000)]
    known = counts_known_at(reports, mp, lambda r: r[0])
    sub = Subscription("packs", "p", "PACK", datetime(2026, 3, 1, tzinfo=UTC))
    lines = billing_run((2026, 4), ACCOUNT, CAT, [sub], user_counts=known).lines
    assert [(l.quantity, str(l.amount)) for l in lines] == [(1, "2500.00"), (3, "7500.00")]


def test_first_month_pro_rata_from_start_with_the_count_at_that_instant():
    sub = Subscription("packs", "p", "PACK", datetime(2026, 3, 10, 12, tzinfo=UTC))
    counts = [(datetime(2026, 3, 1, tzinfo=UTC), 150_000), (datetime(2026, 3, 31, 20, tzinfo=UTC), 200_000)]
    lines = billing_run((2026, 4), ACCOUNT, CAT, [sub], user_counts=counts).lines
    assert [(l.quantity, str(l.amount), l.rule) for l in lines] == [(2, "3548.39", "pack"), (2, "5000.00", "pack")]


def test_pack_start_with_a_full_brand():
    onboarded = datetime(2026, 3, 10, tzinfo=UTC)
    ready = datetime(2026, 4, 20, tzinfo=UTC)
    assert pack_start(onboarded, None, False) == onboarded
    assert pack_start(onboarded, None, True) is None
    assert pack_start(onboarded, ready, True) == ready
    assert pack_start(ready, onboarded, True) == ready


def test_packs_each_month_at_its_own_metering_point_over_runs():
    sub = Subscription("packs", "p", "PACK", datetime(2026, 3, 10, 12, tzinfo=UTC))
    counts = [(datetime(2026, 3, 31, 20, tzinfo=UTC), 200_000), (datetime(2026, 4, 30, 23, 59, tzinfo=UTC), 201_000)]
    ledger, out = EMPTY_LEDGER, []
    for month in [(2026, 4), (2026, 5)]:
        result = billing_run(month, ACCOUNT, CAT, [sub], user_counts=counts, ledger=ledger)
        ledger = ledger.apply(result.ledger_update)
        out.append([(l.quantity, str(l.amount)) for l in result.lines])
    assert out == [[(1, "1774.19"), (2, "5000.00")], [(3, "7500.00")]]
