"""Who may do what with disputes: a partner sees its own tree's disputes only (404 otherwise),
the invoice's issuer resolves, a partner manages its own calendar; hostile inputs are refused
with 4xx and change nothing."""

from __future__ import annotations

import pytest

from tests.support.disputes import dispute_rows, setup_invoices

pytestmark = pytest.mark.infra

OPEN = {"dispute_id": "d1", "invoice_number": "R1-000001", "amount": "400.00", "reason": "wrong rate"}


async def test_another_partner_gets_404_everywhere(disputes, db, api_keys):
    await setup_invoices(disputes, db)
    assert (await disputes.http.post("/v1/disputes", json=OPEN)).status_code == 201
    before = await dispute_rows(disputes, db)
    async with disputes.as_(api_keys.partner("r2")) as other:
        checks = [
            (await other.get("/v1/disputes/d1"), "unknown_dispute"),
            (await other.get("/v1/invoices/R1-000001/disputes"), "unknown_invoice"),
            (await other.get("/v1/accounts/acme/disputes"), "unknown_account"),
            (await other.post("/v1/disputes", json={**OPEN, "dispute_id": "d2"}), "unknown_invoice"),
            (await other.post("/v1/disputes/d1/resolution", json={"outcome": "rejected"}), "unknown_dispute"),
            (await other.get("/v1/issuers/r1/calendar"), "unknown_issuer"),
            (await other.put("/v1/issuers/r1/calendar", json={"time_zone": "Europe/Paris"}), "unknown_issuer"),
        ]
        for response, reason in checks:
            assert (response.status_code, response.json()["reason"]) == (404, reason), response.request.url
        # the same 404 as for what does not exist at all
        assert (await other.get("/v1/disputes/nothing")).json()["reason"] == "unknown_dispute"
        assert (await other.get("/v1/accounts/other/disputes")).status_code == 200
    assert await dispute_rows(disputes, db) == before
    assert (await disputes.http.get("/v1/issuers/r1/calendar")).json()["default"] is True


async def test_the_billed_partner_disputes_and_the_issuer_resolves(disputes, db, api_keys):
    await setup_invoices(disputes, db)
    async with disputes.as_(api_keys.partner("acme")) as acme, disputes.as_(api_keys.partner("r1")) as r1:
        opened = await acme.post("/v1/disputes", json=OPEN)
        assert opened.status_code == 201, opened.text
        assert [d["dispute_id"] for d in (await acme.get("/v1/accounts/acme/disputes")).json()] == ["d1"]
        assert (await r1.get("/v1/disputes/d1")).status_code == 200  # acme is in r1's tree
        # the billed account does not decide its own dispute
        refused = await acme.post("/v1/disputes/d1/resolution", json={"outcome": "upheld"})
        assert (refused.status_code, refused.json()["reason"]) == (403, "not_the_issuer")
        assert (await r1.post("/v1/disputes/d1/resolution", json={"outcome": "upheld"})).status_code == 200
        # r1 manages its own calendar; acme has none to manage but its own
        assert (await r1.put("/v1/issuers/r1/calendar", json={"time_zone": "Europe/Paris"})).status_code == 200
        assert (await acme.put("/v1/issuers/r1/calendar", json={"time_zone": "UTC"})).status_code == 404

async def test_only_an_operator_resolves_disputes_of_the_platforms_invoices(disputes, db, api_keys):
    await setup_invoices(disputes, db, invoices=(("PLATFORM-000001", "r1", "500.00", "platform"),))
    async with disputes.as_(api_keys.partner("r1")) as r1:
        body = {"dispute_id": "p1", "invoice_number": "PLATFORM-000001", "amount": "500.00"}
        assert (await r1.post("/v1/disputes", json=body)).status_code == 201
        refused = await r1.post("/v1/disputes/p1/resolution", json={"outcome": "upheld"})
        assert (refused.status_code, refused.json()["reason"]) == (403, "not_the_issuer")
        assert (await r1.get("/v1/issuers/platform/calendar")).status_code == 404
    assert (await disputes.http.post("/v1/disputes/p1/resolution", json={"outcome": "upheld"})).status_code == 200


async def test_roles_and_credentials(disputes, db, api_keys):
    await setup_invoices(disputes, db)
    async with disputes.as_(api_keys.integration) as integration, disputes.as_(None) as anonymous:
        assert (await integration.post("/v1/disputes", json=OPEN)).status_code == 403
        assert (await integration.get("/v1/disputes/d1")).status_code == 403
        assert (await anonymous.get("/v1/disputes/d1")).status_code == 401
        assert (await anonymous.put("/v1/issuers/r1/calendar", json={})).status_code == 401
    assert await dispute_rows(disputes, db) == []


HOSTILE_OPENS = [
    {**OPEN, "amount": "1e999999"},
    {**OPEN, "amount": "NaN"},
    {**OPEN, "amount": "Infinity"},
    {**OPEN, "amount": 400.005},                    # a JSON number finer than a cent
    {**OPEN, "amount": "4" * 5000},
    {**OPEN, "dispute_id": "../etc/passwd"},
    {**OPEN, "dispute_id": ""},
    {**OPEN, "dispute_id": "x" * 129},
    {**OPEN, "invoice_number": "R1 000001"},
    {**OPEN, "reason": "bad\u0000byte"},
    {**OPEN, "reason": "r" * 201},
    {**OPEN, "lines": list(range(1, 1002))},
    {**OPEN, "lines": [0]},
    {**OPEN, "lines": ["1; DROP TABLE disputes"]},
    {**OPEN, "lines": [2 ** 63]},
    {"dispute_id": "d1", "invoice_number": "R1-000001"},
    [OPEN],
]


async def test_hostile_opens_are_refused_and_change_nothing(disputes, db):
    await setup_invoices(disputes, db)
    for body in HOSTILE_OPENS:
        response = await disputes.http.post("/v1/disputes", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert set(response.json()) == {"reason", "detail"}
    assert await dispute_rows(disputes, db) == []


HOSTILE_CALENDARS = [
    {"time_zone": "Mars/Olympus"},
    {"time_zone": "../../etc/localtime"},
    {"time_zone": ""},
    {"holidays": ["1900-01-01"]},
    {"holidays": ["2026-02-30"]},
    {"holidays": ["2026-05-01"] * 1001},
    {"holidays": "2026-05-01"},
]


async def test_hostile_calendars_are_refused(disputes, db):
    for body in HOSTILE_CALENDARS:
        response = await disputes.http.put("/v1/issuers/r1/calendar", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await disputes.http.get("/v1/issuers/r1/calendar")).json()["default"] is True


async def test_hostile_resolutions(disputes, db):
    await setup_invoices(disputes, db)
    await disputes.http.post("/v1/disputes", json=OPEN)
    before = await dispute_rows(disputes, db)
    for body in ({"outcome": "withdrawn"}, {"outcome": "upheld", "credited": "1e999999"},
                 {"outcome": "upheld", "credited": "NaN"}, {}, {"outcome": None}):
        response = await disputes.http.post("/v1/disputes/d1/resolution", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await disputes.http.post("/v1/disputes/a%2Fb/resolution", json={"outcome": "upheld"})).status_code \
        in (404, 422)
    assert await dispute_rows(disputes, db) == before
