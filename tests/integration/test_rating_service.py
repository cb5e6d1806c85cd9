"""The rating service as a process on the real broker and database: facts in, a billing run
requested, charges and a run summary out; the same request again publishes nothing new."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.envelope import Envelope
from contracts.platform import UserCountReportedV1
from contracts.provisioning import (
    AccountOpenedV1, FeatureProvisionedV1, FeatureRemovedV1, PartnerOnboardedV1,
)
from contracts.rating import RequestBillingRunV1
from contracts.usage import UsageRecordedV1
from tests.support.kafka import publish_envelopes, read_all
from tests.support.polling import eventually
from tests.support.rating import at, each_account, env, seed_catalog

pytestmark = pytest.mark.infra


@pytest.fixture
def rating(services):
    return services("rating")


def _not_daily(record) -> bool:
    return b"rating.prepaid_usage.rated" not in record.value


def _accounts_or_one(record) -> int:
    """A batch of charges counts its accounts, a summary one, a daily usage debit none."""
    if not _not_daily(record):
        return 0
    return record.value.count(b'"account_id":') if b'"rating.charges.rated"' in record.value else 1


async def _charges(infra, namespace, expect):
    """Each account's charges and the summaries (prepaid accounts' daily usage debits travel on the
    topic too: left out)."""
    records = await read_all(infra.kafka, f"{namespace}rating.charges", expect=expect, counted=_accounts_or_one)
    return each_account(Envelope.decode(r.value) for r in records if _not_daily(r))


async def test_run_rates_every_account_once(rating, infra, namespace, db):
    events = [
        env(seed_catalog(), "catalog"),
        env(AccountOpenedV1(account_id="acme", at=at("2026-01-01T00:00:00Z")), "acme"),
        env(AccountOpenedV1(account_id="pre", mode="prepaid", at=at("2026-01-01T00:00:00Z")), "pre"),
        env(AccountOpenedV1(account_id="ny", time_zone="America/New_York", at=at("2026-01-01T00:00:00Z")), "ny"),
        env(FeatureProvisionedV1(account_id="acme", subscription_id="s1", part_number="XDM00001", quantity=1,
                                 customer_id="c1", at=at("2026-03-15T09:30:00Z")), "acme"),
        env(FeatureProvisionedV1(account_id="pre", subscription_id="p1", part_number="XDM00020", quantity=2,
                                 at=at("2026-03-01T00:00:00Z")), "pre"),
        env(FeatureProvisionedV1(account_id="acme", subscription_id="s2", part_number="XDM00001", quantity=1,
                                 at=at("2026-03-10T08:00:00Z")), "acme"),
        env(FeatureRemovedV1(account_id="acme", subscription_id="s2", at=at("2026-03-10T17:00:00Z")), "acme"),
        # provisioned at the metering point: not part of the April run
        env(FeatureProvisionedV1(account_id="acme", subscription_id="s3", part_number="XDM00001", quantity=1,
                                 at=at("2026-04-01T00:00:00Z")), "acme"),
        env(FeatureProvisionedV1(account_id="ny", subscription_id="n1", part_number="XDM00001", quantity=1,
                                 at=at("2026-03-15T09:30:00Z")), "ny"),
    ]
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", events)
    usage = [env(UsageRecordedV1(record_id=f"u{i % 3}", account_id="acme", part_number="FAX-PAGE-OUT",
                                 quantity=Decimal(10), used_at=at("2026-03-20T10:00:00Z")), "acme",
                 "2026-03-20T10:00:05Z") for i in range(5)]  # 3 distinct ids, 2 repeats
    # a prepaid account's usage is debited daily by prepaid_credit: never part of a run
    usage.append(env(UsageRecordedV1(record_id="u-pre", account_id="pre", part_number="FAX-PAGE-OUT",
                                     quantity=Decimal(10), used_at=at("2026-03-20T10:00:00Z")), "pre",
                     "2026-03-20T10:00:05Z"))
    await publish_envelopes(infra.kafka, f"{namespace}usage.records", usage)

    async def facts_stored():
        return (await db.fetchval(f"SELECT count(*) FROM {namespace}rating.subscriptions") == 5
                and await db.fetchval(f"SELECT count(*) FROM {namespace}rating.usage_records") == 4)
    await eventually(facts_stored, what="facts stored")

    request = RequestBillingRunV1(run_id="r-2026-04", month="2026-04", requested_at=at("2026-04-01T06:00:00Z"))
    await publish_envelopes(infra.kafka, f"{namespace}rating.requests", [env(request, "2026-04")])
    got = await _charges(infra, namespace, expect=4)
    by_type = {}
    for e in got:
        by_type.setdefault(e.type, []).append(e.payload)
    charges = {c["account_id"]: c for c in by_type["rating.charges.rated"]}
    # New York's April metering point (04:00 UTC, daylight time) is before 06:00 UTC: included
    assert set(charges) == {"acme", "pre", "ny"}
    acme = charges["acme"]
    assert acme["settlement"] == "invoice" and charges["pre"]["settlement"] == "prepaid"
    assert {l["part_number"] for l in charges["pre"]["lines"]} == {"XDM00020"}  # its recurring lines only
    amounts = sorted((l["part_number"], l["from"], l["to"], l["amount"]) for l in acme["lines"])
    assert amounts == [
        ("FAX-PAGE-OUT", "2026-03-01", "2026-04-01", "1.50"),
        ("XDM00001", "2026-03-15", "2026-04-01", "6.58"),
        ("XDM00001", "2026-04-01", "2026-05-01", "12.00"),
    ]
    assert acme["total"] == "20.08"
    # what and for whom: the catalogue's name; s1 was provisioned for the reseller's customer c1
    assert sorted((l["product_name"], l.get("customer_id")) for l in acme["lines"]) == [
        ("Insights User", "c1"), ("Insights User", "c1"), ("Outbound fax page", None)]
    assert all(l["explanation"] for l in acme["lines"])
    [summary] = by_type["rating.run.rated"]
    assert summary["accounts"] == 3 and summary["invoice_accounts"] == 2 and summary["prepaid_accounts"] == 1
    assert summary["totals"]["prepaid"]["USD"] == "600.00"  # March in arrears + April in advance, 2 x 150.00

    # the same request again: nothing new; a new request for the month: only a summary of nothing
    again = RequestBillingRunV1(run_id="r-2026-04-b", month="2026-04", requested_at=at("2026-04-02T00:00:00Z"))
    await publish_envelopes(infra.kafka, f"{namespace}rating.requests", [env(request, "2026-04"), env(again, "2026-04")])
    got = await _charges(infra, namespace, expect=5)
    assert len(got) == 5
    # Kafka orders records within a partition only: the new run's summary is found by its run id
    # (it may be read before the first run's records on other partitions)
    [second] = [e.payload for e in got if e.type == "rating.run.rated" and e.payload["run_id"] == "r-2026-04-b"]
    assert second["accounts"] == 0 and second["lines"] == 0
    assert sum(e.type == "rating.run.rated" for e in got) == 2  # the repeated request rated nothing again


async def test_metering_point_in_the_account_zone_decides_due(rating, infra, namespace, db):
    events = [
        env(seed_catalog(), "catalog"),
        env(AccountOpenedV1(account_id="tokyo", time_zone="Asia/Tokyo", at=at("2026-01-01T00:00:00Z")), "tokyo"),
        env(AccountOpenedV1(account_id="la", time_zone="America/Los_Angeles", at=at("2026-01-01T00:00:00Z")), "la"),
        env(PartnerOnboardedV1(account_id="la", subscription_id="packs", part_number="HCM-PACK",
                               at=at("2026-03-10T12:00:00Z")), "la"),
        env(FeatureProvisionedV1(account_id="tokyo", subscription_id="t1", part_number="XDM00001", quantity=1,
                                 at=at("2026-03-01T00:00:00Z")), "tokyo"),
    ]
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", events)
    await publish_envelopes(infra.kafka, f"{namespace}platform.user-counts", [
        env(UserCountReportedV1(account_id="la", count=200_000, at=at("2026-03-31T20:00:00Z")), "la")])

    async def facts_stored():
        return (await db.fetchval(f"SELECT count(*) FROM {namespace}rating.subscriptions") == 2
                and await db.fetchval(f"SELECT count(*) FROM {namespace}rating.user_counts") == 1)
    await eventually(facts_stored, what="facts stored")
    # 2026-04-01T03:00Z: Tokyo's April has begun, Los Angeles' has not (it is still March 31 there)
    early = RequestBillingRunV1(run_id="early", month="2026-04", requested_at=at("2026-04-01T03:00:00Z"))
    late = RequestBillingRunV1(run_id="late", month="2026-04", requested_at=at("2026-04-01T08:00:00Z"))
    await publish_envelopes(infra.kafka, f"{namespace}rating.requests", [env(early, "2026-04"), env(late, "2026-04")])
    got = await _charges(infra, namespace, expect=4)
    assert len(got) == 4  # two charges, two summaries
    rated = [(e.payload["run_id"], e.payload.get("account_id")) for e in got if e.type == "rating.charges.rated"]
    assert rated == [("early", "tokyo"), ("late", "la")]
    la = next(e.payload for e in got if e.payload.get("account_id") == "la")
    packs = sorted((l["from"], l["quantity"]) for l in la["lines"])
    assert packs == [("2026-03-10", "1"), ("2026-04-01", "2")]


async def test_replicas_rate_a_run_chunk_by_chunk_each_account_once(services, infra, namespace, db):
    """Two rating processes, two workers each, chunks of 3 accounts: every account of the run is
    rated exactly once, and the next month's run starts from the ledger the first one wrote."""
    for replica in range(2):
        services("rating", replica=replica, BILLING_RUN_CHUNK="3", BILLING_RUN_WORKERS="2")
    ids = [f"acct-{i:02d}" for i in range(20)]
    events = [env(seed_catalog(), "catalog")]
    for aid in ids:
        events += [env(AccountOpenedV1(account_id=aid, at=at("2026-01-01T00:00:00Z")), aid),
                   env(FeatureProvisionedV1(account_id=aid, subscription_id=f"{aid}-s", part_number="XDM00001",
                                            quantity=1, at=at("2026-03-01T00:00:00Z")), aid)]
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", events)

    async def facts_stored():
        return await db.fetchval(f"SELECT count(*) FROM {namespace}rating.subscriptions") == 20
    await eventually(facts_stored, what="facts stored")
    for month, requested in (("2026-04", "2026-04-01T06:00:00Z"), ("2026-05", "2026-05-01T06:00:00Z")):
        await publish_envelopes(infra.kafka, f"{namespace}rating.requests", [
            env(RequestBillingRunV1(run_id=f"r-{month}", month=month, requested_at=at(requested)), month)])
    got = await _charges(infra, namespace, expect=42)
    charges = [e.payload for e in got if e.type == "rating.charges.rated"]
    summaries = {e.payload["run_id"]: e.payload for e in got if e.type == "rating.run.rated"}
    assert len(got) == 42
    for month in ("2026-04", "2026-05"):
        of_month = [c for c in charges if c["month"] == month]
        assert sorted(c["account_id"] for c in of_month) == ids  # each account once
        assert summaries[f"r-{month}"]["accounts"] == 20
    # April: March in arrears and April in advance; May: only May (the ledger was seen)
    assert {c["total"] for c in charges if c["month"] == "2026-04"} == {"24.00"}
    assert {c["total"] for c in charges if c["month"] == "2026-05"} == {"12.00"}
    chunks = await db.fetch(f"SELECT run_id, accounts, done_at FROM {namespace}rating.run_chunks")
    assert all(c["done_at"] is not None for c in chunks)
    assert sum(c["accounts"] for c in chunks if c["run_id"] == "r-2026-04") == 20


async def test_a_failing_chunk_leaves_nothing_and_is_rated_by_the_next_claim(infra, namespace, db, monkeypatch):
    """In process, on the real database: a chunk whose transaction fails writes nothing (no
    charges, no ledger, still pending); the next step rates it, once."""
    from services.rating import service, store
    from shared import db as kit_db
    from shared.settings import Settings

    settings = Settings(service="rating", schema=f"{namespace}rating", topic_prefix=namespace)
    migrations = Path(service.__file__).parent / "migrations"
    await kit_db.migrate_dsn(infra.database_url, settings.db_schema, migrations)
    pool = await kit_db.create_pool(infra.database_url, settings.db_schema, 1, 3)
    try:
        async with pool.acquire() as conn:
            catalog = seed_catalog()
            await service.record_catalog(conn, env(catalog, "catalog"), catalog)
            for i in range(5):
                opened = AccountOpenedV1(account_id=f"a{i}", at=at("2026-01-01T00:00:00Z"))
                feature = FeatureProvisionedV1(account_id=f"a{i}", subscription_id=f"a{i}-s", part_number="XDM00001",
                                               quantity=1, at=at("2026-03-01T00:00:00Z"))
                await service.record_account(conn, env(opened, opened.account_id), opened)
                await service.record_feature_provisioned(conn, env(feature, feature.account_id), feature)
            request = RequestBillingRunV1(run_id="r1", month="2026-04", requested_at=at("2026-04-01T06:00:00Z"))
            await service.request_run(conn, env(request, "2026-04"), request)
        now = at("2026-04-01T06:00:01Z")
        assert await service.rate_next_chunk(pool, settings, now, chunk=3) == 0  # planned: 1, 3 and 1 accounts

        real_save = store.save_account_runs

        async def broken(*args):
            await real_save(*args)
            raise ConnectionError("database went away mid-chunk")
        monkeypatch.setattr(store, "save_account_runs", broken)
        with pytest.raises(ConnectionError):
            await service.rate_next_chunk(pool, settings, now, chunk=3)
        counts = await db.fetchrow(f"""SELECT (SELECT count(*) FROM {namespace}rating.outbox) AS outbox,
            (SELECT count(*) FROM {namespace}rating.account_runs) AS runs,
            (SELECT count(*) FROM {namespace}rating.billed_through) AS ledger,
            (SELECT count(*) FROM {namespace}rating.run_chunks WHERE done_at IS NULL) AS pending""")
        assert dict(counts) == {"outbox": 0, "runs": 0, "ledger": 0, "pending": 3}

        monkeypatch.setattr(store, "save_account_runs", real_save)
        assert [await service.rate_next_chunk(pool, settings, now, chunk=3) for _ in range(5)] == [1, 3, 1, 0, -1]
        rated = await db.fetch(f"SELECT account_id FROM {namespace}rating.account_runs ORDER BY 1")
        assert [r["account_id"] for r in rated] == [f"a{i}" for i in range(5)]
        assert await db.fetchval(f"SELECT status FROM {namespace}rating.runs") == "rated"
        assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.outbox") == 6  # 5 charges, 1 summary
    finally:
        await pool.close()
