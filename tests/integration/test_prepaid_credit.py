"""prepaid_credit on the real broker and database: section 8's worked example end to end (voucher,
daily usage, a run's recurring lines, expiry, notices, estimate), each line debited once however
often it is delivered, and a run's debits waiting for the usage of their midnight."""

from __future__ import annotations

import pytest

from contracts.prepaid_credit import (
    CreditDebitedV1, CreditExhaustedV1, CreditExpiredV1, LowBalanceV1, VoucherRedeemedV1,
)
from contracts.registry import models
from tests.support.polling import eventually
from tests.support.prepaid import at, line, opened, run_charges, usage

pytestmark = pytest.mark.infra


async def _credit(prepaid, account: str) -> dict:
    response = await prepaid.http.get(f"/v1/accounts/{account}/credit")
    assert response.status_code == 200, response.text
    return response.json()


async def _entries(prepaid, db, account: str, n: int) -> list:
    async def enough():
        rows = await db.fetch(f"SELECT * FROM {prepaid.schema}.entries WHERE account_id = $1 ORDER BY sequence",
                              account)
        return rows if len(rows) >= n else None
    return await eventually(enough, timeout=30, what=f"{n} entries of {account}")


async def _known(prepaid, db, account: str) -> None:
    async def there():
        return await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.accounts WHERE account_id = $1", account)
    await eventually(there, timeout=30, what=f"account {account}")


async def test_the_worked_example_of_section_8(prepaid, db):
    await prepaid.publish("provisioning.events", [opened("fax-co", threshold="300.00")])
    await _known(prepaid, db, "fax-co")
    issued = await prepaid.http.post("/v1/vouchers", json={"codes": ["FAXCO500"], "credits": "500.00",
                                                           "lifetime_days": 60})
    assert issued.status_code == 201, issued.text
    prepaid.clock.set(at("2026-03-03T12:00:00Z"))
    redeemed = await prepaid.http.post("/v1/accounts/fax-co/redemptions", json={"code": "FAXCO500"})
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["expires_at"] == "2026-05-02T00:00:00+00:00"

    pages = line("10.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01", quantity="200")
    april = [line("93.55", "XDM00020", "2026-03-03", "2026-04-01", "n1", "5"),
             line("100.00", "XDM00020", "2026-04-01", "2026-05-01", "n1", "5")]
    await prepaid.publish("rating.charges", [usage("fax-co", "2026-03-10T00:00:00Z"),
                                             usage("fax-co", "2026-03-11T00:00:00Z", [pages]),
                                             usage("fax-co", "2026-04-01T00:00:00Z"),
                                             run_charges("fax-co", "2026-04", april, "2026-04-01T00:00:05Z")])
    await _entries(prepaid, db, "fax-co", 4)
    prepaid.clock.set(at("2026-04-15T00:00:00Z"))
    credit = await _credit(prepaid, "fax-co")
    assert (credit["balance"], credit["shortfall"], credit["lifetime_estimate"]) == ("296.45", "0.00", "2026-05-02")

    may = [line("100.00", "XDM00020", "2026-05-01", "2026-06-01", "n1", "5")]
    again = run_charges("fax-co", "2026-04", april, "2026-04-01T00:00:05Z", run_id="rerun")  # a new id, same pieces
    await prepaid.publish("rating.charges", [again, usage("fax-co", "2026-05-01T00:00:00Z"),
                                             run_charges("fax-co", "2026-05", may, "2026-05-01T00:00:03Z"),
                                             usage("fax-co", "2026-05-02T00:00:00Z")])
    rows = await _entries(prepaid, db, "fax-co", 6)
    history = [(r["at"].isoformat(), r["kind"], str(r["change"]), str(r["balance"])) for r in rows]
    assert history == [
        ("2026-03-03T12:00:00+00:00", "redeemed", "500.00", "500.00"),
        ("2026-03-11T00:00:00+00:00", "usage", "-10.00", "490.00"),
        ("2026-04-01T00:00:00+00:00", "recurring", "-93.55", "396.45"),
        ("2026-04-01T00:00:00+00:00", "recurring", "-100.00", "296.45"),
        ("2026-05-01T00:00:00+00:00", "recurring", "-100.00", "196.45"),
        ("2026-05-02T00:00:00+00:00", "expired", "-196.45", "0.00"),
    ]
    prepaid.clock.set(at("2026-05-02T08:00:00Z"))
    credit = await _credit(prepaid, "fax-co")
    assert (credit["balance"], credit["lifetime_estimate"], credit["lots"]) == ("0.00", None, [])
    assert [h["kind"] for h in credit["history"]][0] == "expired"  # newest first
    draws = await db.fetch(f"SELECT lot, amount FROM {prepaid.schema}.draws WHERE account_id = 'fax-co'")
    assert {d["lot"] for d in draws} == {"FAXCO500"} and sum(d["amount"] for d in draws) == 500

    events = await prepaid.events(expect=8)
    kinds = [(e["type"], at(e["payload"]["at"])) for e in events]
    assert ("prepaid_credit.balance.low", at("2026-04-01T00:00:00Z")) in kinds
    assert ("prepaid_credit.balance.exhausted", at("2026-05-02T00:00:00Z")) in kinds
    assert sum(1 for t, _ in kinds if t == "prepaid_credit.credit.debited") == 4
    contracts = {name: model for (name, _), model in models().items()}
    for e in events:  # the payloads built as plain JSON hold to their contracts
        contracts[e["type"]].model_validate(e["payload"])
    assert {VoucherRedeemedV1, CreditDebitedV1, CreditExpiredV1, LowBalanceV1, CreditExhaustedV1} <= {
        contracts[e["type"]] for e in events}

    csv = await prepaid.http.get("/v1/accounts/fax-co/credit/history.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "sequence,at,kind,amount,balance,shortfall,ref,draws"
    assert len(csv.text.splitlines()) == 7


async def test_a_runs_debits_wait_for_the_usage_of_their_midnight(prepaid, db):
    """The run's charges come first; the usage debit of 04-01 00:00 arrives after them: the
    usage is still debited first (section 8's order), then the recurring line."""
    await prepaid.publish("provisioning.events", [opened("late-co")])
    await _known(prepaid, db, "late-co")
    await prepaid.http.post("/v1/vouchers", json={"codes": ["LATECO10"], "credits": "50.00", "lifetime_days": 90})
    prepaid.clock.set(at("2026-03-05T10:00:00Z"))
    assert (await prepaid.http.post("/v1/accounts/late-co/redemptions", json={"code": "LATECO10"})).status_code == 201
    await prepaid.publish("rating.charges", [
        run_charges("late-co", "2026-04", [line("20.00", "XDM00020", "2026-04-01", "2026-05-01", "s1")],
                    "2026-04-01T00:00:01Z")])

    async def parked():
        return await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.waiting_charges")
    await eventually(parked, timeout=30, what="the run's charges parked")
    pages = line("45.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01", quantity="900")
    await prepaid.publish("rating.charges", [usage("late-co", "2026-04-01T00:00:00Z", [pages])])
    rows = await _entries(prepaid, db, "late-co", 3)
    assert [(r["kind"], str(r["change"]), str(r["balance"]), str(r["shortfall"])) for r in rows] == [
        ("redeemed", "50.00", "50.00", "0.00"), ("usage", "-45.00", "5.00", "0.00"),
        ("recurring", "-5.00", "0.00", "15.00")]
    assert await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.waiting_charges") == 0
    credit = await _credit(prepaid, "late-co")
    assert (credit["balance"], credit["shortfall"]) == ("0.00", "15.00")

    # the next redemption settles the shortfall first
    await prepaid.http.post("/v1/vouchers", json={"codes": ["LATECO20"], "credits": "40.00", "lifetime_days": 30})
    prepaid.clock.set(at("2026-04-02T09:00:00Z"))
    body = (await prepaid.http.post("/v1/accounts/late-co/redemptions", json={"code": "LATECO20"})).json()
    assert (body["balance"], body["shortfall"]) == ("25.00", "0.00")
    assert [e["kind"] for e in body["entries"]] == ["redeemed", "shortfall_settled"]
