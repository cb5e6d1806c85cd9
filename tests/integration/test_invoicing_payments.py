"""Payments, card surcharges, overdue, statements, usage exports and the run scheduler, on the
real Kafka and PostgreSQL with the service in this process."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts import wrap
from contracts.usage import UsageRecordedV1
from services.invoicing import service
from tests.support.invoicing import T0, issue_invoices, opened
from tests.support.polling import eventually

pytestmark = pytest.mark.infra


async def test_card_surcharge_from_3000_and_refused_methods_change_nothing(invoicing, db):
    numbers = await issue_invoices(invoicing, db, ("big", ["3000.00"]), ("small", ["2999.99"]))
    http = invoicing.http
    paid_at = "2026-05-10T09:00:00+00:00"

    refused = await http.post(f"/v1/invoices/{numbers['big']}/payments",
                              json={"amount": "100.00", "method": "cash", "paid_at": paid_at})
    assert refused.status_code == 422 and refused.json()["reason"] == "payment_method_not_allowed"
    assert await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.payments") == 0
    assert (await http.get(f"/v1/invoices/{numbers['big']}")).json()["paid_total"] == "0.00"  # in cents, as every amount

    big = await http.post(f"/v1/invoices/{numbers['big']}/payments",
                          json={"amount": "1000.01", "method": "card", "paid_at": paid_at})
    assert big.status_code == 201, big.text
    assert big.json()["surcharge"] == "30.00" and big.json()["invoice_status"] == "issued"  # 30.0003 -> 30.00
    rest = await http.post(f"/v1/invoices/{numbers['big']}/payments",
                           json={"amount": "1999.99", "method": "bank_transfer", "paid_at": paid_at,
                                 "payment_id": "bt-1"})
    assert rest.json()["surcharge"] == "0.00" and rest.json()["invoice_status"] == "paid"
    again = await http.post(f"/v1/invoices/{numbers['big']}/payments",
                            json={"amount": "1999.99", "method": "bank_transfer", "paid_at": paid_at,
                                  "payment_id": "bt-1"})
    assert again.status_code == 201 and again.json()["payment_id"] == "bt-1"
    shown = (await http.get(f"/v1/invoices/{numbers['big']}")).json()
    assert shown["status"] == "paid" and shown["paid_total"] == "3000.00"
    assert shown["surcharge_total"] == "30.00" and shown["outstanding"] == "30.00"
    assert len(shown["payments"]) == 2 and len(shown["surcharges"]) == 1

    small = await http.post(f"/v1/invoices/{numbers['small']}/payments",
                            json={"amount": "2999.99", "method": "card", "paid_at": paid_at})
    assert small.json()["surcharge"] == "0.00" and small.json()["invoice_status"] == "paid"
    too_much = await http.post(f"/v1/invoices/{numbers['small']}/payments",
                               json={"amount": "0.01", "method": "card", "paid_at": paid_at})
    assert too_much.status_code == 422 and too_much.json()["reason"] == "amount_exceeds_outstanding"
    unknown = await http.post("/v1/invoices/PLATFORM-999999/payments", json={"amount": "1", "method": "card"})
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_invoice"

    events = await invoicing.events(13)  # with an amounts_changed per recorded payment
    types = [e["type"] for e in events if e["type"] != "invoicing.invoice.issued"]
    assert types.count("invoicing.invoice.amounts_changed") == 3
    assert types.count("invoicing.surcharge.charged") == 1
    assert types.count("invoicing.invoice.paid") == 2
    assert types.count("invoicing.payment.recorded") == 3
    assert types.count("invoicing.payment.rejected") == 2
    surcharge = next(e for e in events if e["type"] == "invoicing.surcharge.charged")["payload"]
    assert surcharge["amount"] == "30.00" and surcharge["base_amount"] == "1000.01"


async def test_overdue_once_after_the_due_date(invoicing, db):
    numbers = await issue_invoices(invoicing, db, ("late", ["50.00"]), ("ontime", ["20.00"]))
    await invoicing.http.post(f"/v1/invoices/{numbers['ontime']}/payments",
                              json={"amount": "20.00", "method": "bank_transfer"})
    async with invoicing.runtime.pool.acquire() as conn:
        on_due_date = datetime(2026, 5, 31, 23, 59, tzinfo=timezone.utc)
        assert await service.mark_overdue(conn, invoicing.settings, on_due_date) == 0
        after = datetime(2026, 6, 1, 0, 1, tzinfo=timezone.utc)
        assert await service.mark_overdue(conn, invoicing.settings, after) == 1
        assert await service.mark_overdue(conn, invoicing.settings, after + timedelta(days=3)) == 0
    shown = (await invoicing.http.get(f"/v1/invoices/{numbers['late']}")).json()
    assert shown["status"] == "overdue"
    overdue = await invoicing.events(6, {"invoicing.invoice.overdue"})
    assert [e["payload"]["invoice_number"] for e in overdue] == [numbers["late"]]
    assert overdue[0]["payload"]["outstanding"] == "50.00"
    # paying an overdue invoice settles it
    paid = await invoicing.http.post(f"/v1/invoices/{numbers['late']}/payments",
                                     json={"amount": "50.00", "method": "card"})
    assert paid.json()["invoice_status"] == "paid"


async def test_statement_balance_forward_charges_payments_closing(invoicing, db):
    await issue_invoices(invoicing, db, ("st", ["4000.00"]), month="2026-04", run="run-apr")
    numbers = await issue_invoices(invoicing, db, ("st", ["100.00"]), month="2026-05", run="run-may")
    april = (await db.fetchval(f"SELECT invoice_number FROM {invoicing.schema}.invoices WHERE month = '2026-04'"))
    http = invoicing.http
    await http.post(f"/v1/invoices/{april}/payments",
                    json={"amount": "1000.00", "method": "card", "paid_at": "2026-04-20T10:00:00+00:00"})
    await http.post(f"/v1/invoices/{april}/payments",
                    json={"amount": "3000.00", "method": "bank_transfer", "paid_at": "2026-05-05T10:00:00+00:00"})
    await http.post(f"/v1/invoices/{april}/payments",
                    json={"amount": "10.00", "method": "card", "paid_at": "2026-05-06T10:00:00+00:00"})
    april_statement = (await http.get("/v1/accounts/st/statements/2026-04")).json()
    assert april_statement["balance_forward"] == "0.00"
    assert april_statement["new_charges"] == "4030.00"  # invoice + 3% of 1000.00 by card
    assert april_statement["payments"] == "1000.00" and april_statement["closing_balance"] == "3030.00"
    may = (await http.get("/v1/accounts/st/statements/2026-05")).json()
    assert may["balance_forward"] == "3030.00"
    assert may["new_charges"] == "100.30"  # May invoice 100.00 + 0.30 surcharge on the 10.00 by card
    assert may["payments"] == "3010.00" and may["credit_notes"] == "0.00"
    assert may["closing_balance"] == "120.30"
    assert [c["ref"] for c in may["charges"]][0] == numbers["st"]
    bad = await http.get("/v1/accounts/st/statements/2026-5")
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_request"
    assert (await http.get("/v1/accounts/nobody/statements/2026-05")).status_code == 404


async def test_usage_csv_half_open_in_the_account_zone(invoicing, db):
    await invoicing.publish("provisioning.events", [opened("u1", tz="Europe/Berlin")])

    def record(rid: str, at: datetime) -> object:
        return wrap(UsageRecordedV1(record_id=rid, account_id="u1", part_number="FAX-IN", quantity=Decimal(3),
                                    used_at=at), key="u1", producer="platform", occurred_at=at)
    records = [record("r1", datetime(2026, 4, 30, 22, 30, tzinfo=timezone.utc)),  # May 1 00:30 Berlin
               record("r2", datetime(2026, 5, 15, 12, tzinfo=timezone.utc)),
               record("r3", datetime(2026, 5, 31, 22, 0, tzinfo=timezone.utc))]  # June 1 00:00 Berlin
    await invoicing.publish("usage.records", records + records[:1])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 3 FROM {invoicing.schema}.usage_records"),
                     what="usage copied")
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 1 FROM {invoicing.schema}.accounts"), what="acct")
    text = (await invoicing.http.get("/v1/accounts/u1/usage.csv", params={"from": "2026-05-01",
                                                                         "to": "2026-06-01"})).text
    rows = text.splitlines()
    assert rows[0] == "record_id,part_number,quantity,used_at,received_at"
    assert [r.split(",")[0] for r in rows[1:]] == ["r1", "r2"]
    bad = await invoicing.http.get("/v1/accounts/u1/usage.csv", params={"from": "2026-06-01", "to": "2026-05-01"})
    assert bad.status_code == 422 and bad.json()["reason"] == "invalid_period"


async def test_scheduler_requests_each_account_once_per_month_at_its_metering_point(invoicing, db):
    opened_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    await invoicing.publish("provisioning.events", [opened("utc", at=opened_at),
                                                    opened("ny", tz="America/New_York", at=opened_at),
                                                    opened("new", at=datetime(2026, 5, 1, 3, tzinfo=timezone.utc)),
                                                    opened("manual", at=opened_at, automatic_runs=False)])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 4 FROM {invoicing.schema}.accounts"), what="accts")
    async with invoicing.runtime.pool.acquire() as conn:
        s = invoicing.settings
        # May 1 02:00 UTC: the UTC account's May metering point passed; New York is still in April,
        # whose run was never requested for it; 'new' opened after May's metering point
        first = await service.request_due_runs(conn, s, datetime(2026, 5, 1, 2, tzinfo=timezone.utc))
        again = await service.request_due_runs(conn, s, datetime(2026, 5, 1, 3, tzinfo=timezone.utc))
        later = await service.request_due_runs(conn, s, datetime(2026, 5, 1, 5, tzinfo=timezone.utc))
    runs = {r["run_id"]: r for r in await db.fetch(f"SELECT * FROM {invoicing.schema}.runs")}
    assert len(first) == 2 and again == [] and len(later) == 1
    by_month = sorted((runs[r]["month"], runs[r]["account_ids"]) for r in first + later)
    assert by_month == [("2026-04", ["ny"]), ("2026-05", ["ny"]), ("2026-05", ["utc"])]
    assert runs[first[0]]["requested_by"] == "scheduler"



async def test_scheduler_pages_the_accounts_and_requests_each_once(invoicing, db, monkeypatch):
    """A tick reads the candidate accounts a page at a time (keyset): here pages of 2."""
    monkeypatch.setattr(service, "RUN_REQUEST_CHUNK", 2)
    opened_at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    await invoicing.publish("provisioning.events", [opened(f"p{i}", at=opened_at) for i in range(5)])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 5 FROM {invoicing.schema}.accounts"), what="accts")
    async with invoicing.runtime.pool.acquire() as conn:
        first = await service.request_due_runs(conn, invoicing.settings, datetime(2026, 5, 1, 2, tzinfo=timezone.utc))
        again = await service.request_due_runs(conn, invoicing.settings, datetime(2026, 5, 1, 3, tzinfo=timezone.utc))
    runs = await db.fetch(f"SELECT month, account_ids FROM {invoicing.schema}.runs WHERE run_id = ANY($1)", first)
    assert again == [] and sorted(len(r["account_ids"]) for r in runs) == [1, 2, 2]
    assert {r["month"] for r in runs} == {"2026-05"}
    assert sorted(a for r in runs for a in r["account_ids"]) == [f"p{i}" for i in range(5)]

async def test_background_task_marks_overdue_on_the_injected_clock(infra, namespace, db):
    from shared.clock import FrozenClock
    from tests.support.invoicing import Invoicing

    clock = FrozenClock(T0)
    svc = Invoicing(infra, namespace, clock, overdue_ms=200)
    await svc.runtime.start()
    try:
        numbers = await issue_invoices(svc, db, ("bg", ["10.00"]))
        clock.set(datetime(2026, 6, 2, tzinfo=timezone.utc))
        await eventually(lambda: db.fetchval(f"SELECT status = 'overdue' FROM {svc.schema}.invoices "
                                             "WHERE invoice_number = $1", numbers["bg"]), what="overdue")
    finally:
        await svc.http.aclose()
        await svc.runtime.stop()
