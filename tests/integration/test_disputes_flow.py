"""The disputes service on the real Kafka and PostgreSQL, in this process: invoices learnt from
invoicing.events, opening and resolving through the HTTP API, deadlines in the issuer's
calendar, every refusal changing nothing, the overdue task, and concurrent opens of one id."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.support.disputes import T0, dispute_rows, setup_invoices
from tests.support.polling import eventually

pytestmark = pytest.mark.infra


async def test_open_show_list_and_resolve(disputes, db):
    await setup_invoices(disputes, db)
    http = disputes.http
    body = {"dispute_id": "d1", "invoice_number": "R1-000001", "amount": "400.00", "reason": "wrong rate",
            "lines": [2]}
    created = await http.post("/v1/disputes", json=body)
    assert created.status_code == 201, created.text
    d = created.json()
    # Tuesday 10:00 UTC + 3 working days (r1 has no calendar: UTC, no holidays)
    assert d["due_at"] == "2026-05-01T10:00:00+00:00" and d["status"] == "open"
    assert (d["account_id"], d["issuer"], d["lines"], d["received_at"]) == (
        "acme", "r1", [2], T0.isoformat())
    again = await http.post("/v1/disputes", json=body)  # the same open, retried: the same dispute
    assert again.status_code == 200 and again.json() == d

    assert (await http.get("/v1/disputes/d1")).json() == d
    assert [x["dispute_id"] for x in (await http.get("/v1/invoices/R1-000001/disputes")).json()] == ["d1"]
    assert [x["dispute_id"] for x in (await http.get("/v1/accounts/acme/disputes")).json()] == ["d1"]

    disputes.clock.advance(timedelta(days=1))
    resolved = await http.post("/v1/disputes/d1/resolution", json={"outcome": "upheld", "credited": "150.00"})
    assert resolved.status_code == 200, resolved.text
    r = resolved.json()
    assert (r["status"], r["outcome"], r["credited"], r["late"]) == ("upheld", "upheld", "150.00", False)

    events = await disputes.events(2)
    assert [e["type"] for e in events] == ["disputes.dispute.opened", "disputes.dispute.resolved"]
    opened_event, resolved_event = (e["payload"] for e in events)
    assert opened_event["due_at"] == "2026-05-01T10:00:00Z" and opened_event["amount"] == "400.00"
    assert (resolved_event["outcome"], resolved_event["credited"], resolved_event["amount"]) == (
        "upheld", "150.00", "400.00")
    assert events[0]["key"] == "acme" and events[1]["causation_id"] is None


async def test_every_refusal_answers_its_reason_and_changes_nothing(disputes, db):
    await setup_invoices(disputes, db)
    http = disputes.http
    ok = {"dispute_id": "d1", "invoice_number": "R1-000001", "amount": "400.00"}
    assert (await http.post("/v1/disputes", json=ok)).status_code == 201
    before = await dispute_rows(disputes, db)
    cases = [
        ("/v1/disputes", {**ok, "dispute_id": "d2", "invoice_number": "NOPE-1"}, 404, "unknown_invoice"),
        ("/v1/disputes", {**ok, "amount": "400.01"}, 409, "duplicate_dispute"),  # d1 with another amount
        ("/v1/disputes", {**ok, "dispute_id": "d2", "amount": "0"}, 422, "invalid_amount"),
        ("/v1/disputes", {**ok, "dispute_id": "d2", "amount": "-3.00"}, 422, "invalid_amount"),
        ("/v1/disputes", {**ok, "dispute_id": "d2", "amount": "1.001"}, 422, "invalid_amount"),
        # 1000.00 due, 400.00 held by d1: at most 600.00
        ("/v1/disputes", {**ok, "dispute_id": "d2", "amount": "600.01"}, 422, "amount_exceeds_disputable"),
        ("/v1/disputes", {**ok, "dispute_id": "d2", "lines": [3]}, 422, "invalid_lines"),
        ("/v1/disputes/nope/resolution", {"outcome": "upheld"}, 404, "unknown_dispute"),
        ("/v1/disputes/d1/resolution", {"outcome": "upheld", "credited": "400.01"}, 422, "credit_exceeds_disputed"),
        ("/v1/disputes/d1/resolution", {"outcome": "upheld", "credited": "0.00"}, 422, "invalid_amount"),
        ("/v1/disputes/d1/resolution", {"outcome": "rejected", "credited": "1.00"}, 422, "invalid_amount"),
    ]
    for path, body, status, reason in cases:
        response = await http.post(path, json=body)
        assert (response.status_code, response.json()["reason"]) == (status, reason), (body, response.text)
    assert await dispute_rows(disputes, db) == before
    assert (await http.post("/v1/disputes", json={**ok, "dispute_id": "d2", "amount": "600.00"})).status_code == 201
    assert (await http.post("/v1/disputes/d1/resolution", json={"outcome": "rejected"})).status_code == 200
    before = await dispute_rows(disputes, db)
    for outcome in ("upheld", "rejected"):
        again = await http.post("/v1/disputes/d1/resolution", json={"outcome": outcome})
        assert (again.status_code, again.json()["reason"]) == (409, "already_resolved")
    assert await dispute_rows(disputes, db) == before
    events = await disputes.events(3)
    assert [e["type"] for e in events] == ["disputes.dispute.opened"] * 2 + ["disputes.dispute.resolved"]


async def test_credit_notes_lower_what_may_be_disputed(disputes, db):
    await setup_invoices(disputes, db)
    http = disputes.http
    await http.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": "R1-000001", "amount": "300.00"})
    await http.post("/v1/disputes/d1/resolution", json={"outcome": "upheld"})  # due 1000.00 -> 700.00
    too_much = await http.post("/v1/disputes", json={"dispute_id": "d2", "invoice_number": "R1-000001",
                                                    "amount": "700.01"})
    assert too_much.json()["reason"] == "amount_exceeds_disputable"
    all_of_it = await http.post("/v1/disputes", json={"dispute_id": "d2", "invoice_number": "R1-000001",
                                                     "amount": "700.00"})
    assert all_of_it.status_code == 201


async def test_the_issuers_calendar_sets_the_deadline(disputes, db):
    await setup_invoices(disputes, db)
    http = disputes.http
    assert (await http.get("/v1/issuers/r1/calendar")).json() == {
        "issuer": "r1", "time_zone": "UTC", "holidays": [], "default": True}
    # section 9's example: received Tuesday 04-28 10:00, 05-01 a holiday: due Monday 05-04 10:00
    put = await http.put("/v1/issuers/r1/calendar", json={"time_zone": "UTC", "holidays": ["2026-05-01"]})
    assert put.status_code == 200 and put.json()["holidays"] == ["2026-05-01"]
    d = await http.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": "R1-000001",
                                             "amount": "400.00"})
    assert d.json()["due_at"] == "2026-05-04T10:00:00+00:00"
    # a zone with DST: London, received Friday 03-27 15:00 GMT, due Wednesday 04-01 15:00 BST
    await http.put("/v1/issuers/r1/calendar", json={"time_zone": "Europe/London"})
    disputes.clock.set(T0.replace(month=3, day=27, hour=15))
    d2 = await http.post("/v1/disputes", json={"dispute_id": "d2", "invoice_number": "R1-000001",
                                              "amount": "100.00"})
    assert d2.json()["due_at"] == "2026-04-01T14:00:00+00:00"
    # a Saturday receipt counts from Monday 00:00
    disputes.clock.set(T0.replace(month=3, day=28, hour=10))
    d3 = await http.post("/v1/disputes", json={"dispute_id": "d3", "invoice_number": "R1-000001",
                                              "amount": "100.00"})
    assert d3.json()["due_at"] == "2026-04-01T23:00:00+00:00"  # Thursday 00:00 BST
    # d1 keeps the deadline it was received with
    assert (await http.get("/v1/disputes/d1")).json()["due_at"] == "2026-05-04T10:00:00+00:00"
    bad = await http.put("/v1/issuers/r1/calendar", json={"time_zone": "Mars/Olympus"})
    assert bad.status_code == 422


async def test_the_overdue_task_announces_once_strictly_after_the_deadline(disputes, db):
    await setup_invoices(disputes, db)
    http = disputes.http
    from services.disputes import service
    for n in ("d1", "d2"):
        await http.post("/v1/disputes", json={"dispute_id": n, "invoice_number": "R1-000001", "amount": "100.00"})
    due = T0 + timedelta(days=3)  # Friday 05-01 10:00
    async with disputes.runtime.pool.acquire() as conn:
        assert await service.mark_overdue(conn, disputes.settings, due) == 0  # at the instant: not yet
        await http.post("/v1/disputes/d2/resolution", json={"outcome": "rejected"})
        after = due + timedelta(microseconds=1)
        assert await service.mark_overdue(conn, disputes.settings, after) == 1
        assert await service.mark_overdue(conn, disputes.settings, after + timedelta(days=1)) == 0
    disputes.clock.set(due + timedelta(hours=1))
    shown = (await http.get("/v1/disputes/d1")).json()
    assert shown["status"] == "overdue" and shown["overdue_announced_at"] is not None
    late = (await http.post("/v1/disputes/d1/resolution", json={"outcome": "rejected"})).json()
    assert (late["status"], late["late"]) == ("rejected", True)
    events = await disputes.events(5)
    assert [e["type"] for e in events].count("disputes.dispute.overdue") == 1
    assert [e["payload"]["late"] for e in events if e["type"] == "disputes.dispute.resolved"] == [False, True]


async def test_the_periodic_task_runs_on_the_service_clock(infra, namespace, db):
    from shared.clock import FrozenClock
    from tests.support.disputes import Disputes
    svc = Disputes(infra, namespace, FrozenClock(T0), dispute_overdue_ms=200)
    await svc.runtime.start()
    try:
        await setup_invoices(svc, db)
        await svc.http.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": "R1-000001",
                                                 "amount": "100.00"})
        svc.clock.advance(timedelta(days=10))
        await eventually(lambda: db.fetchval(f"SELECT overdue_at FROM {svc.schema}.disputes"), timeout=20,
                         what="the dispute marked overdue")
        events = await svc.events(2)
        assert [e["type"] for e in events] == ["disputes.dispute.opened", "disputes.dispute.overdue"]
    finally:
        await svc.http.aclose()
        await svc.runtime.stop()


async def test_twenty_concurrent_opens_of_one_id_make_one_dispute(disputes, db):
    await setup_invoices(disputes, db)
    body = {"dispute_id": "same", "invoice_number": "R1-000001", "amount": "250.00", "reason": "twice?"}
    responses = await asyncio.gather(*(disputes.http.post("/v1/disputes", json=body) for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["due_at"] for r in responses}) == 1
    assert await db.fetchval(f"SELECT count(*) FROM {disputes.schema}.disputes") == 1
    # twenty opens of different ids racing for the disputable amount: 4 x 250.00 fit in 1000.00
    many = await asyncio.gather(*(disputes.http.post("/v1/disputes", json={**body, "dispute_id": f"d{i}"})
                                  for i in range(20)))
    assert sorted(r.status_code for r in many) == [201] * 3 + [422] * 17
    assert await db.fetchval(f"SELECT sum(amount) FROM {disputes.schema}.disputes") == 1000
    events = await disputes.events(4)
    assert len(events) == 4


async def test_commands_open_and_resolve_and_refusals_are_rejections(disputes, db):
    from contracts import wrap
    from contracts.disputes import OpenDisputeV1, ResolveDisputeV1
    await setup_invoices(disputes, db)

    def command(payload, key):
        return wrap(payload, key=key, producer="test", occurred_at=T0)
    open_ = command(OpenDisputeV1(dispute_id="c1", invoice_number="R1-000001", amount="400.00",
                                  received_at=T0), "c1")
    resolve = command(ResolveDisputeV1(dispute_id="c1", outcome="upheld", resolved_at=T0 + timedelta(days=5)), "c1")
    refused = command(OpenDisputeV1(dispute_id="c2", invoice_number="R1-000001", amount="0.001",
                                    received_at=T0), "c2")
    await disputes.publish("disputes.commands", [open_, resolve, resolve, refused])
    events = await disputes.events(2)
    assert [e["type"] for e in events] == ["disputes.dispute.opened", "disputes.dispute.resolved"]
    assert events[1]["payload"]["late"] is True and events[1]["causation_id"] == str(resolve.event_id)
    rejections = await disputes.events(1, "platform.rejections")
    assert [(r["payload"]["reason"], r["payload"]["command"]["dispute_id"]) for r in rejections] == [
        ("invalid_amount", "c2")]
    assert (await disputes.http.get("/v1/disputes/c1")).json()["status"] == "upheld"


async def test_the_worked_examples_of_sections_7_and_9(disputes, db):
    from datetime import datetime, timezone
    await setup_invoices(disputes, db, invoices=(("R1-000001", "acme", "1000.00", "r1"),
                                         ("R1-000002", "acme", "3600.00", "r1")))
    http, clock = disputes.http, disputes.clock
    await http.put("/v1/issuers/r1/calendar", json={"time_zone": "UTC", "holidays": ["2026-05-01"]})
    # section 7: received Friday 03-06 15:00, due Wednesday 03-11 15:00, upheld 03-10 09:00
    clock.set(datetime(2026, 3, 6, 15, tzinfo=timezone.utc))
    d7 = (await http.post("/v1/disputes", json={"dispute_id": "s7", "invoice_number": "R1-000002",
                                               "amount": "600.00"})).json()
    assert d7["due_at"] == "2026-03-11T15:00:00+00:00"
    clock.set(datetime(2026, 3, 10, 9, tzinfo=timezone.utc))
    r7 = (await http.post("/v1/disputes/s7/resolution", json={"outcome": "upheld"})).json()
    assert (r7["credited"], r7["late"]) == ("600.00", False)
    # section 9: received Tuesday 04-28 10:00, holiday 05-01: due Monday 05-04 10:00; rejected 05-06 09:00
    clock.set(datetime(2026, 4, 28, 10, tzinfo=timezone.utc))
    d9 = (await http.post("/v1/disputes", json={"dispute_id": "s9", "invoice_number": "R1-000001",
                                               "amount": "400.00"})).json()
    assert d9["due_at"] == "2026-05-04T10:00:00+00:00"
    clock.set(datetime(2026, 5, 4, 10, tzinfo=timezone.utc))
    assert (await http.get("/v1/disputes/s9")).json()["status"] == "open"  # at the due instant: not yet
    clock.set(datetime(2026, 5, 4, 10, 0, 1, tzinfo=timezone.utc))
    assert (await http.get("/v1/disputes/s9")).json()["status"] == "overdue"
    clock.set(datetime(2026, 5, 6, 9, tzinfo=timezone.utc))
    r9 = (await http.post("/v1/disputes/s9/resolution", json={"outcome": "rejected"})).json()
    assert (r9["status"], r9["credited"], r9["late"]) == ("rejected", "0.00", True)


async def test_twenty_concurrent_resolutions_resolve_once(disputes, db):
    await setup_invoices(disputes, db)
    await disputes.http.post("/v1/disputes", json={"dispute_id": "d1", "invoice_number": "R1-000001",
                                                  "amount": "100.00"})
    bodies = [{"outcome": "upheld"} if i % 2 else {"outcome": "rejected"} for i in range(20)]
    responses = await asyncio.gather(*(disputes.http.post("/v1/disputes/d1/resolution", json=b) for b in bodies))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 19
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"already_resolved"}
    events = await disputes.events(3, timeout=8)
    assert [e["type"] for e in events] == ["disputes.dispute.opened", "disputes.dispute.resolved"]
