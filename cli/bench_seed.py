"""The billing-run bench's accounts: their facts, streamed, and a faster way to store them than Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import asyncpg

from contracts import topics, wrap
from contracts.envelope import Contract, Envelope
from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, FeatureProvisionedV1, ProductV1
from contracts.usage import UsageRecordedV1
from services.invoicing import service as invoicing
from services.rating import service as rating
from shared import db
from shared.settings import Settings

START = datetime(2026, 10, 10, 9, 0, tzinfo=timezone.utc)   # features start mid-October
PRODUCTS = [
    ProductV1(part_number="XDM00001", name="Insights User", kind="recurring", unit_price=Decimal("12.00"), minimum_days=30),
    ProductV1(part_number="XDM00020", name="Wallboard", kind="recurring", unit_price=Decimal("150.00"), minimum_days=30),
    ProductV1(part_number="XDM00040", name="Call Recording", kind="recurring", unit_price=Decimal("9.99"), minimum_days=30),
    ProductV1(part_number="FAX-PAGE-OUT", name="Outbound fax page", kind="usage", unit_price=Decimal("0.05")),
]
EVENTS, USAGE = topics.PROVISIONING_EVENTS.name, topics.USAGE_RECORDS.name
BATCH = 5_000  # accounts per seeding transaction
# the columns of rating's UPSERT_ACCOUNT and ADD_SUBSCRIPTION, in their order (price_book, NULL
# without a price book, left to its default: COPY's binary format has no encoder for jsonb here)
ACCOUNT_COLUMNS = ["account_id", "parent_account_id", "time_zone", "mode", "currency", "payment_terms_days",
                   "opened_at"]
SUBSCRIPTION_COLUMNS = ["subscription_id", "account_id", "part_number", "quantity", "customer_id", "started_at",
                        "source_event_id", "kind", "full_brand_id"]


def facts(n: int, ns: str, first: int = 0) -> Iterator[tuple[str, str, Contract]]:
    """(registry topic, key, payload) of accounts `first` to `n - 1`, each with three subscriptions
    and one usage record, after the catalogue."""
    if first == 0:
        yield EVENTS, "catalog", CatalogPublishedV1(currency="USD", products=PRODUCTS, at=START)
    for a in range(first, n):
        aid = f"{ns}acct-{a}"
        yield EVENTS, aid, AccountOpenedV1(account_id=aid, time_zone=("UTC", "Europe/Berlin", "America/New_York")[a % 3],
                                           at=START)
        for k, part in enumerate(("XDM00001", "XDM00020", "XDM00040")):
            yield EVENTS, aid, FeatureProvisionedV1(account_id=aid, subscription_id=f"{aid}-s{k}", part_number=part,
                                                    quantity=1 + (a + k) % 3, at=START)
        yield USAGE, aid, UsageRecordedV1(record_id=f"{aid}-u1", account_id=aid, part_number="FAX-PAGE-OUT",
                                          quantity=Decimal(40), used_at=START, received_at=START)


def envelope(key: str, payload: Contract) -> Envelope:
    return wrap(payload, key=key, producer="bench", occurred_at=START)


async def seed_sql(database: str, ns: str, n: int) -> None:
    """Store what rating and invoicing store for the facts of `n` accounts, in the bench's schemas
    (migrated: the services started), `BATCH` accounts per transaction, both services side by side.

    Through the services' own use cases where those are set-based (the catalogue, usage records,
    invoicing's accounts), and COPY of the very rows where a use case inserts one row per
    statement (rating's accounts and subscriptions). At 1,000,000 accounts the Kafka path takes
    about half an hour: each fact is a message, a transaction and an inbox row. What differs from
    consuming them (tests/integration/test_bench_seed.py compares the two): no inbox rows, and
    each subscription's `source_event_id` is a fresh id instead of its event's."""
    pools = [await db.create_pool(database, ns + name, min_size=1, max_size=1)  # the services' codecs
             for name in ("rating", "invoicing")]
    try:
        async with pools[0].acquire() as rating_conn, pools[1].acquire() as invoicing_conn:
            for first in range(0, n, BATCH):
                # (envelope, payload) pairs; an envelope costs twice its payload: only where a use case reads it
                batch = [(envelope(key, p) if isinstance(p, (CatalogPublishedV1, UsageRecordedV1)) else None, p)
                         for _, key, p in facts(min(first + BATCH, n), ns, first)]
                await asyncio.gather(_in_transaction(rating_conn, _rating_batch, batch),
                                     _in_transaction(invoicing_conn, _invoicing_batch, batch))
            # as autovacuum would, before the run's plans are made
            await rating_conn.execute("ANALYZE accounts, products, subscriptions, usage_records")
            await invoicing_conn.execute("ANALYZE accounts, usage_records")
    finally:
        for pool in pools:
            await pool.close()


async def _in_transaction(conn: asyncpg.Connection, store_batch, batch) -> None:
    async with conn.transaction():
        await store_batch(conn, batch)


def _of(batch, kind) -> list[tuple[Envelope | None, Contract]]:
    return [(e, p) for e, p in batch if isinstance(p, kind)]


async def _rating_batch(conn: asyncpg.Connection, batch) -> None:
    for e, p in _of(batch, CatalogPublishedV1):
        await rating.record_catalog(conn, e, p)
    # the rows record_account and record_feature_provisioned insert one statement at a time
    # (their ON CONFLICT never fires in a fresh schema), copied: a tenth of the database's work
    await conn.copy_records_to_table("accounts", columns=ACCOUNT_COLUMNS, records=[
        (p.account_id, p.parent_account_id, p.time_zone, p.mode, p.currency, p.payment_terms_days, p.at)
        for _, p in _of(batch, AccountOpenedV1)])
    await conn.copy_records_to_table("subscriptions", columns=SUBSCRIPTION_COLUMNS, records=[
        (p.subscription_id, p.account_id, p.part_number, p.quantity, p.customer_id, p.at, uuid.uuid4(),
         "feature", None) for _, p in _of(batch, FeatureProvisionedV1)])
    await rating.record_usage(conn, _of(batch, UsageRecordedV1))


async def _invoicing_batch(conn: asyncpg.Connection, batch) -> None:
    # open_accounts reads only the payloads (and the settings only to issue charges waiting for
    # an account: none here)
    await invoicing.open_accounts(conn, Settings(service="invoicing"), _of(batch, AccountOpenedV1), START)
    await invoicing.record_usage(conn, _of(batch, UsageRecordedV1))

