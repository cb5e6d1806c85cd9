"""Disputes and invoicing as processes on the real Kafka and PostgreSQL: a dispute opened and upheld
through the disputes API becomes invoicing's credit note and refund (section 7's worked example)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from contracts.topics import PROVISIONING_EVENTS, RATING_CHARGES
from tests.support.http import client
from tests.support.invoicing import charges, opened
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra


async def test_an_upheld_dispute_becomes_a_credit_note_and_a_refund(services, db, namespace, infra):
    invoicing = services("invoicing", free_port(), BILLING_SCHEDULER_MS="3600000")
    disputes = services("disputes", free_port())
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    await publish_envelopes(infra.kafka, namespace + PROVISIONING_EVENTS.name, [opened("acme", at=at)])
    await publish_envelopes(infra.kafka, namespace + RATING_CHARGES.name, [charges("run-1", "acme", ["3600.00"])])
    number = await eventually(lambda: db.fetchval(f"SELECT invoice_number FROM {namespace}invoicing.invoices"),
                              what="the invoice")
    async with client(invoicing.url) as inv, client(disputes.url) as dis:
        paid = await inv.post(f"/v1/invoices/{number}/payments",
                              json={"amount": "3600.00", "method": "card", "paid_at": "2026-05-05T10:00:00+00:00"})
        assert paid.json()["surcharge"] == "108.00"

        async def opened_dispute():  # once disputes learnt the invoice from invoicing.events
            r = await dis.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": number,
                                                     "amount": "600.00", "reason": "wrong rate"})
            return r if r.status_code == 201 else None
        await eventually(opened_dispute, what="the dispute opened")
        await eventually(lambda: db.fetchval(f"SELECT disputed_open FROM {namespace}invoicing.invoices"),
                         what="invoicing holding the disputed amount")
        resolved = await dis.post("/v1/disputes/d1/resolution", json={"outcome": "upheld"})
        assert resolved.status_code == 200, resolved.text
        await eventually(lambda: db.fetchval(f"SELECT count(*) FROM {namespace}invoicing.refunds"), what="the refund")
        shown = (await inv.get(f"/v1/invoices/{number}")).json()
    amounts = shown["amounts"]
    assert (amounts["credited"], amounts["paid"], amounts["surcharges"], amounts["outstanding"], amounts["status"]) \
        == ("600.00", "3108.00", "108.00", "0.00", "paid")
    assert [(c["credit_note_number"], c["amount"], c["dispute_id"]) for c in shown["credit_notes"]] == \
        [("PLATFORM-CN-000001", "600.00", "d1")]
    assert [(r["refund_id"], r["amount"]) for r in shown["refunds"]] == [("RF-d1", "492.00")]
