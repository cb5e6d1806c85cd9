"""Invoicing as a process, killed by SIGKILL between the database commit and the offset commit of
a dispute's resolution, restarted, then replayed from offset 0 (and the resolution published
again in a new envelope): one credit note and one refund, never two."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from cli.consumption import partitions_of, wait_consumed
from contracts.topics import DISPUTES_EVENTS, PROVISIONING_EVENTS, RATING_CHARGES
from shared.kafka_security import client_options
from tests.support.invoicing import dispute_opened, dispute_resolved
from tests.support.http import client
from tests.support.invoicing import charges, opened
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra

RESOLVED = ("2026-05-08T15:00:00", "2026-05-13T15:00:00", "2026-05-12T09:00:00")


async def _rows(db, namespace: str, table: str) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {namespace}invoicing.{table}")


async def _rewind(bootstrap: str, group: str, topics: list[str]) -> bool | None:
    """Commit offset 0 for `group` on every partition of `topics`; None (try again) while the
    group still has a member (a stopped process's until its session times out)."""
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                **client_options())
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit({tp: 0 for tp in partitions})
        return True
    except KafkaError:
        return None
    finally:
        await consumer.stop()


async def test_resolution_after_sigkill_and_replay_from_zero_credits_once(services, db, namespace, tmp_path, infra):
    marker = tmp_path / "crashed"
    crash = {"BILLING_CRASH_AFTER_COMMIT": "disputes.dispute.resolved", "BILLING_CRASH_MARKER": str(marker),
             "BILLING_SCHEDULER_MS": "3600000"}
    invoicing = services("invoicing", free_port(), **crash)
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    await publish_envelopes(infra.kafka, namespace + PROVISIONING_EVENTS.name, [opened("acme", at=at)])
    await publish_envelopes(infra.kafka, namespace + RATING_CHARGES.name, [charges("run-1", "acme", ["3600.00"])])
    number = await eventually(lambda: db.fetchval(f"SELECT invoice_number FROM {namespace}invoicing.invoices"),
                              what="the invoice")
    async with client(invoicing.url) as http:
        paid = await http.post(f"/v1/invoices/{number}/payments",
                               json={"amount": "3600.00", "method": "card", "paid_at": "2026-05-05T10:00:00+00:00"})
        assert paid.status_code == 201 and paid.json()["surcharge"] == "108.00"
    topic = namespace + DISPUTES_EVENTS.name
    await publish_envelopes(infra.kafka, topic, [
        dispute_opened("d1", number, "acme", "600.00", RESOLVED[0], RESOLVED[1]),
        dispute_resolved("d1", number, "acme", "600.00", "600.00", *RESOLVED)])
    # the resolution's transaction committed, then the process died before its offset commit
    assert invoicing.wait_exit(60) == -9
    assert marker.exists()
    assert await _rows(db, namespace, "credit_notes") == 1 and await _rows(db, namespace, "refunds") == 1

    restarted = services("invoicing", free_port(), BILLING_SCHEDULER_MS="3600000")
    await eventually(lambda: _has(restarted, "skipped duplicate event"), what="the redelivery skipped")
    restarted.stop()
    # a replay from offset 0 of everything invoicing consumes, and the resolution once more in a
    # new envelope (as a producer replaying its outbox would send it)
    group = f"{namespace}invoicing"
    topics = [namespace + t.name for t in (PROVISIONING_EVENTS, RATING_CHARGES, DISPUTES_EVENTS)]
    await eventually(lambda: _rewind(infra.kafka, group, topics), timeout=90, interval=1, what="offsets at 0")
    await publish_envelopes(infra.kafka, topic, [dispute_resolved("d1", number, "acme", "600.00", "600.00", *RESOLVED)])
    services("invoicing", free_port(), BILLING_SCHEDULER_MS="3600000")
    ends = {tp: off for tp, off in (await _ends(infra.kafka, topics)).items()}
    await wait_consumed(infra.kafka, group, ends, 90, "the replay from offset 0")
    assert await _rows(db, namespace, "credit_notes") == 1 and await _rows(db, namespace, "refunds") == 1
    assert await db.fetchval(f"SELECT amount FROM {namespace}invoicing.refunds") == Decimal("492.00")
    row = await db.fetchrow(f"SELECT credited_total, refunded_total, disputed_open FROM {namespace}invoicing.invoices")
    assert (row["credited_total"], row["refunded_total"], row["disputed_open"]) == (600, 492, 0)


async def _has(proc, text: str) -> bool:
    return text in proc.log()


async def _ends(bootstrap: str, topics: list[str]) -> dict:
    partitions = await partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, **client_options())
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
