"""A failure stays with its account (invoicing, in process on the real Kafka and PostgreSQL): a
charge whose invoice cannot be issued is quarantined with its reason instead of dead-lettered,
the run completes counting it (`completed_with_quarantine`), an operator re-invoices it once
fixed; charges waiting for an unknown account expire into the quarantine; the periodic tasks
skip a poisoned account and go on. Bad state is made behind the edges' validation: raw
envelopes, rows written straight into invoicing's tables, a trigger that refuses one account."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from contracts.envelope import Envelope
from services.invoicing import containment, domain, service
from tests.support.invoicing import T0, _count, _run_status, charges, opened, summary
from tests.support.polling import eventually

pytestmark = pytest.mark.infra


def raw(envelope: Envelope, **payload) -> Envelope:
    """`envelope` with payload fields changed without the contract's checks (a bypassing producer)."""
    return envelope.model_copy(update={"payload": {**envelope.payload, **payload}})


async def _refuse(db, schema: str, condition: str) -> None:
    """A check on invoicing's invoices that refuses the rows matching `condition` (plpgsql)."""
    await db.execute(f"""CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF {condition} THEN RAISE EXCEPTION 'refused: % due %', NEW.account_id, NEW.due_date; END IF;
        RETURN NEW; END $$""")
    await db.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {schema}.invoices FOR EACH ROW "
                     f"EXECUTE FUNCTION {schema}.refuse()")


async def test_charges_that_cannot_be_invoiced_are_quarantined_and_the_run_completes(invoicing, db, monkeypatch):
    s = invoicing.schema
    real_assemble = domain.assemble_invoice

    def assemble(account, *args, **kwargs):  # "anything": a failure the code does not foresee
        if account == "boom":
            raise RuntimeError("unforeseen failure for boom")
        return real_assemble(account, *args, **kwargs)
    monkeypatch.setattr(domain, "assemble_invoice", assemble)
    # a failure of the database for one account's row: the batch fails as a whole
    await invoicing.publish("provisioning.events", [opened(a) for a in ("g1", "g2", "huge", "boom", "dbbad")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 5 FROM {s}.accounts"), what="accounts known")
    # and a check on the due date (payment terms past the edges' bounds no longer get in: see
    # test_invoicing_validation; a data problem of the same kind is what `--payment-terms` fixes)
    await _refuse(db, s, "NEW.account_id = 'dbbad' OR NEW.due_date > DATE '2027-01-01'")

    batch = [charges("run-q", "g1", ["10.00"]), charges("run-q", "g2", ["20.00"]),
             raw(charges("run-q", "huge", ["5.00"]), payment_terms_days=365),
             charges("run-q", "boom", ["7.00"]), charges("run-q", "dbbad", ["1.00"])]
    await invoicing.publish("rating.charges", batch)
    await invoicing.publish("rating.charges", [summary("run-q", 5, {"USD": "43.00"})])
    run = await eventually(lambda: _run_status(invoicing, "run-q", "completed_with_quarantine"),
                           what="run completed with quarantine")
    assert run["invoices"] == 2 and run["problems"] == []
    held = {q["account_id"]: q for q in run["quarantined"]}
    assert set(held) == {"huge", "boom", "dbbad"}
    assert held["huge"]["stage"] == "invoicing" and "huge due 2027-05-01" in held["huge"]["error"]
    assert "unforeseen" in held["boom"]["error"] and "dbbad" in held["dbbad"]["error"]
    assert all(q["invoice"] is None for q in held.values())
    assert await _count(db, f"SELECT count(*) FROM {s}.dead_letters") == 0
    listed = (await invoicing.http.get("/v1/quarantine", params={"month": "2026-05"})).json()
    assert {q["account_id"] for q in listed} == {"huge", "boom", "dbbad"}

    # the fixes: the operator corrects the terms; the trigger's cause is gone
    fixed = await invoicing.http.post("/v1/quarantine/reinvoice",
                                      json={"account_id": "huge", "month": "2026-05", "payment_terms_days": 30})
    assert fixed.status_code == 200, fixed.text
    [result] = fixed.json()["results"]
    assert result["invoice"] and result["run_id"] == "run-q"
    again = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": "huge", "month": "2026-05"})
    assert again.status_code == 404 and again.json()["reason"] == "nothing_quarantined"
    still = (await invoicing.http.post("/v1/quarantine/reinvoice",
                                       json={"account_id": "dbbad", "month": "2026-05"})).json()
    assert still["results"][0]["invoice"] is None and "dbbad" in still["results"][0]["error"]
    await db.execute(f"DROP TRIGGER refuse ON {s}.invoices")
    monkeypatch.setattr(domain, "assemble_invoice", real_assemble)
    for account in ("dbbad", "boom"):
        response = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": account, "month": "2026-05"})
        assert response.json()["results"][0]["invoice"], response.text
    run = (await invoicing.http.get("/v1/runs/run-q")).json()
    assert run["status"] == "reconciled" and run["invoices"] == 5
    assert await _count(db, f"SELECT count(*) FROM {s}.invoices WHERE account_id = 'huge' "
                            "AND due_date = '2026-05-31'") == 1
    assert (await invoicing.http.get("/v1/quarantine")).json() == []


async def test_rating_quarantine_is_reported_and_a_failed_run_is_failed(invoicing, db):
    await invoicing.publish("provisioning.events", [opened("r1"), opened("r2")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 2 FROM {invoicing.schema}.accounts"), what="accounts")
    await invoicing.publish("rating.charges", [charges("run-r", "r1", ["10.00"]), raw(
        summary("run-r", 1, {"USD": "10.00"}), quarantined_accounts=1,
        quarantined=[{"account_id": "r2", "reason": "LookupError", "error": "no catalogue in GBP for account r2"}])])
    run = await eventually(lambda: _run_status(invoicing, "run-r", "completed_with_quarantine"), what="run")
    assert run["quarantined"] == [{"account_id": "r2", "stage": "rating", "reason": "LookupError",
                                   "error": "no catalogue in GBP for account r2", "invoice": None}]
    # the re-rate's charges (another run of the month) issue r2's invoice: the report says so
    await invoicing.publish("rating.charges", [charges("rerate", "r2", ["4.00"]), summary("rerate", 1, {"USD": "4.00"})])
    await eventually(lambda: _run_status(invoicing, "rerate", "reconciled"), what="re-rate reconciled")
    run = (await invoicing.http.get("/v1/runs/run-r")).json()
    assert run["quarantined"][0]["invoice"] == "PLATFORM-000002"

    await invoicing.publish("rating.charges", [raw(summary("run-fail", 0, {}, month="2026-06"),
                                                   failure="month '2026-06' cannot be rated")])
    run = await eventually(lambda: _run_status(invoicing, "run-fail", "failed"), what="failed run")
    assert run["problems"] == ["month '2026-06' cannot be rated"]


async def test_charges_for_an_unknown_account_expire_into_the_quarantine(invoicing, db):
    s = invoicing.schema
    await invoicing.publish("rating.charges", [charges("run-x", "ghost", ["3.00"]), summary("run-x", 1, {"USD": "3.00"})])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {s}.pending_charges"), what="charges parked")
    waiting = (await invoicing.http.get("/v1/pending-charges")).json()
    assert [w["account_id"] for w in waiting] == ["ghost"] and waiting[0]["waiting_hours"] == 0
    async with invoicing.runtime.pool.acquire() as conn:
        assert await containment.expire_pending(conn, invoicing.settings, T0 + timedelta(hours=23)) == 0
        assert await containment.expire_pending(conn, invoicing.settings, T0 + timedelta(hours=25)) == 1
    assert (await invoicing.http.get("/v1/pending-charges")).json() == []
    run = (await invoicing.http.get("/v1/runs/run-x")).json()
    assert run["status"] == "completed_with_quarantine"
    [held] = run["quarantined"]
    assert held["account_id"] == "ghost" and held["reason"] == "pending_charge_expired"
    refused = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": "ghost", "month": "2026-05"})
    assert refused.status_code == 409 and refused.json()["reason"] == "account_unknown"
    await invoicing.publish("provisioning.events", [opened("ghost")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {s}.accounts"), what="ghost known")
    issued = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": "ghost", "month": "2026-05"})
    assert issued.json()["results"][0]["invoice"] == "PLATFORM-000001"
    assert (await invoicing.http.get("/v1/runs/run-x")).json()["status"] == "reconciled"


async def test_periodic_tasks_skip_a_poisoned_account_and_go_on(invoicing, db):
    s = invoicing.schema
    await db.execute(f"""INSERT INTO {s}.accounts (account_id, issuer, time_zone, mode, currency,
                         payment_terms_days, opened_at) VALUES
        ('ok1', 'platform', 'UTC', 'subscription', 'USD', 30, '2026-01-01Z'),
        ('mars', 'platform', 'Mars/Olympus', 'subscription', 'USD', 30, '2026-01-01Z'),
        ('ok2', 'platform', 'Europe/Paris', 'subscription', 'USD', 30, '2026-01-01Z')""")
    for n, account in enumerate(("ok1", "mars", "ok2"), 1):
        await db.execute(f"""INSERT INTO {s}.invoices (invoice_number, issuer, sequence, account_id, month, run_id,
            currency, issue_date, due_date, total, lines, issued_at, source_event_id)
            VALUES ($1, 'platform', $2, $3, '2026-03', 'old', 'USD', '2026-03-01', '2026-03-31', 10, '[]',
                    '2026-03-01Z', gen_random_uuid())""", f"PLATFORM-{n:06d}", n, account)
    # (the service's own first ticks may run at the same time: the database says what happened)
    async with invoicing.runtime.pool.acquire() as conn:
        await service.request_due_runs(conn, invoicing.settings, T0)
        await service.mark_overdue(conn, invoicing.settings, T0)
        await service.request_due_runs(conn, invoicing.settings, T0 + timedelta(seconds=10))
    requested = await db.fetch(f"SELECT unnest(account_ids) AS a FROM {s}.runs WHERE requested_by = 'scheduler'")
    assert sorted(r["a"] for r in requested) == ["ok1", "ok2"]
    overdue = await db.fetch(f"SELECT account_id FROM {s}.invoices WHERE status = 'overdue' ORDER BY 1")
    assert [r["account_id"] for r in overdue] == ["ok1", "ok2"]
    failures = {(f["task"], f["account_id"]): f for f in (await invoicing.http.get("/v1/task-failures")).json()}
    assert set(failures) == {("billing_runs", "mars"), ("overdue", "mars")}
    assert failures[("billing_runs", "mars")]["failures"] >= 2  # met again at each tick
    assert "Mars/Olympus" in failures[("overdue", "mars")]["error"]


async def test_concurrent_reinvoices_issue_one_invoice(invoicing, db):
    s = invoicing.schema
    await invoicing.publish("provisioning.events", [opened("twice")])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {s}.accounts"), what="account known")
    await _refuse(db, s, "NEW.due_date > DATE '2027-01-01'")
    await invoicing.publish("rating.charges", [raw(charges("run-c", "twice", ["9.00"]), payment_terms_days=365)])
    await eventually(lambda: _count(db, f"SELECT count(*) = 1 FROM {s}.quarantined_charges"), what="quarantined")
    body = {"account_id": "twice", "month": "2026-05", "payment_terms_days": 30}
    responses = await asyncio.gather(*(invoicing.http.post("/v1/quarantine/reinvoice", json=body) for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [404] * 7, [r.text for r in responses]
    assert await _count(db, f"SELECT count(*) FROM {s}.invoices WHERE account_id = 'twice'") == 1
    bad = await invoicing.http.post("/v1/quarantine/reinvoice", json={**body, "payment_terms_days": 10**12})
    assert bad.status_code == 422
    unicode = await invoicing.http.post("/v1/quarantine/reinvoice", json={"account_id": "ü\u0000x", "month": "2026-05"})
    assert unicode.status_code in (404, 422)
