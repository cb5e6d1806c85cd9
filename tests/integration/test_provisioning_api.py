"""The Onboarding API in-process (httpx ASGI transport) on the real database: every operation's
happy path and reads, and every refusal with its reason code, changing nothing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import OpenAccountV1, ProvisionFeatureV1, RemoveFeatureV1
from contracts.registry import parse
from services.provisioning import handlers
from shared import db as shared_db
from shared.clock import FrozenClock
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.http import asgi_client

pytestmark = pytest.mark.infra

MIGRATIONS = Path(handlers.__file__).parent / "migrations"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
SCENARIO = Path("/work/shared/scenarios/brand-termination.json")
CATALOG = {"currency": "USD", "products": [
    {"part_number": "XDM00001", "name": "Insights User", "kind": "recurring", "unit_price": "12.00",
     "minimum_days": 30},
    {"part_number": "HCM-PACK", "kind": "pack", "unit_price": "2500.00", "pack_size": 100000},
    {"part_number": "HCM-FULL-BRAND", "kind": "recurring", "unit_price": "4000.00",
     "termination": "end_of_month", "minimum_term_months": 12},
    {"part_number": "HCM-THEME-BRAND", "kind": "recurring", "unit_price": "1000.00",
     "termination": "end_of_month"},
    {"part_number": "HCM-REGION", "kind": "recurring", "unit_price": "1500.00",
     "termination": "end_of_month", "minimum_term_months": 12},
    {"part_number": "FAX-PAGE-IN", "kind": "usage", "unit_price": "0.04", "tier_mode": "graduated",
     "tiers": [{"up_to": 1000, "unit_price": "0.04"}, {"up_to": None, "unit_price": "0.02"}]},
]}


@pytest.fixture
async def api(infra, namespace, db, api_keys):
    settings = Settings(service="provisioning", database_url=infra.database_url, topic_prefix=namespace,
                        schema=f"{namespace}provisioning", api_keys_file=str(api_keys.path))
    runtime = ServiceRuntime(settings, MIGRATIONS, FrozenClock(NOW))
    await shared_db.migrate_dsn(settings.database_url, settings.db_schema, MIGRATIONS)
    runtime.pool = await shared_db.create_pool(settings.database_url, settings.db_schema)
    async with asgi_client(handlers.http_app(runtime), "http://provisioning") as client:
        client.runtime = runtime
        yield client
    await runtime.pool.close()


async def _events(db, namespace) -> list[Envelope]:
    rows = await db.fetch(f"SELECT payload FROM {namespace}provisioning.outbox ORDER BY id")
    return [Envelope.decode(r["payload"]) for r in rows]


async def _setup(api):
    assert (await api.put("/v1/catalog", json=CATALOG)).status_code == 200
    r = await api.post("/v1/accounts", json={"account_id": "partner-a", "time_zone": "Europe/Berlin",
                                             "payment_terms_days": 14})
    assert r.status_code == 201, r.text
    r = await api.post("/v1/brands", json={"account_id": "partner-a", "subscription_id": "brand-1",
                                           "part_number": "HCM-FULL-BRAND", "cloud": "commercial",
                                           "at": "2026-03-15T10:00:00Z"})
    assert r.status_code == 201, r.text
    r = await api.post("/v1/customers", json={"account_id": "partner-a", "customer_id": "c1",
                                              "brand_id": "brand-1", "at": "2026-03-20T10:00:00Z"})
    assert r.status_code == 201, r.text


async def test_happy_paths_publish_each_event_keyed_by_account(api, db, namespace):
    await _setup(api)
    calls = [
        ("/v1/accounts", {"account_id": "child-1", "parent_account_id": "partner-a", "mode": "prepaid",
                          "currency": "USD", "time_zone": "America/New_York"}),
        ("/v1/brands", {"account_id": "partner-a", "subscription_id": "brand-1", "part_number": "HCM-FULL-BRAND",
                        "cloud": "government", "at": "2026-03-16T10:00:00Z"}),
        ("/v1/regions", {"account_id": "partner-a", "subscription_id": "region-1", "part_number": "HCM-REGION",
                         "brand_ids": ["brand-1"], "at": "2026-03-17T10:00:00Z"}),
        ("/v1/packs", {"account_id": "partner-a", "subscription_id": "packs", "part_number": "HCM-PACK",
                       "full_brand_id": "brand-1", "at": "2026-03-10T12:00:00Z"}),
        ("/v1/features", {"account_id": "partner-a", "subscription_id": "f1", "part_number": "XDM00001",
                          "quantity": 3, "customer_id": "c1", "at": "2026-03-21T10:00:00Z"}),
        ("/v1/subscriptions/f1/removal", {"at": "2026-03-25T10:00:00Z"}),
    ]
    for path, body in calls:
        r = await api.post(path, json=body)
        assert r.status_code == 201, (path, r.text)
    r = await api.put("/v1/customers/c1/placement", json={"brand_id": "brand-1", "region_ids": ["region-1"]})
    assert r.status_code == 200 or r.status_code == 201, r.text

    events = await _events(db, namespace)
    assert [e.type for e in events] == [
        "provisioning.catalog.published", "provisioning.account.opened", "provisioning.brand.ready",
        "provisioning.customer.provisioned", "provisioning.account.opened", "provisioning.brand.ready",
        "provisioning.region.activated", "provisioning.partner.onboarded", "provisioning.feature.provisioned",
        "provisioning.feature.removed", "provisioning.customer.provisioned"]
    assert [e.key for e in events[1:]] == ["partner-a"] * 3 + ["child-1"] + ["partner-a"] * 6
    brand_events = [parse(e) for e in events if e.type == "provisioning.brand.ready"]
    assert [(b.cloud, b.billing_started) for b in brand_events] == [("commercial", True), ("government", False)]
    assert parse(events[9]).at == datetime(2026, 3, 25, 10, tzinfo=timezone.utc)

    # reads, each with its billing state
    accounts = (await api.get("/v1/accounts")).json()
    assert [a["account_id"] for a in accounts] == ["child-1", "partner-a"]
    assert (await api.get("/v1/accounts/partner-a")).json()["child_account_ids"] == ["child-1"]
    customers = (await api.get("/v1/accounts/partner-a/customers")).json()
    assert customers[0]["region_ids"] == ["region-1"] and customers[0]["billing_state"] == {"state": "active"}
    feature = (await api.get("/v1/subscriptions/f1")).json()
    assert feature["billing_state"]["state"] == "ended" and feature["quantity"] == 3
    brands = (await api.get("/v1/accounts/partner-a/brands")).json()
    assert brands[0]["clouds"] == ["commercial", "government"] and brands[0]["billing_state"] == {"state": "active"}
    assert [r["subscription_id"] for r in (await api.get("/v1/accounts/partner-a/regions")).json()] == ["region-1"]
    assert [r["subscription_id"] for r in (await api.get("/v1/accounts/partner-a/packs")).json()] == ["packs"]
    subs = (await api.get("/v1/accounts/partner-a/subscriptions", params={"part_number": "XDM00001"})).json()
    assert [s["subscription_id"] for s in subs] == ["f1"]
    of_c1 = (await api.get("/v1/accounts/partner-a/subscriptions", params={"customer_id": "c1"})).json()
    assert [s["subscription_id"] for s in of_c1] == ["f1"]
    assert (await api.get("/v1/accounts/partner-a/subscriptions", params={"customer_id": "nobody"})).json() == []
    catalog = (await api.get("/v1/catalog")).json()
    assert {p["part_number"] for p in catalog["products"]} == {p["part_number"] for p in CATALOG["products"]}


async def test_brand_termination_waits_for_customers_then_ends_after_minimum_term(api, db, namespace):
    await _setup(api)
    r = await api.post("/v1/subscriptions/brand-1/termination", json={"at": "2026-06-10T09:00:00Z"})
    assert r.status_code == 409 and r.json()["reason"] == "customers_provisioned"
    r = await api.post("/v1/customers/c1/removal", json={"at": "2026-06-11T09:00:00Z"})
    assert r.status_code == 201
    r = await api.post("/v1/subscriptions/brand-1/termination", json={"at": "2026-06-12T09:00:00Z"})
    assert r.status_code == 201, r.text
    event = r.json()["events"][0]
    assert event["type"] == "provisioning.termination.scheduled"
    assert event["effective_date"] == "2027-04-01"
    assert event["effective_at"] == "2027-04-01T00:00:00+02:00"  # the metering point in Europe/Berlin
    shown = (await api.get("/v1/subscriptions/brand-1")).json()
    assert shown["billing_state"] == {"state": "termination_pending", "effective_at": "2027-04-01T00:00:00+02:00",
                                      "effective_date": "2027-04-01"}
    assert (await api.get("/v1/customers/c1")).json()["billing_state"]["state"] == "ended"
    r = await api.post("/v1/subscriptions/brand-1/termination", json={"at": "2026-06-13T09:00:00Z"})
    assert r.status_code == 409 and r.json()["reason"] == "already_ended"


REFUSALS = [
    ("unknown_account", 404, "/v1/features", {"account_id": "nobody", "subscription_id": "x",
                                              "part_number": "XDM00001"}),
    ("unknown_account", 404, "/v1/accounts", {"account_id": "child", "parent_account_id": "nobody"}),
    ("unknown_customer", 404, "/v1/features", {"account_id": "partner-a", "subscription_id": "x",
                                               "part_number": "XDM00001", "customer_id": "ghost"}),
    ("unknown_customer", 404, "/v1/customers/ghost/removal", {}),
    ("unknown_product", 404, "/v1/features", {"account_id": "partner-a", "subscription_id": "x",
                                              "part_number": "NOPE"}),
    ("unknown_product", 404, "/v1/brands", {"account_id": "partner-a", "subscription_id": "x",
                                            "part_number": "FAX-PAGE-IN"}),
    ("unknown_subscription", 404, "/v1/subscriptions/ghost/removal", {}),
    ("unknown_subscription", 404, "/v1/regions", {"account_id": "partner-a", "subscription_id": "r9",
                                                  "part_number": "HCM-REGION", "brand_ids": ["ghost"]}),
    ("duplicate_subscription", 409, "/v1/features", {"account_id": "partner-a", "subscription_id": "brand-1",
                                                     "part_number": "XDM00001"}),
    ("duplicate_account", 409, "/v1/accounts", {"account_id": "partner-a"}),
    ("duplicate_customer", 409, "/v1/customers", {"account_id": "partner-a", "customer_id": "c1"}),
    ("customers_provisioned", 409, "/v1/subscriptions/brand-1/termination", {}),
    ("invalid_request", 422, "/v1/accounts", {"account_id": "z", "time_zone": "Mars/Olympus"}),
    ("invalid_request", 422, "/v1/features", {"account_id": "partner-a", "subscription_id": "q",
                                              "part_number": "XDM00001", "quantity": 0}),
    # issue 9: what was accepted, stored, or answered with a 5xx
    ("currency_not_in_catalog", 422, "/v1/accounts", {"account_id": "gbp", "currency": "GBP"}),
    ("before_account_opened", 422, "/v1/features", {"account_id": "partner-a", "subscription_id": "old",
                                                    "part_number": "XDM00001", "at": "2000-01-01T00:00:00Z"}),
    ("before_account_opened", 422, "/v1/features", {"account_id": "partner-a", "subscription_id": "old",
                                                    "part_number": "XDM00001", "at": "2026-02-28T00:00:00Z"}),
    *[("invalid_request", 422, "/v1/accounts", body) for body in (
        {"account_id": "z", "time_zone": ""}, {"account_id": "z", "time_zone": "\u0000"},
        {"account_id": "z", "currency": "notacurrency"}, {"account_id": "z", "currency": "XXX"},
        {"account_id": "z", "payment_terms_days": 100_000_000}, {"account_id": "z", "payment_terms_days": 10**12},
        {"account_id": "z", "payment_terms_days": -1}, {"account_id": "a/b"}, {"account_id": "a\u0000"},
        {"account_id": "x" * 900_000}, {"account_id": "z", "name": "n\u0000"}, {"account_id": "z", "name": "n" * 201},
        {"account_id": "z", "at": "0001-01-01T00:00:00Z"}, {"account_id": "z", "at": "0001-01-01T00:00:00+01:00"},
        {"account_id": "z", "at": "9999-12-31T23:59:59-01:00"}, {"account_id": "z", "at": "9999-12-31T00:00:00Z"},
        {"account_id": "z", "price_book": {"id": "b", "prices": {"XDM00001": "1e999999"}}},
    )],
    *[("invalid_request", 422, "/v1/features", {"account_id": "partner-a", "subscription_id": "q",
                                                "part_number": "XDM00001", **extra}) for extra in (
        {"quantity": -5}, {"quantity": 2**31}, {"quantity": 10**40}, {"at": "0001-01-01T00:00:00Z"},
        {"at": "1900-01-01T00:00:00Z"}, {"customer_id": "c\u0000"}, {"subscription_id": "s/1"},
    )],
    ("unknown_product", 404, "/v1/accounts", {"account_id": "z", "price_book": {"id": "b", "prices": {"NOPE": "1"}}}),
]


@pytest.mark.parametrize(("reason", "status", "path", "body"), REFUSALS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSALS)])
async def test_each_refusal_has_its_reason_and_changes_nothing(api, db, namespace, reason, status, path, body):
    await _setup(api)
    schema = f"{namespace}provisioning"
    tables = ("accounts", "customers", "subscriptions", "outbox")
    before = {t: await db.fetch(f"SELECT * FROM {schema}.{t} ORDER BY 1") for t in tables}
    r = await api.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason
    after = {t: await db.fetch(f"SELECT * FROM {schema}.{t} ORDER BY 1") for t in tables}
    assert after == before


async def test_already_ended_feature_and_customer(api):
    await _setup(api)
    await api.post("/v1/features", json={"account_id": "partner-a", "subscription_id": "f1",
                                         "part_number": "XDM00001", "at": "2026-03-21T10:00:00Z"})
    early = await api.post("/v1/subscriptions/f1/removal", json={"at": "2026-03-20T10:00:00Z"})
    assert early.status_code == 422 and early.json()["reason"] == "invalid_instant"
    late = {"at": "2026-03-25T10:00:00Z"}
    assert (await api.post("/v1/subscriptions/f1/removal", json=late)).status_code == 201
    r = await api.post("/v1/subscriptions/f1/removal", json=late)
    assert r.status_code == 409 and r.json()["reason"] == "already_ended"
    assert (await api.post("/v1/customers/c1/removal", json=late)).status_code == 201
    r = await api.post("/v1/customers/c1/removal", json=late)
    assert r.status_code == 409 and r.json()["reason"] == "already_ended"


async def test_commands_on_the_topic_use_the_same_rules_and_reject_with_a_reason(api, db, namespace):
    await _setup(api)
    runtime = api.runtime
    handle = handlers.command_handler(runtime)
    at = datetime(2026, 4, 2, tzinfo=timezone.utc)
    commands = [
        ProvisionFeatureV1(account_id="partner-a", subscription_id="t1", part_number="XDM00001",
                           customer_id="c1", at=at),
        ProvisionFeatureV1(account_id="partner-a", subscription_id="t1", part_number="XDM00001", at=at),
        RemoveFeatureV1(subscription_id="t1", at=at),
    ]
    batch = [(e, parse(e)) for e in (wrap(c, key="partner-a", producer="test", occurred_at=at) for c in commands)]
    async with runtime.pool.acquire() as conn, conn.transaction():
        await handle(conn, batch)
    events = (await _events(db, namespace))[-3:]
    assert [e.type for e in events] == ["provisioning.feature.provisioned", "command.rejected",
                                        "provisioning.feature.removed"]
    rejected = parse(events[1])
    assert rejected.reason == "duplicate_subscription" and rejected.command_id == str(batch[1][0].event_id)
    topics = await db.fetch(f"SELECT DISTINCT topic FROM {namespace}provisioning.outbox")
    assert {r["topic"] for r in topics} == {f"{namespace}provisioning.events", f"{namespace}platform.rejections"}
    assert json.loads(events[1].encode())["payload"]["account_id"] == "partner-a"


async def test_commands_on_the_topic_refuse_unknown_currencies_and_back_dating(api, db, namespace):
    await _setup(api)
    handle = handlers.command_handler(api.runtime)
    at = datetime(2026, 4, 2, tzinfo=timezone.utc)
    commands = [OpenAccountV1(account_id="gbp", currency="GBP", at=at),
                ProvisionFeatureV1(account_id="partner-a", subscription_id="old", part_number="XDM00001",
                                   at=datetime(2001, 1, 1, tzinfo=timezone.utc))]
    batch = [(e, parse(e)) for e in (wrap(c, key="partner-a", producer="test", occurred_at=at) for c in commands)]
    async with api.runtime.pool.acquire() as conn, conn.transaction():
        await handle(conn, batch)
    events = (await _events(db, namespace))[-2:]
    assert [parse(e).reason for e in events] == ["currency_not_in_catalog", "before_account_opened"]
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.accounts WHERE account_id = 'gbp'") == 0
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.subscriptions "
                             "WHERE subscription_id = 'old'") == 0


async def test_a_body_over_the_limit_is_413_unread(api, db, namespace):
    body = b'{"account_id": "big", "name": "' + b"n" * (9 * 1024 * 1024) + b'"}'
    r = await api.post("/v1/accounts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["reason"] == "request_too_large"
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.accounts") == 0


async def test_a_feature_named_as_a_brand_or_region_is_an_unknown_subscription(api, db, namespace):
    """BILLING_RULES 3 as clarified: placements and regions name brands and regions, not features."""
    await _setup(api)
    r = await api.post("/v1/features", json={"account_id": "partner-a", "subscription_id": "f1",
                                             "part_number": "XDM00001", "at": "2026-03-21T10:00:00Z"})
    assert r.status_code == 201, r.text
    before = await db.fetch(f"SELECT * FROM {namespace}provisioning.customers ORDER BY 1")
    at = "2026-03-22T10:00:00Z"
    for path, body in (
            ("/v1/customers", {"account_id": "partner-a", "customer_id": "c2", "brand_id": "f1", "at": at}),
            ("/v1/customers", {"account_id": "partner-a", "customer_id": "c2", "brand_id": "brand-1",
                               "region_ids": ["f1"], "at": at}),
            ("/v1/regions", {"account_id": "partner-a", "subscription_id": "r1", "part_number": "HCM-REGION",
                             "brand_ids": ["f1"], "at": at})):
        r = await api.post(path, json=body)
        assert r.status_code == 404 and r.json()["reason"] == "unknown_subscription", (path, body, r.text)
    r = await api.put("/v1/customers/c1/placement", json={"brand_id": "brand-1", "region_ids": ["brand-1"],
                                                          "at": at})
    assert r.status_code == 404 and r.json()["reason"] == "unknown_subscription", r.text
    assert await db.fetch(f"SELECT * FROM {namespace}provisioning.customers ORDER BY 1") == before


async def test_a_brand_whose_termination_was_accepted_takes_nothing_new(api, db, namespace):
    """BILLING_RULES 3 as clarified: no new customer, cloud or region once its termination is accepted."""
    await _setup(api)
    r = await api.post("/v1/brands", json={"account_id": "partner-a", "subscription_id": "brand-2",
                                           "part_number": "HCM-THEME-BRAND", "cloud": "commercial",
                                           "at": "2026-03-15T10:00:00Z"})
    assert r.status_code == 201, r.text
    r = await api.post("/v1/subscriptions/brand-2/removal", json={"at": "2026-03-20T10:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["events"][0]["effective_date"] == "2026-04-01"  # a removal is its termination request
    at = "2026-03-21T10:00:00Z"
    for path, body in (
            ("/v1/customers", {"account_id": "partner-a", "customer_id": "c2", "brand_id": "brand-2", "at": at}),
            ("/v1/brands", {"account_id": "partner-a", "subscription_id": "brand-2",
                            "part_number": "HCM-THEME-BRAND", "cloud": "government", "at": at}),
            ("/v1/regions", {"account_id": "partner-a", "subscription_id": "r1", "part_number": "HCM-REGION",
                             "brand_ids": ["brand-2"], "at": at})):
        r = await api.post(path, json=body)
        assert r.status_code == 409 and r.json()["reason"] == "already_ended", (path, body, r.text)


async def test_a_region_known_before_its_brands_is_billed_from_its_first_brand(api, db, namespace):
    """FORMAT.md's region_activated (an empty `brands` is accepted by the scenario run too, and a
    live replay must agree): a region made available to no brand is known, not billed; the first
    brand starts it; until then its termination ends it at once."""
    await _setup(api)
    r = await api.post("/v1/regions", json={"account_id": "partner-a", "subscription_id": "r-later",
                                            "part_number": "HCM-REGION", "brand_ids": [],
                                            "at": "2026-03-16T10:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["events"][0]["billing_started"] is False
    shown = (await api.get("/v1/subscriptions/r-later")).json()
    assert shown["billing_start"] is None and shown["brand_ids"] == []
    r = await api.post("/v1/regions", json={"account_id": "partner-a", "subscription_id": "r-later",
                                            "part_number": "HCM-REGION", "brand_ids": ["brand-1"],
                                            "at": "2026-03-18T10:00:00Z"})
    assert r.status_code == 201, r.text
    assert r.json()["events"][0]["billing_started"] is True
    assert (await api.get("/v1/subscriptions/r-later")).json()["billing_start"].startswith("2026-03-18")


async def test_a_region_named_only_with_theme_brands_waits_for_a_full_brand(api, db, namespace):
    """Section 3, with the catalogue saying which brand products are Full and which Theme."""
    catalog = {**CATALOG, "products": [
        {**p, "brand": {"HCM-FULL-BRAND": "full", "HCM-THEME-BRAND": "theme"}[p["part_number"]]}
        if p["part_number"] in ("HCM-FULL-BRAND", "HCM-THEME-BRAND") else p for p in CATALOG["products"]]}
    await _setup(api)  # brand-1 (HCM-FULL-BRAND) ready on 03-15
    assert (await api.put("/v1/catalog", json=catalog)).status_code == 200  # the brand types added
    listed = {p["part_number"]: p.get("brand") for p in (await api.get("/v1/catalog")).json()["products"]}
    assert listed["HCM-FULL-BRAND"] == "full" and listed["HCM-THEME-BRAND"] == "theme"
    r = await api.post("/v1/brands", json={"account_id": "partner-a", "subscription_id": "theme-1",
                                           "part_number": "HCM-THEME-BRAND", "cloud": "commercial",
                                           "at": "2026-03-15T10:00:00Z"})
    assert r.status_code == 201, r.text
    r = await api.post("/v1/regions", json={"account_id": "partner-a", "subscription_id": "r-theme",
                                            "part_number": "HCM-REGION", "brand_ids": ["theme-1"],
                                            "at": "2026-03-16T10:00:00Z"})
    assert r.status_code == 201 and r.json()["events"][0]["billing_started"] is False, r.text
    r = await api.post("/v1/regions", json={"account_id": "partner-a", "subscription_id": "r-theme",
                                            "part_number": "HCM-REGION", "brand_ids": ["brand-1"],
                                            "at": "2026-03-18T10:00:00Z"})
    assert r.status_code == 201 and r.json()["events"][0]["billing_started"] is True, r.text
    assert (await api.get("/v1/subscriptions/r-theme")).json()["billing_start"].startswith("2026-03-18")
    r = await api.put("/v1/catalog", json={**CATALOG, "products": [
        {"part_number": "X-BRAND", "kind": "recurring", "unit_price": "1.00", "brand": "premium"}]})
    assert r.status_code == 422, r.text
