"""Charges queued while invoicing is down are issued in batches when it starts: every invoice
once, numbered without gaps per issuer. (Its speed is `billing bench invoicing`.)"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.clock import FrozenClock
from tests.support.invoicing import T0, Invoicing, charges, opened
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually

pytestmark = pytest.mark.infra
N = 300


async def test_a_backlog_of_charges_is_issued_once_and_numbered_gaplessly_per_issuer(infra, namespace, db):
    clock = FrozenClock(T0)
    service = Invoicing(infra, namespace, clock)
    await service.runtime.start()
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    accounts = [f"acct-{i:06d}" for i in range(N)]
    await publish_envelopes(infra.kafka, namespace + "provisioning.events",
                            [opened(a, parent=None if i % 4 else f"partner-{i % 7}", at=at)
                             for i, a in enumerate(accounts)])
    await eventually(lambda: db.fetchval(f"SELECT count(*) = $1 FROM {service.schema}.accounts", N),
                     timeout=120, what="accounts opened")
    await service.http.aclose()
    await service.runtime.stop()

    await publish_envelopes(infra.kafka, namespace + "rating.charges",
                            [charges("backlog", a, ["10.00", "2.50", "0.99"]) for a in accounts])
    service = Invoicing(infra, namespace, clock)
    await service.runtime.start()
    try:
        await eventually(lambda: db.fetchval(
            f"SELECT (SELECT count(*) FROM {service.schema}.invoices) = $1 "
            f"AND NOT EXISTS (SELECT 1 FROM {service.schema}.outbox)", N), timeout=120, interval=0.5,
            what="all invoices issued and published")
    finally:
        await service.http.aclose()
        await service.runtime.stop()
    numbers = await db.fetch(f"SELECT issuer, count(*) AS n, max(sequence) AS top, count(DISTINCT account_id) AS a "
                             f"FROM {service.schema}.invoices GROUP BY issuer")
    assert len(numbers) == 8  # the platform and seven partners
    assert all(r["n"] == r["top"] == r["a"] for r in numbers)  # once per account, gapless per issuer
    assert sum(r["n"] for r in numbers) == N
