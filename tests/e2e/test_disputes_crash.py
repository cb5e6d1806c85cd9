"""Disputes as a separate process on the real Kafka and PostgreSQL: SIGKILL between the database
commit of a resolution and its offset commit, then a replay of every topic from offset 0, publish
one resolution event (so invoicing issues one credit note)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from cli.consumption import end_offsets, partitions_of, wait_consumed
from contracts import wrap
from contracts.disputes import OpenDisputeV1, ResolveDisputeV1
from shared.kafka_security import client_options
from tests.support.disputes import T0, issued
from tests.support.http import client
from tests.support.invoicing import opened
from tests.support.kafka import publish_envelopes, read_all
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra
CONSUMED = ("provisioning.events", "invoicing.events", "disputes.commands")


def _command(payload, key: str):
    return wrap(payload, key=key, producer="partner-system", occurred_at=T0)


async def _rewind(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit offset 0 on every partition of `topics` for `group` (its members stopped): the next
    member reads everything again, as after a reset or a lost offsets topic."""
    partitions = await partitions_of(bootstrap, topics)

    async def commit() -> bool:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(), group_id=group,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit({tp: 0 for tp in partitions})
            return True
        except KafkaError:  # the broker refuses while the stopped members' sessions are not over
            return False
        finally:
            await consumer.stop()
    await eventually(commit, timeout=90, interval=1, what="offsets rewound")


async def _resolutions(infra, namespace: str, expect: int = 3, timeout: float = 8) -> list[dict]:
    records = await read_all(infra.kafka, namespace + "disputes.events", expect, timeout=timeout)
    return [e for e in map(lambda r: json.loads(r.value), records) if e["type"] == "disputes.dispute.resolved"]


async def test_killed_after_commit_then_replayed_from_zero_resolves_once(services, db, namespace, tmp_path,
                                                                        infra):
    marker = tmp_path / "crashed"
    port = free_port()
    first = services("disputes", port, BILLING_CRASH_AFTER_COMMIT="disputes.dispute.resolve",
                     BILLING_CRASH_MARKER=str(marker))
    await publish_envelopes(infra.kafka, namespace + "provisioning.events", [opened("acme")])
    await publish_envelopes(infra.kafka, namespace + "invoicing.events", [issued("PLATFORM-000001", "acme", "1000.00")])
    await eventually(lambda: db.fetchval(f"SELECT count(*) FROM {namespace}disputes.invoices"), what="invoice learnt")
    open_ = _command(OpenDisputeV1(dispute_id="d1", invoice_number="PLATFORM-000001", amount="400.00",
                                   received_at=T0), "d1")
    resolve = _command(ResolveDisputeV1(dispute_id="d1", outcome="upheld", credited="250.00",
                                        resolved_at=T0 + timedelta(days=1)), "d1")
    await publish_envelopes(infra.kafka, namespace + "disputes.commands", [open_, resolve])

    # the resolution committed, then the process died by SIGKILL before committing the offset
    assert first.wait_exit(60) == -9
    assert marker.read_text() == str(resolve.event_id)
    row = await db.fetchrow(f"SELECT outcome, credited FROM {namespace}disputes.disputes WHERE dispute_id = 'd1'")
    assert (row["outcome"], str(row["credited"])) == ("upheld", "250.00")

    # same consumer group: the uncommitted command comes back and is skipped by the inbox
    second = services("disputes", port)
    await eventually(lambda: _has(second, "skipped duplicate event"), what="redelivery seen")
    second.stop()

    # every consumed topic replayed from offset 0, and the same resolution sent again in a new
    # envelope (a partner system retrying): refused as already resolved
    topics = [namespace + t for t in CONSUMED]
    await _rewind(infra.kafka, namespace + "disputes", topics)
    await publish_envelopes(infra.kafka, namespace + "disputes.commands", [
        _command(ResolveDisputeV1(dispute_id="d1", outcome="upheld", resolved_at=T0 + timedelta(days=2)), "d1")])
    third = services("disputes", port)
    await wait_consumed(infra.kafka, namespace + "disputes", await end_offsets(infra.kafka, topics), timeout=90,
                        what="the replay")
    assert "skipped duplicate event" in third.log()

    resolved = await _resolutions(infra, namespace)
    assert len({e["event_id"] for e in resolved}) == 1, resolved  # one event: one credit note downstream
    assert resolved[0]["payload"]["credited"] == "250.00"
    assert resolved[0]["causation_id"] == str(resolve.event_id)
    rejections = await read_all(infra.kafka, namespace + "platform.rejections", 1, timeout=20)
    assert [json.loads(r.value)["payload"]["reason"] for r in rejections] == ["already_resolved"]
    async with client(f"http://127.0.0.1:{port}") as http:
        shown = (await http.get("/v1/disputes/d1")).json()
    assert (shown["status"], shown["credited"], shown["resolved_at"]) == (
        "upheld", "250.00", (T0 + timedelta(days=1)).isoformat())


async def _has(proc, text: str) -> bool:
    return text in proc.log()
