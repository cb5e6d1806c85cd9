"""Rating's daily usage debits of prepaid accounts, on the real database: one event per account and
local midnight (empty or not), the usage that arrived before it priced with tiers continuing in
the month of use, each record once, and none of it in a billing run."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, FeatureProvisionedV1
from contracts.rating import PrepaidUsageRatedV2, RequestBillingRunV1
from contracts.usage import UsageRecordedV1
from services.rating import prepaid, service
from shared import db as kit_db
from shared.settings import Settings
from tests.support.rating import each_account

pytestmark = pytest.mark.infra
SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def env(payload, key: str, when: str = "2026-03-01T00:00:00Z") -> Envelope:
    return wrap(payload, key=key, producer="test", occurred_at=at(when))


def pages(record: str, n: int, used: str, received: str, account: str = "pre") -> UsageRecordedV1:
    return UsageRecordedV1(record_id=record, account_id=account, part_number="FAX-PAGE-IN", quantity=Decimal(n),
                           used_at=at(used), received_at=at(received))


@pytest.fixture
async def rating_pool(infra, namespace, db):
    settings = Settings(service="rating", schema=f"{namespace}rating", topic_prefix=namespace)
    await kit_db.migrate_dsn(infra.database_url, settings.db_schema, Path(service.__file__).parent / "migrations")
    pool = await kit_db.create_pool(infra.database_url, settings.db_schema, 1, 3)
    yield pool, settings
    await pool.close()


async def _published(db, namespace: str) -> list[dict]:
    rows = await db.fetch(f"SELECT payload FROM {namespace}rating.outbox WHERE event_type = $1 ORDER BY id",
                          "rating.prepaid_usage.rated")
    envelopes = [Envelope.decode(r["payload"]) for r in rows]
    for e in envelopes:  # the plain-JSON batches hold to the contract
        assert e.schema_version == 2
        PrepaidUsageRatedV2.model_validate(e.payload)
    return [item for e in envelopes for item in e.payload["items"]]


async def test_each_midnight_debits_the_usage_that_arrived_before_it(rating_pool, db, namespace):
    pool, settings = rating_pool
    products = json.loads((SCENARIOS / "seed-000-example-1.json").read_text())["catalog"]["products"]
    async with pool.acquire() as conn:
        catalog = CatalogPublishedV1(currency="USD", products=products, at=at("2026-01-01T00:00:00Z"))
        await service.record_catalog(conn, env(catalog, "catalog"), catalog)
        for account, mode in (("pre", "prepaid"), ("sub", "subscription"), ("ber", "prepaid")):
            tz = "Europe/Berlin" if account == "ber" else "UTC"
            opened = AccountOpenedV1(account_id=account, mode=mode, time_zone=tz, at=at("2026-03-01T00:00:00Z"))
            await service.record_account(conn, env(opened, account), opened)
        feature = FeatureProvisionedV1(account_id="pre", subscription_id="n1", part_number="XDM00001", quantity=1,
                                       at=at("2026-03-01T00:00:00Z"))
        await service.record_feature_provisioned(conn, env(feature, "pre"), feature)
        usage = [pages("u1", 800, "2026-03-02T10:00:00Z", "2026-03-02T10:00:05Z"),
                 pages("u2", 400, "2026-03-03T10:00:00Z", "2026-03-03T10:00:05Z"),
                 pages("u2", 400, "2026-03-03T10:00:00Z", "2026-03-03T11:00:00Z"),  # a known id: once
                 # used in March, arrived after April's first midnight: debited at 04-02, March's tiers
                 pages("u3", 100, "2026-03-31T20:00:00Z", "2026-04-01T00:00:30Z"),
                 pages("s1", 10, "2026-03-02T10:00:00Z", "2026-03-02T10:00:05Z", account="sub")]
        await service.record_usage(conn, [(env(u, u.account_id), u) for u in usage])

    now = at("2026-04-02T01:00:00Z")
    assert await prepaid.debit_due_midnights(pool, settings, now, chunk=1) == 1
    assert await prepaid.debit_due_midnights(pool, settings, now) == 1
    assert await prepaid.debit_due_midnights(pool, settings, now) == -1  # nothing due until the next midnight
    published = await _published(db, namespace)
    pre = [p for p in published if p["account_id"] == "pre"]
    # every midnight from 03-02 to 04-02 (32), empty or not: prepaid_credit's watermark
    assert [p["at"] for p in pre][:2] == ["2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"]
    assert len(pre) == 32 and pre[-1]["at"] == "2026-04-02T00:00:00+00:00"
    debits = {p["at"][:10]: [(x["part_number"], x["from"], x["quantity"], x["amount"]) for x in p["lines"]]
              for p in pre if p["lines"]}
    assert debits == {
        "2026-03-03": [("FAX-PAGE-IN", "2026-03-01", "800", "32.00")],   # 800 x 0.04
        "2026-03-04": [("FAX-PAGE-IN", "2026-03-01", "400", "12.00")],   # 200 x 0.04 + 200 x 0.02: tiers go on
        "2026-04-02": [("FAX-PAGE-IN", "2026-03-01", "100", "2.00")],    # late: March's tiers, 0.02
    }
    berlin = [at(p["at"]) for p in published if p["account_id"] == "ber"]
    assert (berlin[0], berlin[-1]) == (at("2026-03-01T23:00:00Z"), at("2026-04-01T22:00:00Z"))  # CET, then CEST
    assert not [p for p in published if p["account_id"] == "sub"]
    debited = await db.fetch(f"SELECT record_id, rated_month FROM {namespace}rating.usage_records ORDER BY 1")
    assert [tuple(r) for r in debited] == [("s1", None), ("u1", "2026-03-03"), ("u2", "2026-03-04"),
                                           ("u3", "2026-04-02")]

    # the April run debits pre's recurring line and none of its usage
    async with pool.acquire() as conn:
        request = RequestBillingRunV1(run_id="r-04", month="2026-04", requested_at=at("2026-04-01T06:00:00Z"))
        await service.request_run(conn, env(request, "2026-04"), request)
    while await service.rate_next_chunk(pool, settings, now) >= 0:
        pass
    rows = await db.fetch(f"SELECT payload FROM {namespace}rating.outbox WHERE event_type = 'rating.charges.rated'")
    charges = {e.payload["account_id"]: e.payload for e in each_account(Envelope.decode(r["payload"]) for r in rows)}
    assert {x["part_number"] for x in charges["pre"]["lines"]} == {"XDM00001"}
    assert charges["pre"]["run_at"] == "2026-04-01T06:00:00+00:00"
    assert {x["part_number"] for x in charges["sub"]["lines"]} == {"FAX-PAGE-IN"}
