"""prepaid_credit on the real broker and database: section 8's worked example end to end (voucher,
daily usage, a run's recurring lines, expiry, notices, estimate), each line debited once however
often it is delivered, and a run's debits waiting for the usage of their midnight."""

from __future__ import annotations

from uuid import uuid5

import pytest

from contracts.prepaid_credit import (
    CreditsDebitedV2, CreditExhaustedV1, CreditExpiredV1, LowBalanceV1, VoucherRedeemedV1,
)
from contracts.envelope import build_envelope
from contracts.registry import models
from tests.support.polling import eventually
from tests.support.prepaid import at, line, opened, run_charges, usage
from tests.support.rating import batch

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
                                             # the runs asked for at their metering points, as in the
                                             # example (a run is dated when it is asked for)
                                             run_charges("fax-co", "2026-04", april, "2026-04-01T00:00:00Z")])
    await _entries(prepaid, db, "fax-co", 4)
    prepaid.clock.set(at("2026-04-15T00:00:00Z"))
    credit = await _credit(prepaid, "fax-co")
    assert (credit["balance"], credit["shortfall"], credit["lifetime_estimate"]) == ("296.45", "0.00", "2026-05-02")

    may = [line("100.00", "XDM00020", "2026-05-01", "2026-06-01", "n1", "5")]
    again = run_charges("fax-co", "2026-04", april, "2026-04-01T00:00:00Z", run_id="rerun")  # a new id, same pieces
    await prepaid.publish("rating.charges", [again, usage("fax-co", "2026-05-01T00:00:00Z"),
                                             run_charges("fax-co", "2026-05", may, "2026-05-01T00:00:00Z"),
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
    # a line's detail is an object, in the database and in the answer (it was once stored as a
    # JSON string holding the object)
    recurring = [h for h in credit["history"] if h["kind"] == "recurring"]
    assert recurring and all(set(h["detail"]) == {"part_number", "from", "to", "quantity"} for h in recurring)
    assert {h["detail"]["part_number"] for h in recurring} >= {"XDM00020"}
    kinds = await db.fetch(f"SELECT DISTINCT jsonb_typeof(detail) AS t FROM {prepaid.schema}.entries "
                           "WHERE detail IS NOT NULL")
    assert [r["t"] for r in kinds] == ["object"]
    draws = await db.fetch(f"SELECT lot, amount FROM {prepaid.schema}.draws WHERE account_id = 'fax-co'")
    assert {d["lot"] for d in draws} == {"FAXCO500"} and sum(d["amount"] for d in draws) == 500

    # the four notices besides the debits (which come batched: one event per transaction)
    events = await prepaid.events(expect=4, counted=lambda r: b"prepaid_credit.credit.debited" not in r.value)
    kinds = [(e["type"], at(p["at"])) for e in events for p in e["payload"].get("debits", [e["payload"]])]
    assert ("prepaid_credit.balance.low", at("2026-04-01T00:00:00Z")) in kinds
    assert ("prepaid_credit.balance.exhausted", at("2026-05-02T00:00:00Z")) in kinds
    assert sum(1 for t, _ in kinds if t == "prepaid_credit.credit.debited") == 4
    contracts = {name: model for (name, _), model in models().items()}
    for e in events:  # the payloads built as plain JSON hold to their contracts
        contracts[e["type"]].model_validate(e["payload"])
    assert {VoucherRedeemedV1, CreditsDebitedV2, CreditExpiredV1, LowBalanceV1, CreditExhaustedV1} <= {
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
    # in a batch of the run's charges (version 2) with an account invoicing settles
    invoiced = run_charges("sub-co", "2026-04", [line("9.00", "XDM00001", "2026-04-01", "2026-05-01", "s2")],
                           "2026-04-01T00:00:01Z")
    rated = batch(run_charges("late-co", "2026-04", [line("20.00", "XDM00020", "2026-04-01", "2026-05-01", "s1")],
                              "2026-04-01T00:00:01Z"),
                  invoiced.model_copy(update={"payload": {**invoiced.payload, "settlement": "invoice"}}))
    await prepaid.publish("rating.charges", [rated])

    async def parked():
        return await db.fetchval(f"SELECT event_id FROM {prepaid.schema}.waiting_charges")
    # what waits is late-co's own charges, under the id derived from the batch's
    assert await eventually(parked, timeout=30, what="the run's charges parked") == uuid5(rated.event_id, "late-co")
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


async def test_the_expiry_task_waits_for_the_midnights_usage_unless_the_account_left_prepaid(prepaid, db):
    from contracts import wrap
    from contracts.provisioning import AccountSettingsChangedV1
    from services.prepaid_credit import service

    await prepaid.publish("provisioning.events", [opened("waits"), opened("left")])
    for account in ("waits", "left"):
        await _known(prepaid, db, account)
    await prepaid.http.post("/v1/vouchers", json={"codes": ["WAIT0001", "LEFT0001"], "credits": "8.00",
                                                  "lifetime_days": 2})
    prepaid.clock.set(at("2026-03-01T10:00:00Z"))
    for account, code in (("waits", "WAIT0001"), ("left", "LEFT0001")):
        assert (await prepaid.http.post(f"/v1/accounts/{account}/redemptions", json={"code": code})).status_code == 201
    # "left" switched to subscription mode on 03-02: rating sends it no midnights after that
    switch = AccountSettingsChangedV1(account_id="left", mode="subscription",
                                      mode_effective_at=at("2026-03-02T00:00:00Z"), at=at("2026-03-01T11:00:00Z"))
    await prepaid.publish("provisioning.events", [wrap(switch, key="left", producer="test",
                                                       occurred_at=switch.at)])

    async def switched():
        return await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.mode_changes")
    await eventually(switched, timeout=30, what="the switch recorded")
    async with prepaid.runtime.pool.acquire() as conn:
        # both lots expire at 03-03 00:00; "waits" has no usage debit of that midnight yet
        assert await service.expire_due(conn, prepaid.settings, at("2026-03-03T08:00:00Z")) == 1
    rows = await db.fetch(f"SELECT account_id, kind, change FROM {prepaid.schema}.entries WHERE kind = 'expired'")
    assert [(r["account_id"], str(r["change"])) for r in rows] == [("left", "-8.00")]
    await prepaid.publish("rating.charges", [usage("waits", "2026-03-03T00:00:00Z")])
    entries = await _entries(prepaid, db, "waits", 2)
    assert [(e["kind"], e["at"]) for e in entries] == [("redeemed", at("2026-03-01T10:00:00Z")),
                                                       ("expired", at("2026-03-03T00:00:00Z"))]
    async with prepaid.runtime.pool.acquire() as conn:
        assert await service.expire_due(conn, prepaid.settings, at("2026-03-04T00:00:00Z")) == 0
    # a subscription-mode account redeems nothing
    await prepaid.http.post("/v1/vouchers", json={"codes": ["LEFT0002"], "credits": "8.00", "lifetime_days": 2})
    prepaid.clock.set(at("2026-03-05T10:00:00Z"))
    refused = await prepaid.http.post("/v1/accounts/left/redemptions", json={"code": "LEFT0002"})
    assert (refused.status_code, refused.json()["reason"]) == (422, "not_prepaid")


async def test_each_unknown_account_of_a_usage_batch_waits_on_its_own(prepaid, db):
    """A usage batch (version 2) with two accounts not opened yet: each item waits as its own
    event (its id derived from the batch's, the account and the midnight), and each is debited
    when its own account opens, in whichever order they open."""
    first = usage("early-b1", "2026-03-11T00:00:00Z", [line("4.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01")])
    second = usage("early-b2", "2026-03-11T00:00:00Z", [line("6.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01")])
    rated = build_envelope("rating.prepaid_usage.rated", 2, {"items": [first.payload, second.payload]},
                           key="early-b1", producer="rating", occurred_at=first.occurred_at)
    await prepaid.publish("rating.charges", [rated, rated])  # and delivered twice

    async def parked():
        rows = await db.fetch(f"SELECT event_id, account_id FROM {prepaid.schema}.waiting_charges "
                              "WHERE account_id LIKE 'early-b%' ORDER BY account_id")
        return rows if len(rows) == 2 else None
    rows = await eventually(parked, timeout=30, what="both accounts' usage parked")
    assert [(r["account_id"], r["event_id"]) for r in rows] == [
        (a, uuid5(rated.event_id, f"{a}@{first.payload['at']}")) for a in ("early-b1", "early-b2")]

    await prepaid.publish("provisioning.events", [opened("early-b2", when="2026-03-01T00:00:00Z")])
    await _known(prepaid, db, "early-b2")
    rows = await _entries(prepaid, db, "early-b2", 1)
    assert [(r["kind"], str(r["shortfall"])) for r in rows] == [("usage", "6.00")]  # no credit: owed
    await prepaid.publish("provisioning.events", [opened("early-b1", when="2026-03-01T00:00:00Z")])
    rows = await _entries(prepaid, db, "early-b1", 1)
    assert [(r["kind"], str(r["shortfall"])) for r in rows] == [("usage", "4.00")]
    assert await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.waiting_charges "
                             "WHERE account_id LIKE 'early-b%'") == 0
