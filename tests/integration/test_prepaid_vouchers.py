"""Vouchers on the real database: batches of generated codes, every refusal of section 8 as a 4xx
changing nothing, 20 concurrent redemptions of one code (exactly one wins), partners' trees, and
hostile inputs."""

from __future__ import annotations

import asyncio

import pytest

from services.prepaid_credit.vouchers import ALPHABET, CODE_LENGTH
from tests.support.http import session_keys
from tests.support.polling import eventually
from tests.support.prepaid import opened

pytestmark = pytest.mark.infra


async def _accounts(prepaid, db, *envelopes) -> None:
    await prepaid.publish("provisioning.events", list(envelopes))

    async def there():
        return await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.accounts") == len(envelopes)
    await eventually(there, timeout=30, what="accounts known")


async def _state(prepaid, db) -> tuple:
    """Everything a refusal must leave as it was."""
    counts = [await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.{t}")
              for t in ("vouchers", "lots", "entries", "draws", "waiting_charges")]
    redeemed = await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.vouchers WHERE redeemed_by IS NOT NULL")
    balances = await db.fetch(f"SELECT account_id, balance, next_seq FROM {prepaid.schema}.accounts ORDER BY 1")
    return (*counts, redeemed, [tuple(b) for b in balances])


async def test_a_batch_of_generated_codes_listed_with_their_state(prepaid, db):
    await _accounts(prepaid, db, opened("p1", mode="subscription"), opened("c1", parent="p1"))
    partner = prepaid.client(session_keys().partner("p1"))
    batch = await partner.post("/v1/vouchers", json={"count": 50, "credits": "25.00", "lifetime_days": 30})
    assert batch.status_code == 201, batch.text
    codes = batch.json()["codes"]
    assert len(set(codes)) == 50
    assert all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set(ALPHABET) & set("0O1IL")  # no look-alikes
    redeemed = await partner.post("/v1/accounts/c1/redemptions", json={"code": codes[0]})
    assert redeemed.status_code == 201, redeemed.text
    listed = (await partner.get("/v1/vouchers", params={"batch_id": batch.json()["batch_id"]})).json()
    assert len(listed) == 50
    states = {v["code"]: (v["state"], v["redeemed_by"]) for v in listed}
    assert states[codes[0]] == ("redeemed", "c1") and states[codes[1]] == ("issued", None)
    assert [v["code"] for v in (await partner.get("/v1/vouchers", params={"state": "redeemed"})).json()] == [codes[0]]
    await partner.aclose()


async def test_every_refusal_is_a_4xx_with_its_reason_and_changes_nothing(prepaid, db):
    await _accounts(prepaid, db, opened("pre"), opened("sub", mode="subscription"))
    assert (await prepaid.http.post("/v1/vouchers", json={"codes": ["GOOD1234"], "credits": "10.00",
                                                          "lifetime_days": 5})).status_code == 201
    assert (await prepaid.http.post("/v1/accounts/pre/redemptions", json={"code": "GOOD1234"})).status_code == 201
    await prepaid.http.post("/v1/vouchers", json={"codes": ["SPARE123"], "credits": "10.00", "lifetime_days": 5})
    before = await _state(prepaid, db)
    refusals = [
        ("/v1/vouchers", {"codes": ["GOOD1234"], "credits": "1.00", "lifetime_days": 1}, 409, "duplicate_voucher"),
        ("/v1/vouchers", {"codes": ["NEW12345", "NEW12345"], "credits": "1.00", "lifetime_days": 1}, 409,
         "duplicate_voucher"),
        ("/v1/vouchers", {"codes": ["abc"], "credits": "1.00", "lifetime_days": 1}, 422, "invalid_voucher"),
        ("/v1/vouchers", {"codes": ["ÄÖÜ12345"], "credits": "1.00", "lifetime_days": 1}, 422, "invalid_voucher"),
        ("/v1/vouchers", {"codes": ["A" * 33], "credits": "1.00", "lifetime_days": 1}, 422, "invalid_voucher"),
        ("/v1/vouchers", {"codes": ["OKAY1234", "bad code"], "credits": "1.00", "lifetime_days": 1}, 422,
         "invalid_voucher"),
        ("/v1/accounts/pre/redemptions", {"code": "GOOD1234"}, 409, "voucher_already_redeemed"),
        ("/v1/accounts/pre/redemptions", {"code": "NOSUCH12"}, 404, "unknown_voucher"),
        ("/v1/accounts/pre/redemptions", {"code": "x"}, 422, "invalid_voucher"),
        ("/v1/accounts/pre/redemptions", {"code": "١٢٣٤٥"}, 422, "invalid_voucher"),  # Arabic-Indic digits
        ("/v1/accounts/sub/redemptions", {"code": "SPARE123"}, 422, "not_prepaid"),
        ("/v1/accounts/nobody/redemptions", {"code": "SPARE123"}, 404, "unknown_account"),
        ("/v1/vouchers", {"count": 0, "credits": "1.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 1, "credits": "0.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 1, "credits": "1.001", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 1, "credits": "1e400", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 1, "credits": "1.00", "lifetime_days": 0}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": "many", "credits": "1.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 1, "codes": ["BOTH1234"], "credits": "1.00", "lifetime_days": 1}, 422,
         "invalid_request"),
        ("/v1/vouchers", {"credits": "1.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"count": 10_001, "credits": "1.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/vouchers", {"codes": [], "credits": "1.00", "lifetime_days": 1}, 422, "invalid_request"),
        ("/v1/accounts/pre/redemptions", {"code": ""}, 422, "invalid_request"),
        ("/v1/accounts/pre/redemptions", {"code": "Z" * 100_000}, 422, "invalid_request"),
        ("/v1/accounts/pre/redemptions", {"code": 12345678}, 422, "invalid_request"),
        ("/v1/accounts/pre/redemptions", {"code": "SPARE123", "at": "2099-01-01T00:00:00Z"}, 422, "at_in_future"),
        ("/v1/accounts/pre/redemptions", {}, 422, "invalid_request"),
    ]
    for path, body, status, reason in refusals:
        response = await prepaid.http.post(path, json=body)
        assert (response.status_code, response.json()["reason"]) == (status, reason), (path, body, response.text)
    assert await _state(prepaid, db) == before


async def test_twenty_concurrent_redemptions_of_one_code_one_wins(prepaid, db):
    ids = [f"acct-{i:02d}" for i in range(20)]
    await _accounts(prepaid, db, *(opened(a) for a in ids))
    await prepaid.http.post("/v1/vouchers", json={"codes": ["RACE2026"], "credits": "75.00", "lifetime_days": 10})
    responses = await asyncio.gather(*(prepaid.http.post(f"/v1/accounts/{a}/redemptions", json={"code": "RACE2026"})
                                       for a in ids))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"voucher_already_redeemed"}
    winner = next(a for a, r in zip(ids, responses) if r.status_code == 201)
    assert await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.lots") == 1
    assert await db.fetchval(f"SELECT sum(balance) FROM {prepaid.schema}.accounts") == 75
    assert await db.fetchval(f"SELECT redeemed_by FROM {prepaid.schema}.vouchers WHERE code = 'RACE2026'") == winner


async def test_a_partner_sees_its_own_tree_only(prepaid, db):
    await _accounts(prepaid, db, opened("pa", mode="subscription"), opened("pa-child", parent="pa"),
                    opened("pb", mode="subscription"), opened("pb-child", parent="pb"))
    pa, pb = prepaid.client(session_keys().partner("pa")), prepaid.client(session_keys().partner("pb"))
    mine = (await pa.post("/v1/vouchers", json={"codes": ["PAVOUCH1", "PAVOUCH2"], "credits": "5.00",
                                                "lifetime_days": 3})).json()
    assert mine["issuer"] == "pa"
    # another partner's account, its credit, its history: as unknown as one that does not exist
    for path in ("/v1/accounts/pa-child/credit", "/v1/accounts/pa-child/credit/history.csv"):
        response = await pb.get(path)
        assert (response.status_code, response.json()["reason"]) == (404, "unknown_account")
    response = await pb.post("/v1/accounts/pa-child/redemptions", json={"code": "PAVOUCH1"})
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_account")
    # pa's voucher does not redeem in pb's tree, and pb does not see it
    response = await pb.post("/v1/accounts/pb-child/redemptions", json={"code": "PAVOUCH1"})
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_voucher")
    assert (await pb.get("/v1/vouchers")).json() == []
    # a partner issues its own vouchers only and dates no redemption
    response = await pb.post("/v1/vouchers", json={"count": 1, "credits": "1.00", "lifetime_days": 1, "issuer": "pa"})
    assert (response.status_code, response.json()["reason"]) == (403, "forbidden_field")
    response = await pa.post("/v1/accounts/pa-child/redemptions", json={"code": "PAVOUCH1",
                                                                       "at": "2026-03-01T00:00:00Z"})
    assert (response.status_code, response.json()["reason"]) == (403, "forbidden_field")
    assert (await pa.post("/v1/accounts/pa-child/redemptions", json={"code": "PAVOUCH1"})).status_code == 201
    assert (await pa.get("/v1/accounts/pa-child/credit")).json()["balance"] == "5.00"
    integration = prepaid.client(session_keys().integration)
    assert (await integration.get("/v1/vouchers")).status_code == 403
    for client in (pa, pb, integration):
        await client.aclose()


async def test_one_code_issued_by_ten_concurrent_batches_once(prepaid, db):
    responses = await asyncio.gather(*(prepaid.http.post("/v1/vouchers", json={
        "codes": ["SAME2026", f"OTHER{i:03d}"], "credits": "5.00", "lifetime_days": 7}) for i in range(10)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"duplicate_voucher"}
    # a refused batch issues none of its codes
    assert await db.fetchval(f"SELECT count(*) FROM {prepaid.schema}.vouchers") == 2
