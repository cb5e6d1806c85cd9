"""Invoicing's API doubts its input: out-of-window instants, absurd amounts, unbounded periods and
unsafe ids are 422 (never a 5xx) and change nothing; concurrent payments with one payment_id are
recorded once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.envelope import Envelope
from tests.support.invoicing import T0, charges, issue_invoices, opened
from tests.support.polling import eventually

pytestmark = pytest.mark.infra

HOSTILE_PAYMENTS = [
    {"amount": "10.00", "method": "card", "paid_at": "9999-12-31T00:00:00Z"},
    {"amount": "10.00", "method": "card", "paid_at": "0001-01-01T00:00:00+01:00"},
    {"amount": "10.00", "method": "card", "paid_at": "9999-12-31T23:59:59-01:00"},
    {"amount": "1e999999", "method": "card"},
    {"amount": 1e40, "method": "card"},
    {"amount": "10.001", "method": "card"},
    {"amount": "-10", "method": "card"},
    {"amount": "NaN", "method": "card"},
    {"amount": "10.00", "method": "card\u0000"},
    {"amount": "10.00", "method": "card", "payment_id": "p/1"},
    {"amount": "10.00", "method": "card", "payment_id": "x" * 900_000},
    {"amount": "10.00", "method": "card", "currency": "notacurrency"},
]


@pytest.mark.parametrize("body", HOSTILE_PAYMENTS, ids=range(len(HOSTILE_PAYMENTS)))
async def test_hostile_payments_are_422_and_change_nothing(invoicing, db, body):  # noqa: F811
    numbers = await issue_invoices(invoicing, db, ("h", ["100.00"]))
    r = await invoicing.http.post(f"/v1/invoices/{numbers['h']}/payments", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "invalid_request"
    assert isinstance(r.json()["detail"], list) and len(r.text) < 5000  # the huge value is not echoed
    assert await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.payments") == 0


async def test_twenty_concurrent_payments_with_one_id_are_recorded_once(invoicing, db):  # noqa: F811
    numbers = await issue_invoices(invoicing, db, ("c", ["100.00"]))
    body = {"amount": "10.00", "method": "bank_transfer", "payment_id": "same-1",
            "paid_at": "2026-05-10T09:00:00Z"}
    answers = await asyncio.gather(*[
        invoicing.http.post(f"/v1/invoices/{numbers['c']}/payments", json=body) for _ in range(20)])
    assert sorted({a.status_code for a in answers}) == [201], [a.text for a in answers if a.status_code != 201]
    assert {a.json()["payment_id"] for a in answers} == {"same-1"}
    assert await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.payments") == 1
    shown = (await invoicing.http.get(f"/v1/invoices/{numbers['c']}")).json()
    assert shown["paid_total"] == "10.00"
    # the same id for another invoice is a conflict, never a second payment
    other = await issue_invoices(invoicing, db, ("d", ["50.00"]), month="2026-06", run="run-d")
    r = await invoicing.http.post(f"/v1/invoices/{other['d']}/payments", json=body)
    assert r.status_code == 409 and r.json()["reason"] == "payment_id_reused"


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/accounts/h/usage.csv", {"from": "0001-01-01", "to": "9999-12-31"}),
    ("/v1/accounts/h/usage.csv", {"from": "2026-01-01", "to": "2100-01-01"}),
    ("/v1/accounts/h/statements/0000-01", {}),
    ("/v1/runs", {"month": "0000-01"}),
    ("/v1/accounts/a%00b/invoices", {}),
    ("/v1/invoices/a%00b", {}),
    ("/v1/accounts/" + "x" * 5000 + "/invoices", {}),
])
async def test_hostile_reads_are_422(invoicing, db, path, params):  # noqa: F811
    r = await invoicing.http.get(path, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["reason"] == "invalid_request"


async def test_an_account_id_with_a_slash_is_never_read_as_a_path(invoicing, db):  # noqa: F811
    r = await invoicing.http.get("/v1/accounts/a%2Fb/invoices")
    assert r.status_code in (404, 422) and r.json()["reason"] in ("invalid_request", "not_found")


@pytest.mark.parametrize("body", [
    {"month": "0000-01"}, {"month": "9999-12"}, {"month": "2026-05", "as_of": "0001-01-01T00:00:00Z"},
    {"month": "2026-05", "account_ids": ["a/b"]}, {"month": "2026-05", "requested_by": "x\u0000"},
])
async def test_hostile_run_requests_are_422_and_request_nothing(invoicing, db, body):  # noqa: F811
    r = await invoicing.http.post("/v1/runs", json=body)
    assert r.status_code == 422, r.text
    assert await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.runs") == 0


async def test_invalid_accounts_and_charges_on_its_topics_are_dead_lettered(invoicing, db):  # noqa: F811
    """One AccountOpenedV1 with a zone or currency nothing can bill in, or charges with terms that
    overflow a due date, never reach invoicing's tables (nor its scheduler): dead letters, and the
    partition goes on."""
    at = "2026-01-10T00:00:00Z"
    poison = [
        Envelope(type="provisioning.account.opened", occurred_at=T0, producer="test", key="z",
                 payload={"account_id": "z", "at": at, **bad})
        for bad in ({"time_zone": "Mars/Olympus"}, {"currency": "notacurrency"}, {"payment_terms_days": 10**8})]
    await invoicing.publish("provisioning.events", [*poison, opened("z")])
    good = charges("run-z", "z", ["10.00"])
    bad_charges = Envelope(**{**good.model_dump(), "event_id": uuid.uuid4(),
                              "payload": {**good.payload, "payment_terms_days": 100_000_000}})
    await invoicing.publish("rating.charges", [bad_charges, good])

    async def settled():
        dead = await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.dead_letters")
        invoices = await db.fetchval(f"SELECT count(*) FROM {invoicing.schema}.invoices")
        return dead == 4 and invoices == 1
    await eventually(settled, what="poison dead-lettered, the valid account invoiced once")
    account = await db.fetchrow(f"SELECT time_zone, currency FROM {invoicing.schema}.accounts WHERE account_id = 'z'")
    assert (account["time_zone"], account["currency"]) == ("UTC", "USD")
    due = await db.fetchval(f"SELECT due_date - issue_date FROM {invoicing.schema}.invoices")
    assert due == 30
