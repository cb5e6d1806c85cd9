"""Invoicing reads a run's charges in batches (`rating.charges.rated` v2, in process on the real
Kafka and PostgreSQL): each account of a batch is its own event (its id derived from the batch's),
one failing account is quarantined alone while the others are invoiced, an account not known yet
waits alone, and a batch delivered twice issues nothing twice."""

from __future__ import annotations

from uuid import uuid5

import pytest

from contracts.envelope import Envelope
from services.invoicing import domain
from tests.support.invoicing import _count, charges, opened, summary
from tests.support.polling import eventually
from tests.support.rating import batch

pytestmark = pytest.mark.infra


async def test_a_batch_is_invoiced_account_by_account_and_once(invoicing, db, monkeypatch):
    s = invoicing.schema
    real_assemble = domain.assemble_invoice

    def assemble(account, *args, **kwargs):
        if account == "boom":
            raise RuntimeError("unforeseen failure for boom")
        return real_assemble(account, *args, **kwargs)
    monkeypatch.setattr(domain, "assemble_invoice", assemble)
    await invoicing.publish("provisioning.events", [opened(a) for a in ("b1", "b2", "boom")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 3 FROM {s}.accounts"), what="accounts known")

    rated = batch(charges("run-b", "b1", ["10.00"]), charges("run-b", "boom", ["7.00"]),
                  charges("run-b", "later", ["3.00"]), charges("run-b", "b2", ["20.00", "5.00"]))
    own = {a: uuid5(rated.event_id, a) for a in ("b1", "b2", "boom", "later")}
    await invoicing.publish("rating.charges", [rated, rated])  # delivered twice
    await invoicing.publish("rating.charges", [summary("run-b", 4, {"USD": "45.00"})])

    async def settled():
        return (await _count(db, f"SELECT count(*) = 2 FROM {s}.invoices")
                and await _count(db, f"SELECT count(*) = 1 FROM {s}.quarantined_charges")
                and await _count(db, f"SELECT count(*) = 1 FROM {s}.pending_charges"))
    await eventually(settled, what="invoices issued, boom quarantined, later parked")
    invoices = {r["account_id"]: r for r in await db.fetch(f"SELECT * FROM {s}.invoices")}
    assert {a: r["source_event_id"] for a, r in invoices.items()} == {"b1": own["b1"], "b2": own["b2"]}
    assert str(invoices["b2"]["total"]) == "25.00"
    held = await db.fetchrow(f"SELECT * FROM {s}.quarantined_charges")
    assert held["account_id"] == "boom" and "unforeseen" in held["error"]
    assert Envelope.decode(held["envelope"]).event_id == own["boom"]
    assert await db.fetchval(f"SELECT event_id FROM {s}.pending_charges") == own["later"]
    # the inbox holds the batch once, not a row per account
    assert await db.fetchval(f"SELECT count(*) FROM {s}.inbox WHERE event_type = 'rating.charges.rated'") == 1

    # delivered again later (a replay): dropped by the inbox; the next event on its partition is read
    await invoicing.publish("rating.charges", [rated, charges("run-c", "b1", ["1.00"], month="2026-06")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {s}.invoices WHERE month = '2026-06'"),
                     what="the event behind the replay")
    assert await _count(db, f"SELECT count(*) FROM {s}.invoices WHERE month = '2026-05'") == 2
    assert await _count(db, f"SELECT count(*) FROM {s}.quarantined_charges") == 1

    # the account opened: its parked charge is invoiced from its own envelope
    await invoicing.publish("provisioning.events", [opened("later")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 4 FROM {s}.invoices"), what="later invoiced")
    assert await db.fetchval(f"SELECT source_event_id FROM {s}.invoices WHERE account_id = 'later'") == own["later"]
    # the fix: boom re-invoiced from its quarantined envelope
    monkeypatch.setattr(domain, "assemble_invoice", real_assemble)
    fixed = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": "boom", "month": "2026-05"})
    assert fixed.status_code == 200 and fixed.json()["results"][0]["invoice"], fixed.text

    # each invoice announced once, caused by its account's own event
    issued = await invoicing.events(5, {"invoicing.invoice.issued"})
    may = [(e["payload"]["account_id"], e["causation_id"]) for e in issued if e["payload"]["month"] == "2026-05"]
    assert sorted(may) == sorted((a, str(i)) for a, i in own.items())
    assert await _count(db, f"SELECT count(*) FROM {s}.invoices") == 5
    assert await _count(db, f"SELECT count(*) FROM {s}.dead_letters") == 0
