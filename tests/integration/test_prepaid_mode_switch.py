"""A mode switch and a low-balance threshold through the Onboarding API (in-process, real database):
the switch takes effect at the account's next metering point and the run there settles in the
new mode; the daily usage debits start or stop with it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from contracts import wrap
from contracts.envelope import Envelope
from contracts.rating import RequestBillingRunV1
from contracts.registry import parse
from services.provisioning import handlers
from services.rating import prepaid, service as rating
from services.rating.handlers import on_provisioning_events
from shared import db as shared_db
from shared.clock import FrozenClock
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.http import asgi_client
from tests.support.rating import each_account

pytestmark = pytest.mark.infra

MIGRATIONS = Path(handlers.__file__).parent / "migrations"
CATALOG = {"currency": "USD", "products": [
    {"part_number": "XDM00001", "name": "Insights User", "kind": "recurring", "unit_price": "12.00",
     "minimum_days": 30},
    {"part_number": "FAX-PAGE-OUT", "kind": "usage", "unit_price": "0.05"}]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def onboarding(infra, namespace, db, api_keys):
    settings = Settings(service="provisioning", database_url=infra.database_url, topic_prefix=namespace,
                        schema=f"{namespace}provisioning", api_keys_file=str(api_keys.path))
    runtime = ServiceRuntime(settings, MIGRATIONS, FrozenClock(at("2026-03-10T09:00:00Z")))
    await shared_db.migrate_dsn(settings.database_url, settings.db_schema, MIGRATIONS)
    runtime.pool = await shared_db.create_pool(settings.database_url, settings.db_schema)
    async with asgi_client(handlers.http_app(runtime), "http://provisioning") as client:
        client.clock = runtime.clock
        yield client
    await runtime.pool.close()


async def _events(db, namespace) -> list[tuple[Envelope, object]]:
    rows = await db.fetch(f"SELECT payload FROM {namespace}provisioning.outbox ORDER BY id")
    return [(e, parse(e)) for e in (Envelope.decode(r["payload"]) for r in rows)]


async def test_a_switch_waits_for_the_next_metering_point_and_its_run_settles_in_the_new_mode(
        onboarding, db, namespace, infra, api_keys):
    assert (await onboarding.put("/v1/catalog", json=CATALOG)).status_code == 200
    for account, tz in (("flip", "Europe/Berlin"), ("stay", "UTC")):
        r = await onboarding.post("/v1/accounts", json={"account_id": account, "time_zone": tz,
                                                        "low_balance_threshold": "25.00",
                                                        "at": "2026-02-01T00:00:00Z"})
        assert r.status_code == 201, r.text
        r = await onboarding.post("/v1/features", json={"account_id": account, "subscription_id": f"{account}-1",
                                                        "part_number": "XDM00001", "at": "2026-02-01T00:00:00Z"})
        assert r.status_code == 201, r.text
    r = await onboarding.patch("/v1/accounts/flip", json={"mode": "prepaid", "low_balance_threshold": "40.00"})
    assert r.status_code == 200, r.text
    [changed] = r.json()["events"]
    # the next metering point of a Berlin account after 2026-03-10: 04-01 00:00 CEST
    assert at(changed["mode_effective_at"]) == at("2026-03-31T22:00:00Z")
    shown = (await onboarding.get("/v1/accounts/flip")).json()
    assert (shown["mode"], shown["mode_switch"]["mode"], shown["low_balance_threshold"]) == (
        "subscription", "prepaid", "40.00")
    assert (await onboarding.patch("/v1/accounts/nobody", json={"mode": "prepaid"})).status_code == 404
    bad = await onboarding.patch("/v1/accounts/flip", json={"mode": "credit"})
    assert (bad.status_code, bad.json()["reason"]) == (422, "invalid_request")
    onboarding.clock.set(at("2026-04-02T00:00:00Z"))  # the switch has taken effect
    shown = (await onboarding.get("/v1/accounts/flip")).json()
    assert (shown["mode"], shown["mode_switch"]) == ("prepaid", None)
    partner = asgi_client(onboarding._transport.app, "http://provisioning", api_keys.partner("stay"))
    hidden = await partner.patch("/v1/accounts/flip", json={"low_balance_threshold": "1.00"})
    assert (hidden.status_code, hidden.json()["reason"]) == (404, "unknown_account")
    await partner.aclose()

    # rating learns the facts; March's run (metering point 03-01) is still a subscription run,
    # April's settles in prepaid mode
    settings = Settings(service="rating", schema=f"{namespace}rating", topic_prefix=namespace)
    await shared_db.migrate_dsn(infra.database_url, settings.db_schema, Path(rating.__file__).parent / "migrations")
    pool = await shared_db.create_pool(infra.database_url, settings.db_schema, 1, 3)
    try:
        async with pool.acquire() as conn:
            await on_provisioning_events(conn, await _events(db, namespace))
            for month in ("2026-03", "2026-04"):
                request = RequestBillingRunV1(run_id=f"r-{month}", month=month,
                                              requested_at=at(f"{month}-01T06:00:00Z"))
                await rating.request_run(conn, wrap(request, key=month, producer="test",
                                                    occurred_at=request.requested_at), request)
        while await rating.rate_next_chunk(pool, settings, at("2026-04-01T06:00:00Z")) >= 0:
            pass
        rows = await db.fetch(f"SELECT payload FROM {namespace}rating.outbox WHERE event_type = 'rating.charges.rated'")
        settled = sorted((p["month"], p["account_id"], p["settlement"])
                         for p in (e.payload for e in each_account(Envelope.decode(r["payload"]) for r in rows)))
        assert settled == [("2026-03", "flip", "invoice"), ("2026-03", "stay", "invoice"),
                           ("2026-04", "flip", "prepaid"), ("2026-04", "stay", "invoice")]
        # daily usage debits from the switch's instant on, not before
        assert await prepaid.debit_due_midnights(pool, settings, at("2026-04-02T06:00:00Z")) == 1
        days = await db.fetch(f"SELECT payload FROM {namespace}rating.outbox "
                              "WHERE event_type = 'rating.prepaid_usage.rated' ORDER BY id")
        assert [at(item["at"]) for r in days for item in Envelope.decode(r["payload"]).payload["items"]] == [
            at("2026-03-31T22:00:00Z"), at("2026-04-01T22:00:00Z")]
    finally:
        await pool.close()
