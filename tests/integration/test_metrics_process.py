"""A running service's /metrics after it consumed messages: the kit's counters moved, per topic,
and its log lines are JSON naming the service."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from contracts import topics
from shared.kafka import ensure_topics
from tests.support.disputes import issued
from tests.support.invoicing import opened
from tests.support.kafka import publish, publish_envelopes
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
