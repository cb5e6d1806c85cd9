"""The billing-run bench's SQL seeding stores what rating's and invoicing's subscribers store for the
same facts (cli/bench_seed.py): every row of every table they write, except the ids that only
consuming gives (inbox rows, each subscription's source event id)."""

from __future__ import annotations

import pytest

from cli import bench_seed
from services.invoicing import handlers as invoicing_handlers
from services.invoicing import service as invoicing_service
from services.rating import handlers as rating_handlers
from shared import db as shared_db
from shared.db import migrate
from shared.settings import Settings
from tests.support.infra import ROOT

pytestmark = pytest.mark.infra

ACCOUNTS = 12  # more than one seeding batch below
TABLES = {  # table: its order and the columns only consuming can give
    "rating": {"accounts": ("account_id", ()), "products": ("currency, part_number", ()),
               "subscriptions": ("subscription_id", ("source_event_id",)),
               # stored_at: the instant each path stored the row (the ingestion bench's latency)
               "usage_records": ("record_id", ("stored_at",)), "pending_facts": ("event_id", ())},
    "invoicing": {"accounts": ("account_id", ()), "usage_records": ("record_id", ()),
                  "pending_charges": ("event_id", ())},
}


async def _consume(infra, ns: str, schemas: str) -> None:
    """The facts through the subscribers, in batches as a consumer would hand them over."""
    for service in TABLES:
        await shared_db.migrate_dsn(infra.database_url, schemas + service, ROOT / "services" / service / "migrations")
    facts = [(topic, bench_seed.envelope(key, p), p) for topic, key, p in bench_seed.facts(ACCOUNTS, ns)]
    events = [(e, p) for topic, e, p in facts if topic == bench_seed.EVENTS]
    usage = [(e, p) for topic, e, p in facts if topic == bench_seed.USAGE]
    rating = await shared_db.create_pool(infra.database_url, schemas + "rating", max_size=1)
    invoicing = await shared_db.create_pool(infra.database_url, schemas + "invoicing", max_size=1)
    try:
        async with rating.acquire() as conn, conn.transaction():
            for start in range(0, len(events), 7):
                await rating_handlers.on_provisioning_events(conn, events[start:start + 7])
            await rating_handlers.on_usage(conn, usage)
        async with invoicing.acquire() as conn, conn.transaction():
            opened = [(e, p) for e, p in events if type(p).__name__ == "AccountOpenedV1"]
            await invoicing_service.open_accounts(conn, Settings(service="invoicing"), opened, bench_seed.START)
            await invoicing_handlers.on_usage_records(conn, usage)
    finally:
        await rating.close()
        await invoicing.close()


async def _rows(db, schema: str, table: str) -> list[dict]:
    order, skip = TABLES[schema.rpartition("_")[2]][table]
    rows = await db.fetch(f"SELECT * FROM {schema}.{table} ORDER BY {order}")
    return [{k: v for k, v in r.items() if k not in skip} for r in rows]


async def test_sql_seeding_stores_what_the_subscribers_store(infra, namespace, db, monkeypatch):
    monkeypatch.setattr(bench_seed, "BATCH", 5)
    for service in TABLES:  # what the services' start-up does
        await migrate(db, namespace + service, ROOT / "services" / service / "migrations")
    await bench_seed.seed_sql(infra.database_url, namespace, ACCOUNTS)
    await _consume(infra, namespace, namespace + "k_")
    for service, tables in TABLES.items():
        for table in tables:
            seeded = await _rows(db, namespace + service, table)
            consumed = await _rows(db, f"{namespace}k_{service}", table)
            assert seeded == consumed, (service, table)
    assert len(await _rows(db, namespace + "rating", "subscriptions")) == 3 * ACCOUNTS
