"""Throughput of charges -> invoices -> InvoiceIssuedV1 on the real broker and database.

N accounts (BILLING_BENCH_INVOICES, default 3,000; the target case is 100,000) are opened, their
rated charges are put on the topic while the service is down, then the service is started and
timed until every invoice is in the database and every event has left the outbox."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.invoicing import T0, Invoicing, charges, opened
from shared.clock import FrozenClock
from tests.support.polling import eventually
from shared.kafka_security import client_options

pytestmark = pytest.mark.infra
N = int(os.environ.get("BILLING_BENCH_INVOICES", "3000"))


async def _publish_fast(bootstrap: str, topic: str, envelopes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(),
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=e.encode(), key=e.key.encode()) for e in envelopes]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_invoices_per_second(infra, namespace, db):
    clock = FrozenClock(T0)
    service = Invoicing(infra, namespace, clock)
    await service.runtime.start()
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    accounts = [f"acct-{i:06d}" for i in range(N)]
    await _publish_fast(infra.kafka, namespace + "provisioning.events",
                        [opened(a, parent=None if i % 4 else f"partner-{i % 7}", at=at)
                         for i, a in enumerate(accounts)])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = $1 FROM {service.schema}.accounts", N),
                     timeout=300, what="accounts opened")
    await service.http.aclose()
    await service.runtime.stop()

    await _publish_fast(infra.kafka, namespace + "rating.charges",
                        [charges("bench", a, ["10.00", "2.50", "0.99"]) for a in accounts])
    service = Invoicing(infra, namespace, clock)
    started = time.perf_counter()
    await service.runtime.start()
    try:
        await eventually(lambda: db.fetchval(
            f"SELECT (SELECT count(*) FROM {service.schema}.invoices) = $1 "
            f"AND NOT EXISTS (SELECT 1 FROM {service.schema}.outbox)", N), timeout=600, interval=0.5,
            what="all invoices issued and published")
        elapsed = time.perf_counter() - started
    finally:
        await service.http.aclose()
        await service.runtime.stop()
    rate = N / elapsed
    print(f"\n{N} invoices issued and published in {elapsed:.1f}s: {rate:.0f} invoices/s")
    numbers = await db.fetch(f"SELECT issuer, count(*) AS n, max(sequence) AS top FROM {service.schema}.invoices "
                             "GROUP BY issuer")
    assert all(r["n"] == r["top"] for r in numbers)  # gapless per issuer
    assert rate > 200  # a floor for CI; the measured rate is printed
