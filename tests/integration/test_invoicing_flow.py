"""Invoicing on the real Kafka and PostgreSQL, in-process (a FrozenClock moves time): accounts and
rated charges in, one gapless-numbered invoice per account and month out, runs reconciled."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contracts import wrap
from contracts.envelope import Envelope
from contracts.registry import parse
from contracts.rating import AccountChargesRatedV1
from tests.support.invoicing import T0, _count, _run_status, charges, line, opened, summary
from tests.support.kafka import read_all
from tests.support.polling import eventually

pytestmark = pytest.mark.infra


async def test_one_invoice_per_account_and_month_numbered_gaplessly_and_reconciled(invoicing, db):
    s = invoicing.schema
    await invoicing.publish("provisioning.events", [opened("a1"), opened("a2"), opened("c1", parent="acme"),
                                                    opened("p1")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 4 FROM {s}.accounts"), what="accounts known")
    batch = [charges("run-1", "a1", ["10.00", "2.50"]), charges("run-1", "a2", ["100.00"]),
             charges("run-1", "c1", ["7.25"]), charges("run-1", "p1", ["5.00"], settlement="prepaid")]
    await invoicing.publish("rating.charges", batch)
    await invoicing.publish("rating.charges", batch)  # delivered twice
    await invoicing.publish("rating.charges", [charges("run-2", "a1", ["99.00"])])  # a re-run: nothing new
    await invoicing.publish("rating.charges", [summary("run-1", 3, {"USD": "119.75"})])
    run = await eventually(lambda: _run_status(invoicing, "run-1", "reconciled"), what="run reconciled")
    assert run["invoices"] == 3 and run["received_totals"] == {"USD": "119.75"}

    rows = await db.fetch(f"SELECT * FROM {s}.invoices ORDER BY invoice_number")
    # a1 and a2 are on different partitions: which gets number 1 depends on arrival
    assert [r["invoice_number"] for r in rows] == ["ACME-000001", "PLATFORM-000001", "PLATFORM-000002"]
    assert {r["account_id"]: r["total"] for r in rows} == {
        "c1": Decimal("7.25"), "a1": Decimal("12.50"), "a2": Decimal("100.00")}
    a1_number = next(r["invoice_number"] for r in rows if r["account_id"] == "a1")
    assert {(r["issue_date"].isoformat(), r["due_date"].isoformat()) for r in rows} == {("2026-05-01", "2026-05-31")}
    assert await _count(db, f"SELECT last_number FROM {s}.number_sequences WHERE issuer = 'platform'") == 2

    issued = await invoicing.events(3, {"invoicing.invoice.issued"})
    assert sorted(e["payload"]["invoice_number"] for e in issued) == ["ACME-000001", "PLATFORM-000001",
                                                                     "PLATFORM-000002"]
    a1 = next(e for e in issued if e["payload"]["account_id"] == "a1")
    assert a1["payload"]["total"] == "12.50" and len(a1["payload"]["lines"]) == 2 and a1["key"] == "a1"
    for event in issued:  # the hot path builds the payload by hand: it must still be the contract
        assert parse(Envelope.model_validate(event)).issue_date.isoformat() == "2026-05-01"

    shown = (await invoicing.http.get(f"/v1/invoices/{a1_number}")).json()
    assert shown["status"] == "issued" and shown["lines"][0]["amount"] == "10.00"
    listed = (await invoicing.http.get("/v1/accounts/a1/invoices")).json()
    assert [i["invoice_number"] for i in listed] == [a1_number]
    csv_text = (await invoicing.http.get(f"/v1/invoices/{a1_number}/lines.csv")).text
    assert csv_text.splitlines()[0].startswith("part_number,product_name")
    assert len(csv_text.splitlines()) == 3 and ",2.50," in csv_text
    missing = await invoicing.http.get("/v1/invoices/NOPE-1")
    assert missing.status_code == 404 and missing.json()["reason"] == "unknown_invoice"
    assert (await invoicing.http.get("/v1/accounts/zz/invoices")).json()["reason"] == "unknown_account"


async def test_mismatching_summary_is_marked(invoicing, db):
    await invoicing.publish("provisioning.events", [opened("m1")])
    await invoicing.publish("rating.charges", [charges("run-m", "m1", ["10.00"])])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {invoicing.schema}.invoices"), what="invoice")
    await invoicing.publish("rating.charges", [summary("run-m", 1, {"USD": "11.00"})])
    run = await eventually(lambda: _run_status(invoicing, "run-m", "mismatch"), what="mismatch")
    assert run["problems"] == ["USD total: expected 11.00, received 10.00"]


async def test_charges_before_their_account_wait_for_it(invoicing, db):
    await invoicing.publish("rating.charges", [charges("run-w", "late1", ["3.00"])])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {invoicing.schema}.pending_charges"),
                     what="charges parked")
    await invoicing.publish("provisioning.events", [opened("late1", parent="acme")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {invoicing.schema}.invoices "
                                        "WHERE invoice_number = 'ACME-000001'"), what="issued on arrival")
    assert await _count(db, f"SELECT count(*) FROM {invoicing.schema}.pending_charges") == 0


async def test_run_requested_over_http_goes_through_the_outbox(invoicing, db):
    created = await invoicing.http.post("/v1/runs", json={"month": "2026-05"})
    assert created.status_code == 202, created.text
    run = created.json()
    assert run["status"] == "requested" and run["account_ids"] == "all"
    records = await read_all(invoicing.infra.kafka, invoicing.ns + "rating.requests", 1, timeout=20)
    request = json.loads(records[0].value)
    assert request["type"] == "rating.run.request" and request["key"] == "2026-05"
    assert request["payload"]["run_id"] == run["run_id"] and request["payload"]["account_ids"] is None
    assert request["payload"]["requested_at"].startswith("2026-05-01T06:00:00")  # the service's clock
    replay = await invoicing.http.post("/v1/runs", json={"month": "2026-04", "account_ids": ["a1"],
                                                         "as_of": "2026-04-01T00:00:00Z"})
    assert replay.json()["account_ids"] == 1 and replay.json()["requested_at"] == "2026-04-01T00:00:00+00:00"
    bad = await invoicing.http.post("/v1/runs", json={"month": "2026-13"})
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_request"


async def test_a_run_as_of_the_future_only_for_preview_accounts(invoicing, db):
    """The service's clock says 2026-05-01T06:00Z: June's run cannot be billed yet for a real
    account, but may be for an account opened for previews (automatic_runs = false)."""
    await invoicing.publish("provisioning.events", [opened("real1"), opened("preview1", automatic_runs=False)])
    await eventually(lambda: _count(db, f"SELECT count(*) = 2 FROM {invoicing.schema}.accounts"), what="accounts")
    future = {"month": "2026-06", "as_of": "2026-06-01T00:00:00Z"}
    for body in (future, {**future, "account_ids": ["real1"]}, {**future, "account_ids": ["real1", "preview1"]}):
        refused = await invoicing.http.post("/v1/runs", json=body)
        assert refused.status_code == 422 and refused.json()["reason"] == "as_of_in_future", body
    assert await _count(db, f"SELECT count(*) FROM {invoicing.schema}.runs") == 0
    allowed = await invoicing.http.post("/v1/runs", json={**future, "account_ids": ["preview1"]})
    assert allowed.status_code == 202, allowed.text


async def test_lines_say_what_and_for_whom_and_group_by_customer(invoicing, db):
    await invoicing.publish("provisioning.events", [opened("r1")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {invoicing.schema}.accounts"), what="account")
    lines = [line("10.00").model_copy(update={"customer_id": "c-7", "product_name": "Call recording"}),
             line("2.50"), line("4.00").model_copy(update={"customer_id": "c-7"})]
    await invoicing.publish("rating.charges", [wrap(AccountChargesRatedV1(
        run_id="run-c", month="2026-05", account_id="r1", currency="USD", settlement="invoice",
        payment_terms_days=30, lines=lines, total=Decimal("16.50")), key="r1", producer="rating", occurred_at=T0)])
    await invoicing.publish("rating.charges", [summary("run-c", 1, {"USD": "16.50"})])
    await eventually(lambda: _run_status(invoicing, "run-c", "reconciled"), what="run reconciled")
    number = await db.fetchval(f"SELECT invoice_number FROM {invoicing.schema}.invoices WHERE account_id = 'r1'")

    issued = (await invoicing.events(1, {"invoicing.invoice.issued"}))[0]["payload"]["lines"]
    assert [(x["product_name"], x.get("customer_id")) for x in issued] == [
        ("Call recording", "c-7"), ("Feature", None), ("Feature", "c-7")]
    shown = (await invoicing.http.get(f"/v1/invoices/{number}")).json()
    assert "customers" not in shown and shown["lines"][0]["customer_id"] == "c-7"
    grouped = (await invoicing.http.get(f"/v1/invoices/{number}", params={"group_by": "customer"})).json()
    assert [(g["customer_id"], g["total"], len(g["lines"])) for g in grouped["customers"]] == [
        (None, "2.50", 1), ("c-7", "14.00", 2)]
    assert (await invoicing.http.get(f"/v1/invoices/{number}", params={"group_by": "x"})).status_code == 422
    rows = (await invoicing.http.get(f"/v1/invoices/{number}/lines.csv")).text.splitlines()
    assert rows[0].endswith(",customer_id") and rows[1].startswith("P001,Call recording,")
    assert rows[1].endswith(",c-7") and rows[2].endswith(",")
