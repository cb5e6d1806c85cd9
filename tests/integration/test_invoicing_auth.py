"""A partner and the invoicing API, on the real Kafka and PostgreSQL: it reads and pays its own
tree's invoices, never another partner's (404, nothing recorded), and sees and requests only runs
of its own accounts."""

from __future__ import annotations

import pytest

from tests.support.invoicing import issue_invoices, opened
from tests.support.http import asgi_client
from tests.support.polling import eventually

pytestmark = pytest.mark.infra


def _refused(r, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason, r.text


async def _setup(invoicing, db):
    await invoicing.publish("provisioning.events", [opened("pa"), opened("pa-child", parent="pa"), opened("pb")])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 3 FROM {invoicing.schema}.accounts"), what="accounts")
    return await issue_invoices(invoicing, db, ("pa", ["10.00"]), ("pa-child", ["20.00"]), ("pb", ["30.00"]))


async def test_a_partner_cannot_read_or_pay_another_partners_invoices(invoicing, db, api_keys):
    numbers = await _setup(invoicing, db)
    theirs, child = numbers["pb"], numbers["pa-child"]
    payments = f"SELECT count(*) FROM {invoicing.schema}.payments"
    async with asgi_client(invoicing.app, "http://invoicing", api_keys.partner("pa")) as a:
        # its child partner's invoice is its to read and pay
        assert (await a.get(f"/v1/invoices/{child}")).status_code == 200
        assert (await a.get(f"/v1/invoices/{child}/lines.csv")).status_code == 200
        paid = await a.post(f"/v1/invoices/{child}/payments", json={"amount": "20.00", "method": "bank_transfer"})
        assert paid.status_code == 201, paid.text
        assert [i["account_id"] for i in (await a.get("/v1/accounts/pa-child/invoices")).json()] == ["pa-child"]
        before = await db.fetchval(payments)
        # another partner's invoice does not exist for it: the answer of an unknown number
        for path in (f"/v1/invoices/{theirs}", f"/v1/invoices/{theirs}/lines.csv"):
            hidden, missing = await a.get(path), await a.get(path.replace(theirs, "PLATFORM-999999"))
            _refused(hidden, 404, "unknown_invoice")
            assert hidden.json()["detail"].replace(theirs, "PLATFORM-999999") == missing.json()["detail"]
        _refused(await a.post(f"/v1/invoices/{theirs}/payments", json={"amount": "30.00", "method": "card"}),
                 404, "unknown_invoice")
        for path in ("/v1/accounts/pb/invoices", "/v1/accounts/pb/statements/2026-05"):
            _refused(await a.get(path), 404, "unknown_account")
        _refused(await a.get("/v1/accounts/pb/usage.csv", params={"from": "2026-05-01", "to": "2026-06-01"}),
                 404, "unknown_account")
        assert await db.fetchval(payments) == before
    async with asgi_client(invoicing.app, "http://invoicing", api_keys.partner("pa-child")) as child_key:
        _refused(await child_key.get(f"/v1/invoices/{numbers['pa']}"), 404, "unknown_invoice")  # not up
    async with asgi_client(invoicing.app, "http://invoicing", api_keys.integration) as integration:
        _refused(await integration.get(f"/v1/invoices/{child}"), 403, "forbidden_role")
        _refused(await integration.post("/v1/runs", json={"month": "2026-05"}), 403, "forbidden_role")


async def test_a_partner_requests_and_sees_only_runs_of_its_own_accounts(invoicing, db, api_keys):
    await invoicing.publish("provisioning.events", [opened("ra"), opened("ra-child", parent="ra"), opened("rb")])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = 3 FROM {invoicing.schema}.accounts"), what="accounts")
    runs = f"SELECT count(*) FROM {invoicing.schema}.runs"
    async with asgi_client(invoicing.app, "http://invoicing") as op, \
            asgi_client(invoicing.app, "http://invoicing", api_keys.partner("ra")) as a, \
            asgi_client(invoicing.app, "http://invoicing", api_keys.partner("rb")) as b:
        everyone = (await op.post("/v1/runs", json={"month": "2026-04"})).json()
        of_b = (await op.post("/v1/runs", json={"month": "2026-04", "account_ids": ["rb"]})).json()
        before = await db.fetchval(runs)
        _refused(await a.post("/v1/runs", json={"month": "2026-04"}), 403, "forbidden_field")
        _refused(await a.post("/v1/runs", json={"month": "2026-04", "account_ids": ["ra", "rb"]}), 404,
                 "unknown_account")
        assert await db.fetchval(runs) == before
        mine = await a.post("/v1/runs", json={"month": "2026-04", "account_ids": ["ra", "ra-child"]})
        assert mine.status_code == 202, mine.text
        assert mine.json()["requested_by"].startswith("partner:ra key ")
        assert [r["run_id"] for r in (await a.get("/v1/runs")).json()] == [mine.json()["run_id"]]
        assert [r["run_id"] for r in (await b.get("/v1/runs")).json()] == [of_b["run_id"]]
        for run_id in (everyone["run_id"], of_b["run_id"]):
            _refused(await a.get(f"/v1/runs/{run_id}"), 404, "unknown_run")
        assert (await a.get(f"/v1/runs/{mine.json()['run_id']}")).status_code == 200
        assert len((await op.get("/v1/runs")).json()) == 3
