"""The run's memoised line shapes change no figure: many accounts through one catalogue equal each alone."""

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, PriceBook, PriceVersion, Product, Subscription, Tier, UsageRecord, billing_run,
)

UTC = timezone.utc
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
MONTHS = [(2026, m) for m in range(1, 13)] + [(2027, 1), (2027, 2)]


def products() -> list[Product]:
    return [
        Product("F", "recurring", D("12.00"), name="Feature", minimum_days=30,
                versions=(PriceVersion("F@2026-06", date(2026, 6, 1), D("13.50")),)),
        Product("B", "recurring", D("249.95")),
        Product("R", "recurring", D("9.99"), termination="end_of_month", minimum_term_months=1),
        Product("P", "pack", D("100.00"), pack_size=10, minimum_packs=1),
        Product("U", "usage", D("0.05"), name="Usage"),
        Product("T", "usage", D("0"), tiers=(Tier(D(100), D("0.10")), Tier(None, D("0.07"))), tier_mode="graduated"),
    ]


def instant(rng: random.Random) -> datetime:
    """Instants on a few days and hours, so that accounts share their pieces' shapes."""
    return datetime(2026, rng.randint(1, 11), rng.choice([1, 2, 15, 28]), rng.choice([0, 9, 23]), tzinfo=UTC)


def account_case(rng: random.Random, n: int):
    aid = f"a{n}"
    subs = []
    for k in range(rng.randint(0, 4)):
        part = rng.choice("FFBRP")
        start = instant(rng)
        end = start + timedelta(days=rng.randint(0, 90)) if rng.random() < 0.3 and part != "R" else None
        term = start.date() + timedelta(days=rng.randint(20, 120)) if part == "R" and rng.random() < 0.5 else None
        subs.append(Subscription(f"{aid}-s{k}", aid, part, start, rng.choice([1, 1, 2, 3]), end, term,
                                 rng.choice([None, "c1"])))
    counts = [(instant(rng), rng.randint(0, 40)) for _ in range(rng.randint(0, 3))]
    usage = [UsageRecord(f"{aid}-u{k}", rng.choice("UT"), D(rng.choice([1, 40, 150])), instant(rng), instant(rng))
             for k in range(rng.randint(0, 3))]
    # books share an id with different prices: the memo must keep them apart
    book = rng.choice([None, None, PriceBook("pb", {"F": D("10.00")}), PriceBook("pb", {"F": D("11.00")})])
    return Account(aid, rng.choice(ZONES)), subs, counts, usage, book


def runs_of(case, catalog_for):
    """The account's runs over consecutive months, each on the ledger the one before left."""
    account, subs, counts, usage, book = case
    ledger, results = EMPTY_LEDGER, []
    for month in MONTHS[::2]:
        result = billing_run(month, account, catalog_for(), subs, counts, usage, ledger, book)
        ledger = ledger.apply(result.ledger_update)
        results.append((result, [line.explanation for line in result.lines]))
    return results


def test_a_shared_catalogue_rates_every_account_as_a_fresh_one_does():
    rng = random.Random(20261129)
    cases = [account_case(rng, n) for n in range(600)]
    shared = Catalog.of("USD", products())
    together = [runs_of(case, lambda: shared) for case in cases]
    alone = [runs_of(case, lambda: Catalog.of("USD", products())) for case in cases]
    assert together == alone
    assert len(shared.shapes) < sum(len(case[1]) for case in cases) * len(MONTHS[::2])  # shapes were shared
    assert sum(len(r.lines) for runs in together for r, _ in runs) > 2000
