"""A service on the manual clock (`BILLING_CLOCK=manual`), in this process on the real Kafka and
PostgreSQL: `PUT /v1/ops/clock` runs its time-driven work and answers once it is done."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.clock import ManualClock
from shared.runtime import add_platform_routes
from tests.support.http import asgi_client, session_keys
from tests.support.invoicing import Invoicing, charges, opened
from tests.support.polling import eventually

pytestmark = pytest.mark.infra

START = datetime(2026, 5, 1, 6, tzinfo=timezone.utc)


async def test_moving_the_clock_marks_an_invoice_overdue_before_it_answers(infra, namespace, db):
    # the overdue marker's interval is an hour: only the move of the clock can wake it in time
    # (the clock BILLING_CLOCK=manual gives, injected: tests/unit/test_manual_clock.py covers the setting)
    svc = Invoicing(infra, namespace, ManualClock(START))
    add_platform_routes(svc.app)
    await svc.runtime.start()
    try:
        await svc.publish("provisioning.events", [opened("late", at=datetime(2026, 1, 1, tzinfo=timezone.utc))])
        await svc.publish("rating.charges", [charges("run-c", "late", ["10.00"])])
        number = await eventually(lambda: db.fetchval(f"SELECT invoice_number FROM {svc.schema}.invoices "
                                                      "WHERE account_id = 'late'"), what="invoice issued")
        status = f"SELECT status FROM {svc.schema}.invoices WHERE invoice_number = $1"
        http = svc.http
        # due 2026-05-31: on its due date it is not overdue yet
        r = await http.put("/v1/ops/clock", json={"at": "2026-05-31T12:00:00Z"})
        assert r.status_code == 200 and r.json()["failed_tasks"] == [], r.text
        assert await db.fetchval(status, number) == "issued"
        r = await http.put("/v1/ops/clock", json={"at": "2026-06-02T00:00:00Z"})
        assert r.json() == {"mode": "manual", "at": "2026-06-02T00:00:00Z", "failed_tasks": []}
        assert await db.fetchval(status, number) == "overdue", "done when the move answered, no polling"
        assert not await db.fetchval(f"SELECT count(*) FROM {svc.schema}.outbox"), "its event left too"
        overdue = await svc.events(2, {"invoicing.invoice.overdue"})  # issued, overdue
        assert [e["payload"]["invoice_number"] for e in overdue] == [number]
        assert (await http.get("/v1/ops/clock")).json()["at"] == "2026-06-02T00:00:00Z"
        # back in time: refused, nothing moves
        r = await http.put("/v1/ops/clock", json={"at": "2026-06-01T00:00:00Z"})
        assert (r.status_code, r.json()["reason"]) == (409, "clock_backwards")
        assert svc.runtime.clock.now() == datetime(2026, 6, 2, tzinfo=timezone.utc)
        # a partner's key never reaches the clock
        async with asgi_client(svc.app, "http://invoicing", session_keys().partner("late")) as partner:
            r = await partner.put("/v1/ops/clock", json={"at": "2026-07-01T00:00:00Z"})
            assert (r.status_code, r.json()["reason"]) == (403, "forbidden_role")
        assert svc.runtime.clock.now() == datetime(2026, 6, 2, tzinfo=timezone.utc)
    finally:
        await svc.http.aclose()
        await svc.runtime.stop()


async def test_the_system_clock_refuses_to_move(invoicing):
    add_platform_routes(invoicing.app)
    r = await invoicing.http.put("/v1/ops/clock", json={"at": "2026-06-02T00:00:00Z"})
    assert (r.status_code, r.json()["reason"]) == (409, "clock_not_manual")
