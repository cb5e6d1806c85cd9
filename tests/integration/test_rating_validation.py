"""Rating doubts its input: invalid contracts on its topics are dead-lettered (the partition goes
on), and facts naming an unknown account or product are held, applied once known, or rejected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import parse
from contracts.envelope import Envelope
from contracts.platform import UserCountReportedV1
from contracts.provisioning import AccountOpenedV1
from contracts.rating import RequestBillingRunV1
from contracts.usage import UsageRecordedV1
from services.rating import handlers, pending
from shared import db as shared_db
from shared.settings import Settings, Tuning
from tests.support.kafka import publish_envelopes, read_all
from tests.support.polling import eventually
from tests.support.rating import env, seed_catalog

pytestmark = pytest.mark.infra
T0 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
MIGRATIONS = Path(handlers.__file__).parent / "migrations"


def forged(event_type: str, key: str, payload: dict) -> Envelope:
    """An envelope whose payload breaks its contract (as a buggy or hostile producer sends it)."""
    return Envelope(type=event_type, occurred_at=T0, producer="test", key=key, payload=payload)


@pytest.fixture
def rating(services):
    return services("rating", BILLING_PENDING_FACTS_S="4", BILLING_PENDING_SWEEP_S="0.5")


OPENED = {"account_id": "bad", "at": "2026-01-01T00:00:00Z"}
POISON = [
    ("provisioning.account.opened", {**OPENED, "time_zone": "Mars/Olympus"}),
    ("provisioning.account.opened", {**OPENED, "currency": "notacurrency"}),
    ("provisioning.account.opened", {**OPENED, "payment_terms_days": 100_000_000}),
    ("provisioning.account.opened", {**OPENED, "at": "0001-01-01T00:00:00Z"}),
    ("provisioning.account.opened", {**OPENED, "account_id": "a/b"}),
    ("provisioning.feature.provisioned", {"account_id": "bad", "subscription_id": "s", "part_number": "XDM00001",
                                          "quantity": -5, "at": "2026-01-02T00:00:00Z"}),
    ("provisioning.feature.provisioned", {"account_id": "bad", "subscription_id": "s", "part_number": "XDM00001",
                                          "quantity": 1, "at": "0001-01-01T00:00:00+01:00"}),
]


async def test_invalid_contracts_are_dead_lettered_and_the_partition_goes_on(rating, infra, namespace, db):
    schema = f"{namespace}rating"
    bad = [forged(t, "bad", p) for t, p in POISON]
    good = env(AccountOpenedV1(account_id="bad", time_zone="Europe/Berlin", at=T0), "bad")
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events",
                            [env(seed_catalog(), "catalog"), *bad, good])
    await publish_envelopes(infra.kafka, f"{namespace}usage.records", [
        forged("usage.recorded", "bad", {"record_id": "u1", "account_id": "bad", "part_number": "FAX-PAGE-OUT",
                                         "quantity": q, "used_at": "2026-01-05T00:00:00Z"})
        for q in ("1e40", "-1", "NaN")])

    async def stored():
        return await db.fetchval(f"SELECT count(*) FROM {schema}.accounts") == 1 and \
            await db.fetchval(f"SELECT count(*) FROM {schema}.dead_letters") == len(POISON) + 3
    await eventually(stored, what="the valid account stored, the invalid ones dead-lettered")
    account = await db.fetchrow(f"SELECT * FROM {schema}.accounts")
    assert (account["account_id"], account["time_zone"], account["payment_terms_days"]) == ("bad", "Europe/Berlin", 30)
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.subscriptions") == 0
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.usage_records") == 0
    errors = [r["error"] for r in await db.fetch(f"SELECT error FROM {schema}.dead_letters")]
    assert all(e.startswith("undecodable") for e in errors)
    dead = await read_all(infra.kafka, f"{namespace}rating.dead-letter", expect=len(POISON) + 3)
    assert len(dead) == len(POISON) + 3


async def test_unknown_accounts_and_products_are_held_then_applied_or_rejected(rating, infra, namespace, db):
    schema = f"{namespace}rating"
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", [
        env(seed_catalog(), "catalog"), env(AccountOpenedV1(account_id="acme", at=T0), "acme")])
    await eventually(lambda: db.fetchval(f"SELECT count(*) FROM {schema}.accounts"), what="acme known")

    def usage(record_id: str, account: str, part: str = "FAX-PAGE-OUT") -> Envelope:
        return env(UsageRecordedV1(record_id=record_id, account_id=account, part_number=part, quantity=Decimal(3),
                                   used_at=datetime.fromisoformat("2026-01-05T00:00:00+00:00")), account)
    await publish_envelopes(infra.kafka, f"{namespace}usage.records", [
        usage("ok", "acme"), usage("ghost-1", "ghost"), usage("nope-1", "acme", "NOPE"), usage("late-1", "late")])
    await publish_envelopes(infra.kafka, f"{namespace}platform.user-counts", [
        env(UserCountReportedV1(account_id="late", count=7, at=T0), "late")])

    async def held():
        return await db.fetchval(f"SELECT count(*) FROM {schema}.pending_facts") >= 3 and \
            await db.fetchval(f"SELECT count(*) FROM {schema}.usage_records") == 1
    await eventually(held, what="unknown references held, the known record stored")
    # the late account's opening arrives: what waited for it becomes a fact
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", [
        env(AccountOpenedV1(account_id="late", at=T0), "late")])

    async def settled():
        ids = {r["record_id"] for r in await db.fetch(f"SELECT record_id FROM {schema}.usage_records")}
        pending = await db.fetchval(f"SELECT count(*) FROM {schema}.pending_facts")
        return ids if pending == 0 and "late-1" in ids else None
    ids = await eventually(settled, timeout=30, what="late facts applied, the rest expired")
    assert ids == {"ok", "late-1"}
    assert await db.fetchval(f"SELECT count FROM {schema}.user_counts WHERE account_id = 'late'") == 7
    rejected = [Envelope.decode(r.value) for r in await read_all(infra.kafka, f"{namespace}platform.rejections",
                                                                  expect=2)]
    reasons = sorted((e.payload["reason"], e.payload["command"]["record_id"]) for e in rejected)
    assert reasons == [("unknown_account", "ghost-1"), ("unknown_product", "nope-1")]
    assert all(e.payload["command_type"] == "usage.recorded" for e in rejected)



@pytest.fixture
async def rating_db(infra, namespace, db):
    """Rating's schema on the real database, without the process: the use cases called directly."""
    schema = f"{namespace}rating"
    await shared_db.migrate_dsn(infra.database_url, schema, MIGRATIONS)
    pool = await shared_db.create_pool(infra.database_url, schema)
    yield pool
    await pool.close()


async def test_held_facts_are_applied_by_the_opening_or_before_a_run_and_expire_by_settings(rating_db, namespace):
    settings = Settings(service="rating", topic_prefix=namespace, schema=f"{namespace}rating",
                        tuning=Tuning.model_validate({"pending_facts_s": 3600}))
    usage = [(e, e_payload) for e, e_payload in ((env(p, p.account_id), p) for p in (
        UsageRecordedV1(record_id="r1", account_id="first", part_number="FAX-PAGE-OUT", quantity=Decimal(1),
                        used_at=T0),
        UsageRecordedV1(record_id="r2", account_id="second", part_number="FAX-PAGE-OUT", quantity=Decimal(2),
                        used_at=T0)))]
    async with rating_db.acquire() as conn:
        async with conn.transaction():
            await handlers.on_provisioning_events(conn, [(e, parse(e)) for e in [env(seed_catalog(), "catalog")]])
            await handlers.on_usage(conn, usage)
        assert await conn.fetchval("SELECT count(*) FROM pending_facts") == 2
        # the opening of one account releases its own facts, not the other's
        async with conn.transaction():
            opened = env(AccountOpenedV1(account_id="first", at=T0), "first")
            await handlers.on_provisioning_events(conn, [(opened, parse(opened))])
        assert [r["record_id"] for r in await conn.fetch("SELECT record_id FROM usage_records")] == ["r1"]
        # an account stored while its fact was being held (the race): the run request applies it
        await conn.execute("INSERT INTO accounts (account_id, time_zone, mode, currency, payment_terms_days, "
                           "opened_at) VALUES ('second', 'UTC', 'subscription', 'USD', 30, $1)", T0)
        request = env(RequestBillingRunV1(run_id="run-1", month="2026-02", requested_at=T0), "2026-02")
        async with conn.transaction():
            await handlers.on_run_request(conn, request, parse(request))
        assert await conn.fetchval("SELECT count(*) FROM usage_records") == 2
        assert await conn.fetchval("SELECT count(*) FROM pending_facts") == 0
        # held past the setting: rejected into the outbox, once
        ghost = env(UsageRecordedV1(record_id="g", account_id="ghost", part_number="FAX-PAGE-OUT",
                                    quantity=Decimal(1), used_at=T0), "ghost")
        await handlers.on_usage(conn, [(ghost, parse(ghost))])
        now = datetime.now(timezone.utc)
        assert await pending.sweep(conn, settings, now) == (0, 0)
        assert await pending.sweep(conn, settings, now + timedelta(hours=1, seconds=1)) == (0, 1)
        [row] = await conn.fetch("SELECT topic, payload FROM outbox WHERE event_type = 'command.rejected'")
        assert row["topic"] == f"{namespace}platform.rejections"
        assert Envelope.decode(row["payload"]).payload["reason"] == "unknown_account"
