"""Builders for rating's tests: instants, envelopes from the test producer, the seed catalogue."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal

from contracts import build_envelope, parse, wrap
from contracts.charges import expand
from contracts.envelope import Envelope
from contracts.provisioning import CatalogPublishedV1
from services.rating.domain import AccountRating
from services.rating.pricing import Account, Catalog, Product, Subscription, Tier, UsageRecord, billing_run
from tests.support.infra import ROOT

SCENARIOS = ROOT.parent / "shared" / "scenarios"


def at(text: str) -> datetime:
    """An aware instant from ISO text (`Z` accepted)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def env(payload, key: str, when: str = "2026-01-01T00:00:00Z") -> Envelope:
    """`payload` in an envelope from the test producer, occurring at `when`."""
    return wrap(payload, key=key, producer="test", occurred_at=at(when))


def each_account(envelopes: Iterable[Envelope]) -> list[Envelope]:
    """Rating's events as its consumers take them: each account of a batch of charges as its own
    envelope (`contracts.charges.accounts`), the others as they are, in order."""
    return [e for e, _ in expand([(e, parse(e)) for e in envelopes])]


def batch(*accounts: Envelope) -> Envelope:
    """Version-1 charges of several accounts (maybe changed by hand) in one version-2 event, as
    rating publishes a run's charges: keyed by the first account, at the first one's instant."""
    return build_envelope("rating.charges.rated", 2, {"items": [e.payload for e in accounts]},
                          key=accounts[0].key, producer="rating", occurred_at=accounts[0].occurred_at)


def seed_catalog(when: str = "2026-01-01T00:00:00Z") -> CatalogPublishedV1:
    """The USD catalogue of the shared scenario seed-000-example-1, published at `when`."""
    products = json.loads((SCENARIOS / "seed-000-example-1.json").read_text())["catalog"]["products"]
    return CatalogPublishedV1(currency="USD", products=products, at=at(when))


def sample_rating() -> AccountRating:
    """An invoice account's rating for 2026-04: two recurring lines (one for a customer) and tiered usage."""
    catalog = Catalog.of("USD", [
        Product("FEAT", "recurring", Decimal("12.00"), minimum_days=30, name="Feature"),
        Product("FAX", "usage", Decimal("0.04"), name="Fax pages", tiers=(Tier(Decimal(1000), Decimal("0.04")),
                                                        Tier(None, Decimal("0.02"))), tier_mode="graduated"),
    ])
    utc = timezone.utc
    subs = [Subscription("s1", "acme", "FEAT", datetime(2026, 3, 15, 9, tzinfo=utc), 3),
            Subscription("s2", "acme", "FEAT", datetime(2026, 3, 15, 9, tzinfo=utc), 1, customer="cust-1")]
    usage = [UsageRecord("u1", "FAX", Decimal(1500), datetime(2026, 3, 20, tzinfo=utc),
                         datetime(2026, 3, 20, tzinfo=utc))]
    result = billing_run((2026, 4), Account("acme", "Europe/Berlin"), catalog, subs, (), usage)
    return AccountRating("acme", "invoice", "USD", "Europe/Berlin", 30, result)


async def rating_schema(database_url: str, namespace: str):
    """Rating's schema of `namespace` migrated, with the USD catalogue of `seed_catalog`:
    (settings, a pool of up to 3 connections on it). The caller closes the pool."""
    from pathlib import Path

    from services.rating import service
    from shared import db as kit_db
    from shared.settings import Settings

    settings = Settings(service="rating", schema=f"{namespace}rating", topic_prefix=namespace)
    await kit_db.migrate_dsn(database_url, settings.db_schema, Path(service.__file__).parent / "migrations")
    pool = await kit_db.create_pool(database_url, settings.db_schema, 1, 3)
    async with pool.acquire() as conn:
        catalog = seed_catalog()
        await service.record_catalog(conn, env(catalog, "catalog"), catalog)
    return settings, pool
