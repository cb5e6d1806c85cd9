"""Observability on the real Kafka and PostgreSQL: a running service's /metrics after it consumed
messages (the kit's counters moved, per topic), its log lines all JSON, and a trace context
stored with an outbox row and published with its record."""

from __future__ import annotations

import json
import uuid

from datetime import datetime, timezone

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

from contracts import topics, wrap
from contracts.provisioning import FeatureRemovedV1
from contracts.registry import Topic
from shared import db as kit_db, outbox, tracing  # `db` is the fixture dropping the namespace
from shared.kafka import ensure_topics
from shared.outbox import OutboxRelay, make_producer
from tests.support.disputes import issued
from tests.support.invoicing import opened
from tests.support.kafka import publish, publish_envelopes, read_all
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra


def _value(text: str, name: str, **labels) -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_of_a_running_service_move_with_what_it_consumed(infra, namespace, services, db):
    ns = namespace
    await ensure_topics(infra.kafka, topics.ALL, ns, ["disputes"])
    port = free_port()
    proc = services("disputes", port, BILLING_LAG_SAMPLE_S="0.5")
    invoice = issued("PLATFORM-000001", "acme", "100.00")
    await publish_envelopes(infra.kafka, ns + "provisioning.events", [opened("acme")])
    await publish_envelopes(infra.kafka, ns + "invoicing.events", [invoice, invoice])  # one redelivered
    await publish(infra.kafka, ns + "disputes.commands", [("d3", f"poison-{uuid.uuid4()}".encode())])

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        async def scraped() -> str | None:
            text = (await http.get("/metrics")).text  # no API key: scrapers carry none
            done = (_value(text, "billing_messages_deduplicated_total", topic="invoicing.events") >= 1
                    and _value(text, "billing_messages_dead_lettered_total", topic="disputes.commands") >= 1
                    # provisioning.events has a consumer of its own: nothing orders it before the others
                    and _value(text, "billing_messages_applied_total", topic="provisioning.events") >= 1
                    and 'billing_consumer_lag{partition="0",topic="disputes.commands"}' in text)
            return text if done else None

        text = await eventually(scraped, timeout=60, what="the counters moved")
        assert _value(text, "billing_messages_consumed_total", topic="invoicing.events") == 2
        assert _value(text, "billing_messages_applied_total", topic="invoicing.events") == 1
        assert _value(text, "billing_messages_applied_total", topic="provisioning.events") == 1
        assert _value(text, "billing_handler_seconds_count", topic="invoicing.events") >= 1
        assert _value(text, "billing_consumer_lag", partition="0", topic="disputes.commands") == 0
        assert (await http.get("/health")).status_code == 200
        text = (await http.get("/metrics")).text
        assert _value(text, "billing_http_requests_total", method="GET", route="/health", status="200") == 1

    lines = [json.loads(line) for line in proc.log().splitlines()]  # every line, FastStream's too
    assert lines and all(line["service"] == "disputes" for line in lines)
    assert any(line["message"].startswith("dead letter from") for line in lines)


async def test_the_outbox_stores_the_trace_context_and_the_relay_publishes_it(infra, namespace, db, tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    schema, topic = f"{namespace}traced", f"{namespace}traced.test"
    await kit_db.migrate_dsn(infra.database_url, schema, migrations)
    pool = await kit_db.create_pool(infra.database_url, schema, 1, 3)
    await ensure_topics(infra.kafka, [Topic(name=topic, description="t", partitions=1)])
    at = datetime(2026, 4, 1, tzinfo=timezone.utc)
    envelope = wrap(FeatureRemovedV1(account_id="acme", subscription_id="s1", at=at), key="acme",
                    producer="test", occurred_at=at)
    published = REGISTRY.get_sample_value("billing_outbox_published_total", {"topic": topic}) or 0
    tracing.enable(TracerProvider())
    try:
        with tracing._tracer.start_as_current_span("request") as span:
            async with pool.acquire() as conn, conn.transaction():
                await outbox.add(conn, topic, [envelope])
    finally:
        tracing.disable()
    producer = make_producer(infra.kafka, "test-relay")
    await producer.start()
    relay = OutboxRelay(pool, producer, schema, batch=10, idle_ms=50)
    await relay.start()
    try:
        [record] = await read_all(infra.kafka, topic, expect=1)

        async def counted():  # the relay counts once its delete committed, after Kafka's ack
            return REGISTRY.get_sample_value("billing_outbox_published_total", {"topic": topic}) == published + 1
        await eventually(counted, timeout=10, what="the relay counted the row")
    finally:
        await relay.stop()
        await producer.stop()
        await pool.close()
    traceparent = dict(record.headers)["traceparent"].decode()
    assert traceparent.split("-")[1:3] == [format(span.get_span_context().trace_id, "032x"),
                                            format(span.get_span_context().span_id, "016x")]
    assert REGISTRY.get_sample_value("billing_outbox_depth") == 0
