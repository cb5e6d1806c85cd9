"""Invoicing after the invoice, on the real Kafka and PostgreSQL with the service in this process:
disputes held and resolved from disputes.events (credit notes, refunds, each once however often
redelivered), section 7 amounts, overdue net of open disputes, statements (JSON and CSV), refund
payouts and overdue marks, surcharge settings per issuer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.invoicing import credits, service
from tests.support.http import asgi_client
from tests.support.invoicing import dispute_opened, dispute_resolved, issue_invoices
from tests.support.polling import eventually

pytestmark = pytest.mark.infra

UTC = timezone.utc


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _count(db, invoicing, table: str) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.{table}")


async def test_section_7_worked_example_credit_note_refund_statement(invoicing, db, api_keys):
    number = (await issue_invoices(invoicing, db, ("acme", ["3600.00"])))["acme"]
    http = invoicing.http
    paid = await http.post(f"/v1/invoices/{number}/payments",
                           json={"amount": "3600.00", "method": "card", "paid_at": "2026-05-05T10:00:00+00:00"})
    assert paid.json()["surcharge"] == "108.00"
    opened = dispute_opened("d1", number, "acme", "600.00", "2026-05-08T15:00:00", "2026-05-13T15:00:00")
    resolved = dispute_resolved("d1", number, "acme", "600.00", "600.00", "2026-05-08T15:00:00",
                                "2026-05-13T15:00:00", "2026-05-12T09:00:00")
    await invoicing.publish("disputes.events", [opened, resolved])
    await eventually(lambda: _count(db, invoicing, "refunds"), what="the refund")
    # a redelivery (same events) and a replay (the same resolution in a new envelope) issue nothing
    again = dispute_resolved("d1", number, "acme", "600.00", "600.00", "2026-05-08T15:00:00",
                             "2026-05-13T15:00:00", "2026-05-12T09:00:00")
    await invoicing.publish("disputes.events", [opened, resolved, again])
    invoicing.clock.set(datetime(2026, 5, 12, 10, tzinfo=UTC))
    shown = (await http.get(f"/v1/invoices/{number}")).json()
    assert shown["amounts"] == {"total": "3600.00", "credited": "600.00", "paid": "3108.00", "due": "3000.00",
                                "surcharges": "108.00", "outstanding": "0.00", "disputed_open": "0.00",
                                "overdue": "0.00", "status": "paid"}
    assert [c["credit_note_number"] for c in shown["credit_notes"]] == ["PLATFORM-CN-000001"]
    assert shown["credit_notes"][0]["amount"] == "600.00" and shown["credit_notes"][0]["dispute_id"] == "d1"
    [refund] = shown["refunds"]
    assert refund["amount"] == "492.00" and refund["due_at"] == "2026-05-13T09:00:00+00:00"
    assert refund["overdue"] is False
    st = (await http.get("/v1/accounts/acme/statements/2026-05")).json()
    assert (st["balance_forward"], st["new_charges"], st["payments"], st["credit_notes"], st["refunds"],
            st["closing_balance"]) == ("0.00", "3708.00", "3600.00", "600.00", "492.00", "0.00")
    csv = (await http.get("/v1/accounts/acme/statements/2026-05.csv")).text.splitlines()
    assert csv[0] == "date,kind,ref,invoice_number,dispute_id,amount,balance"
    assert csv[-1].startswith("2026-05-12,closing_balance,") and csv[-1].endswith(",0.00,0.00")
    # the refund is late once its 24 hours passed, marked once; paying it out afterwards says late
    async with invoicing.runtime.pool.acquire() as conn:
        assert await credits.mark_refunds_overdue(conn, invoicing.settings, _at("2026-05-13T09:00:00")) == 0
        assert await credits.mark_refunds_overdue(conn, invoicing.settings, _at("2026-05-13T09:00:01")) == 1
        assert await credits.mark_refunds_overdue(conn, invoicing.settings, _at("2026-05-14T09:00:00")) == 0
    payout = await http.post(f"/v1/refunds/{refund['refund_id']}/payout",
                             json={"paid_out_at": "2026-05-13T10:00:00+00:00", "reference": "bank-1"})
    assert payout.status_code == 200, payout.text
    assert payout.json()["paid_out_at"] == "2026-05-13T10:00:00+00:00" and payout.json()["overdue"] is True
    twice = await http.post(f"/v1/refunds/{refund['refund_id']}/payout",
                            json={"paid_out_at": "2026-05-14T10:00:00+00:00"})
    assert twice.status_code == 409 and twice.json()["reason"] == "already_paid_out"
    assert (await http.post("/v1/refunds/RF-nope/payout", json={})).json()["reason"] == "unknown_refund"
    assert await _count(db, invoicing, "credit_notes") == 1 and await _count(db, invoicing, "refunds") == 1
    events = await invoicing.events(20)
    types = [e["type"] for e in events]
    assert types.count("invoicing.credit_note.issued") == 1 and types.count("invoicing.refund.issued") == 1
    assert types.count("invoicing.refund.overdue") == 1 and types.count("invoicing.refund.paid_out") == 1
    # another partner sees none of it (the answers of what does not exist), and may not pay refunds out
    async with asgi_client(invoicing.app, "http://invoicing", api_keys.partner("pa")) as partner:
        assert (await partner.get(f"/v1/refunds/{refund['refund_id']}")).json()["reason"] == "unknown_refund"
        for path in ("/v1/accounts/acme/refunds", "/v1/accounts/acme/credit-notes",
                     "/v1/accounts/acme/statements/2026-05.csv"):
            assert (await partner.get(path)).json()["reason"] == "unknown_account", path
        assert (await partner.post(f"/v1/refunds/{refund['refund_id']}/payout", json={})).status_code == 403


async def test_overdue_holds_back_open_disputes_until_rejected(invoicing, db):
    numbers = await issue_invoices(invoicing, db, ("held", ["1000.00"]), ("all", ["1000.00"]))
    number = numbers["held"]
    await invoicing.http.post(f"/v1/invoices/{number}/payments",
                              json={"amount": "500.00", "method": "bank_transfer",
                                    "paid_at": "2026-05-20T11:00:00+00:00"})
    await invoicing.publish("disputes.events", [
        dispute_opened("h1", number, "held", "400.00", "2026-05-28T10:00:00", "2026-06-02T10:00:00"),
        dispute_opened("a1", numbers["all"], "all", "1000.00", "2026-05-28T10:00:00", "2026-06-02T10:00:00")])
    await eventually(lambda: _holds(db, invoicing, 2), what="the holds")
    after_due = datetime(2026, 6, 1, 0, 1, tzinfo=UTC)  # due 05-31
    async with invoicing.runtime.pool.acquire() as conn:
        assert await service.mark_overdue(conn, invoicing.settings, after_due) == 1  # not the all-disputed one
    invoicing.clock.set(after_due)
    amounts = (await invoicing.http.get(f"/v1/invoices/{number}")).json()["amounts"]
    assert (amounts["overdue"], amounts["disputed_open"], amounts["status"]) == ("100.00", "400.00", "overdue")
    untouched = (await invoicing.http.get(f"/v1/invoices/{numbers['all']}")).json()["amounts"]
    assert (untouched["overdue"], untouched["status"]) == ("0.00", "open")
    await invoicing.publish("disputes.events", [dispute_resolved(
        "h1", number, "held", "400.00", "0", "2026-05-28T10:00:00", "2026-06-02T10:00:00", "2026-06-03T09:00:00")])
    await eventually(lambda: _holds(db, invoicing, 1, open_only=True), what="the release")
    amounts = (await invoicing.http.get(f"/v1/invoices/{number}")).json()["amounts"]
    assert (amounts["overdue"], amounts["disputed_open"], amounts["credited"]) == ("500.00", "0.00", "0.00")
    assert await _count(db, invoicing, "credit_notes") == 0
    # all of an unpaid invoice credited: nothing is due, it is paid, and nothing is refunded
    await invoicing.publish("disputes.events", [dispute_resolved(
        "a1", numbers["all"], "all", "1000.00", "1000.00", "2026-05-28T10:00:00", "2026-06-02T10:00:00",
        "2026-06-03T09:00:00")])
    await eventually(lambda: _count(db, invoicing, "credit_notes"), what="the credit note")
    shown = (await invoicing.http.get(f"/v1/invoices/{numbers['all']}")).json()
    assert (shown["status"], shown["amounts"]["status"], shown["amounts"]["due"]) == ("paid", "paid", "0.00")
    assert shown["refunds"] == []
    paid = await invoicing.events(11, {"invoicing.invoice.paid"})  # every event of this test
    assert [e["payload"]["invoice_number"] for e in paid] == [numbers["all"]]


async def _holds(db, invoicing, n: int, open_only: bool = False):
    where = " WHERE outcome IS NULL" if open_only else ""
    return await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.dispute_holds{where}") == n or None


async def test_surcharge_settings_per_issuer_operator_only(invoicing, db, api_keys):
    http = invoicing.http
    default = (await http.get("/v1/issuers/platform/surcharge")).json()
    assert default == {"issuer": "platform", "threshold": "3000.00", "rate": "0.03", "default": True}
    async with asgi_client(invoicing.app, "http://invoicing", api_keys.partner("pa")) as partner:
        refused = await partner.put("/v1/issuers/platform/surcharge", json={"threshold": "1.00", "rate": "0.5"})
        assert refused.status_code == 403
    bad = await http.put("/v1/issuers/platform/surcharge", json={"threshold": "100.00", "rate": "1.5"})
    assert bad.status_code == 422
    done = await http.put("/v1/issuers/platform/surcharge", json={"threshold": "100.00", "rate": "0.05"})
    assert done.json() == {"issuer": "platform", "threshold": "100.00", "rate": "0.05", "default": False}
    number = (await issue_invoices(invoicing, db, ("small", ["200.00"])))["small"]
    paid = await http.post(f"/v1/invoices/{number}/payments", json={"amount": "99.99", "method": "card"})
    assert paid.json()["surcharge"] == "5.00"  # 4.9995 -> 5.00 at the issuer's 5% from its 100.00
