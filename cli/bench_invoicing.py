"""`billing bench invoicing --invoices N`: rated charges to issued and published invoices, the
invoicing service alone (in this process) on the real Kafka and PostgreSQL.

Set-up (not timed): N accounts opened (a quarter under seven partner issuers), then, with the
service stopped, one rated-charges event of three lines per account put on its topic. Timed: from
the service's start to every invoice in the database and every event out of the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import asyncpg
from aiokafka import AIOKafkaProducer

from cli.namespace import end_bench
from cli.processes import ROOT
from contracts import topics, wrap
from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1
from contracts.rating import AccountChargesRatedV1, ChargeLineV1
from services.rating import wire
from shared import apikeys
from shared.clock import FrozenClock
from shared.kafka_security import client_options
from shared.settings import DEFAULT_KAFKA, Settings, Tuning, database_url

OPENED_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 5, 1, 6, tzinfo=timezone.utc)
AMOUNTS = ("10.00", "2.50", "0.99")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--invoices", type=int, default=3_000, help="accounts, one invoice each (target case 100,000)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true", help="keep the namespace's schemas and topics")


def _opened(account: str, i: int) -> Envelope:
    parent = None if i % 4 else f"partner-{i % 7}"
    return wrap(AccountOpenedV1(account_id=account, parent_account_id=parent, at=OPENED_AT),
                key=account, producer="bench", occurred_at=OPENED_AT)


def _charges(account: str) -> Envelope:
    lines = [ChargeLineV1(part_number="P001", product_name="Feature", from_date="2026-05-01", to_date="2026-06-01",
                          quantity=Decimal(1), unit_price=Decimal(a), price_version="v1", amount=Decimal(a),
                          days=31, month_days=31, rule="recurring", explanation="May in advance") for a in AMOUNTS]
    return wrap(AccountChargesRatedV1(run_id="bench", month="2026-05", account_id=account, currency="USD",
                                      settlement="invoice", payment_terms_days=30, lines=lines,
                                      total=sum((Decimal(a) for a in AMOUNTS), Decimal("0.00"))),
                key=account, producer="rating", occurred_at=NOW)


async def _publish(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True,
                                linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, value=e.encode(), key=e.key.encode()) for e in envelopes])
    finally:
        await producer.stop()


async def _until(conn: asyncpg.Connection, sql: str, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not await conn.fetchval(sql):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _bench(args: argparse.Namespace) -> dict:
    from services.invoicing import app as invoicing_app

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()  # the admin role: it drops its namespace afterwards
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    keys = ROOT / "var" / "bench" / ns / "api-keys.json"
    apikeys.create(keys, "operator", None, "bench", NOW)
    settings = Settings(service="invoicing", database_url=database, kafka_bootstrap_servers=bootstrap,
                        topic_prefix=ns, schema=f"{ns}invoicing", relay_idle_ms=100, retry_backoff_ms=50,
                        tuning=Tuning.model_validate({"scheduler_ms": 3_600_000, "overdue_ms": 3_600_000}),
                        api_keys_file=str(keys))
    schema, n = settings.db_schema, args.invoices
    accounts = [f"acct-{i:06d}" for i in range(n)]
    conn = await asyncpg.connect(database)
    try:
        runtime, _ = invoicing_app.build(settings, FrozenClock(NOW))
        await runtime.start()
        try:
            await _publish(bootstrap, ns + topics.PROVISIONING_EVENTS.name,
                           [_opened(a, i) for i, a in enumerate(accounts)])
            await _until(conn, f"SELECT count(*) = {n} FROM {schema}.accounts", args.timeout, "accounts opened")
        finally:
            await runtime.stop()
        # as rating publishes a run's charges: many accounts an event, one event per partition
        parts = list(range(topics.RATING_CHARGES.partitions))
        await _publish(bootstrap, ns + topics.RATING_CHARGES.name,
                       wire.charges_batches([_charges(a).payload for a in accounts], parts, "rating", NOW, None))
        runtime, _ = invoicing_app.build(settings, FrozenClock(NOW))
        began = time.perf_counter()
        await runtime.start()
        try:
            await _until(conn, f"SELECT (SELECT count(*) FROM {schema}.invoices) = {n} "
                               f"AND NOT EXISTS (SELECT 1 FROM {schema}.outbox)", args.timeout,
                         "every invoice issued and published")
            seconds = time.perf_counter() - began
        finally:
            await runtime.stop()
        return {"bench": "invoicing", "invoices": n, "seconds": round(seconds, 2),
                "invoices_per_second": round(n / seconds)}
    finally:
        await conn.close()
        await end_bench(bootstrap, database, ns, keep=args.keep)


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(_bench(args))
    print(json.dumps(result))
    return 0
