"""Disputes as its own process with its own Kafka principal (only the ACLs of its row in
shared/kafka_acl.py) and PostgreSQL role: it starts, learns invoices, publishes its events,
rejects a refused command and dead-letters a poison one, authorised for each."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from contracts import topics, wrap
from contracts.disputes import OpenDisputeV1
from shared.kafka import ensure_topics
from shared.kafka_acl import INTEGRATION, apply, revoke
from tests.support.disputes import T0, issued
from tests.support.http import client
from tests.support.invoicing import opened
from tests.support.acl import admin_config, principal_security, principal_sees
from tests.support.kafka import publish, publish_envelopes, read_all
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.infra


@pytest.fixture
async def granted(infra, namespace, db):
    principal_security(infra, "disputes")
    principals = ["disputes", INTEGRATION]
    await ensure_topics(infra.kafka, topics.ALL, namespace, ["disputes"])
    await asyncio.to_thread(apply, admin_config(infra), principals, namespace)
    await eventually(lambda: principal_sees(infra, "disputes", f"{namespace}disputes.events"), timeout=30,
                     what="disputes' ACLs in force")
    yield namespace
    await asyncio.to_thread(revoke, admin_config(infra), principals, namespace)


async def test_disputes_runs_with_its_own_principal_and_role(infra, granted, service_env, log_dir, db):
    security = principal_security(infra, "disputes")
    port = free_port()
    env = {**service_env, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "disputes",
           "KAFKA_SASL_PASSWORD": security.password, "KAFKA_SASL_PASSWORD_FILE": "",
           "DISPUTES_HTTP_PORT": str(port)}
    proc = ServiceProcess("disputes", env, log_dir).start()
    try:
        ns = granted
        await publish_envelopes(infra.kafka, ns + "provisioning.events", [opened("acme")])
        await publish_envelopes(infra.kafka, ns + "invoicing.events", [issued("PLATFORM-000001", "acme", "100.00")])
        await eventually(lambda: db.fetchval(f"SELECT count(*) FROM {ns}disputes.invoices"), what="invoice learnt")
        async with client(f"http://127.0.0.1:{port}") as http:
            created = await http.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": "PLATFORM-000001",
                                                           "amount": "40.00"})
            assert created.status_code == 201, created.text
        refused = wrap(OpenDisputeV1(dispute_id="d2", invoice_number="NOPE", amount="1.00", received_at=T0),
                       key="d2", producer="test", occurred_at=T0)
        await publish_envelopes(infra.kafka, ns + "disputes.commands", [refused])
        poison = f"poison-{uuid.uuid4()}".encode()
        await publish(infra.kafka, ns + "disputes.commands", [("d3", poison)])

        events = await read_all(infra.kafka, ns + "disputes.events", 1, timeout=30)
        assert [json.loads(r.value)["type"] for r in events] == ["disputes.dispute.opened"]
        rejections = await read_all(infra.kafka, ns + "platform.rejections", 1, timeout=30)
        assert json.loads(rejections[0].value)["payload"]["reason"] == "unknown_invoice"

        async def dead_lettered():
            records = await read_all(infra.kafka, f"{ns}disputes.dead-letter", expect=1, timeout=2)
            return any(r.value == poison for r in records)
        await eventually(dead_lettered, timeout=60, what="the poison command dead-lettered")
        assert "not authorized" not in proc.log().lower()
        owner = "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1"
        assert await db.fetchval(owner, f"{ns}disputes") == "disputes"
    finally:
        proc.stop()
