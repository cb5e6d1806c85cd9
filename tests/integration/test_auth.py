"""Who may call what, in process on the real PostgreSQL: 401 for every missing, broken or hostile
credential, 403 for a role that may not, and a partner confined to its own tree (another
partner's accounts, customers and subscriptions answer 404 and change nothing)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from contracts.provisioning import AccountOpenedV1
from services.auto_provisioning import handlers as auto_handlers, service as auto_service
from services.provisioning import handlers as prov_handlers
from services.rating import api as rating_api, service as rating_service
from shared import apikeys
from shared import db as shared_db
from shared.clock import FrozenClock
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.http import asgi_client

pytestmark = pytest.mark.infra

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
CATALOG = {"currency": "USD", "products": [
    {"part_number": "XDM00001", "name": "Insights User", "kind": "recurring", "unit_price": "12.00"},
    {"part_number": "HCM-FULL-BRAND", "kind": "recurring", "unit_price": "4000.00", "termination": "end_of_month"}]}
# two partners; partner-a has a child partner with a customer; partner-b a customer of its own
TREE = [("partner-a", None), ("child-a1", "partner-a"), ("grandchild-a2", "child-a1"), ("partner-b", None)]


async def _runtime(infra, namespace, api_keys, service: str, migrations: Path) -> ServiceRuntime:
    settings = Settings(service=service, database_url=infra.database_url, topic_prefix=namespace,
                        schema=f"{namespace}{service}", api_keys_file=str(api_keys.path))
    runtime = ServiceRuntime(settings, migrations, FrozenClock(NOW))
    await shared_db.migrate_dsn(settings.database_url, settings.db_schema, migrations)
    runtime.pool = await shared_db.create_pool(settings.database_url, settings.db_schema)
    return runtime


@pytest.fixture
async def prov(infra, namespace, db, api_keys):
    runtime = await _runtime(infra, namespace, api_keys, "provisioning", Path(prov_handlers.__file__).parent / "migrations")
    app = prov_handlers.http_app(runtime)
    async with asgi_client(app, "http://provisioning") as op:
        assert (await op.put("/v1/catalog", json=CATALOG)).status_code == 200
        for account, parent in TREE:
            r = await op.post("/v1/accounts", json={"account_id": account, "parent_account_id": parent})
            assert r.status_code == 201, r.text
        for account, customer in [("child-a1", "cust-a1"), ("partner-b", "cust-b")]:
            assert (await op.post("/v1/customers", json={"account_id": account, "customer_id": customer})).status_code == 201
        for account, sub in [("child-a1", "sub-a1"), ("partner-b", "sub-b")]:
            r = await op.post("/v1/features", json={"account_id": account, "subscription_id": sub,
                                                    "part_number": "XDM00001", "customer_id": None})
            assert r.status_code == 201, r.text
        yield app
    await runtime.pool.close()


def _as(app, token, base="http://provisioning") -> httpx.AsyncClient:
    return asgi_client(app, base, token)


async def _outbox(db, namespace) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.outbox")


def _refused(r: httpx.Response, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["reason"] == reason, r.text
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


# ------------------------------------------------------------------ 401
async def test_missing_broken_revoked_and_expired_keys_get_401_and_change_nothing(prov, api_keys, db, namespace):
    before = await _outbox(db, namespace)
    token = api_keys.operator
    cases = [
        ([], "missing_credentials"),
        ([("Authorization", "Bearer")], "malformed_credentials"),
        ([("Authorization", "Bearer   ")], "malformed_credentials"),
        ([("Authorization", f"Basic {token}")], "malformed_credentials"),
        ([("Authorization", token)], "malformed_credentials"),
        ([("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")], "malformed_credentials"),
        ([("Authorization", "Bearer garbage")], "malformed_key"),
        ([("Authorization", "Bearer " + "A" * 200_000)], "malformed_key"),
        ([("Authorization", "Bearer bk_0123456789abcdef_" + "a" * 43)], "unknown_key"),
        ([("Authorization", f"Bearer {token[:-2]}xx")], "unknown_key"),
        ([("Authorization", f"Bearer {token}\x00")], "malformed_key"),
        ([("Authorization", "Bearer bk_ünïcødé_☃".encode())], "malformed_key"),
        ([("Authorization", f"Bearer {api_keys.revoked()}")], "revoked_key"),
        ([("Authorization", f"Bearer {api_keys.expired()}")], "expired_key"),
    ]
    async with _as(prov, None) as anonymous:
        for headers, reason in cases:
            for method, path, body in [("GET", "/v1/accounts", None), ("PUT", "/v1/catalog", CATALOG),
                                       ("POST", "/v1/features", {"account_id": "partner-a", "subscription_id": "x",
                                                                 "part_number": "XDM00001"})]:
                r = await anonymous.request(method, path, json=body, headers=httpx.Headers(headers))
                _refused(r, 401, reason)
                challenge = r.headers["www-authenticate"]  # RFC 6750: an error code once a token came
                assert (challenge == 'Bearer realm="billing"') == (reason == "missing_credentials"), challenge
    assert await _outbox(db, namespace) == before


async def test_a_revoked_key_stops_at_once_and_its_successor_works(prov, api_keys):
    old, new = api_keys.create("operator"), api_keys.create("operator")  # rotation: new key first
    async with _as(prov, old) as with_old, _as(prov, new) as with_new:
        assert (await with_old.get("/v1/accounts")).status_code == 200
        apikeys.revoke(api_keys.path, old.split("_")[1], datetime.now(timezone.utc))
        _refused(await with_old.get("/v1/accounts"), 401, "revoked_key")
        assert (await with_new.get("/v1/accounts")).status_code == 200


# ------------------------------------------------------------------ 403
async def test_roles_that_may_not_get_403_and_change_nothing(prov, api_keys, db, namespace):
    before = await _outbox(db, namespace)
    async with _as(prov, api_keys.partner("partner-a")) as partner, _as(prov, api_keys.integration) as integration:
        _refused(await partner.put("/v1/catalog", json=CATALOG), 403, "forbidden_role")
        _refused(await partner.post("/v1/brands", json={"account_id": "partner-a", "subscription_id": "b1",
                                                         "part_number": "HCM-FULL-BRAND"}), 403, "forbidden_role")
        _refused(await partner.post("/v1/packs", json={"account_id": "partner-a", "subscription_id": "p1",
                                                        "part_number": "XDM00001"}), 403, "forbidden_role")
        _refused(await partner.post("/v1/accounts", json={"account_id": "mine", "parent_account_id": "partner-a",
                                                          "price_book": {"id": "cheap", "prices": {"XDM00001": "0.01"}}}),
                 403, "forbidden_field")
        _refused(await partner.post("/v1/accounts", json={"account_id": "top"}), 403, "forbidden_field")
        for path in ("/v1/accounts", "/v1/catalog", "/v1/accounts/partner-a", "/v1/customers/cust-a1"):
            _refused(await integration.get(path), 403, "forbidden_role")
        _refused(await integration.put("/v1/catalog", json=CATALOG), 403, "forbidden_role")
        # what an integration is for: the facts platforms publish
        r = await integration.post("/v1/features", json={"account_id": "partner-b", "subscription_id": "int-1",
                                                         "part_number": "XDM00001"})
        assert r.status_code == 201, r.text
    assert await _outbox(db, namespace) == before + 1


# ------------------------------------------------------------------ partner trees
async def test_a_partner_sees_its_tree_and_nothing_of_another(prov, api_keys, db, namespace):
    async with _as(prov, api_keys.partner("partner-a")) as a, _as(prov, api_keys.operator) as op:
        listed = (await a.get("/v1/accounts")).json()
        assert sorted(x["account_id"] for x in listed) == ["child-a1", "grandchild-a2", "partner-a"]
        assert len((await op.get("/v1/accounts")).json()) == 4
        # the child partner's customer and subscription are the parent partner's to see
        assert (await a.get("/v1/customers/cust-a1")).status_code == 200
        assert [c["customer_id"] for c in (await a.get("/v1/accounts/child-a1/customers")).json()] == ["cust-a1"]
        assert (await a.get("/v1/subscriptions/sub-a1")).status_code == 200
        assert (await a.get("/v1/accounts/grandchild-a2/features")).status_code == 200
        # another partner's objects answer exactly as objects that do not exist
        for path, reason in [("/v1/accounts/partner-b", "unknown_account"),
                             ("/v1/accounts/partner-b/customers", "unknown_account"),
                             ("/v1/accounts/partner-b/subscriptions", "unknown_account"),
                             ("/v1/accounts/partner-b/features", "unknown_account"),
                             ("/v1/customers/cust-b", "unknown_customer"),
                             ("/v1/subscriptions/sub-b", "unknown_subscription")]:
            hidden, missing = await a.get(path), await a.get(path.replace("-b", "-zz"))
            _refused(hidden, 404, reason)
            assert hidden.json()["detail"].replace("-b", "-zz") == missing.json()["detail"]
    # a child partner sees down its own branch, not up to its parent
    async with _as(prov, api_keys.partner("child-a1")) as child:
        assert sorted(x["account_id"] for x in (await child.get("/v1/accounts")).json()) == ["child-a1", "grandchild-a2"]
        _refused(await child.get("/v1/accounts/partner-a"), 404, "unknown_account")


async def test_a_partner_changes_only_its_tree(prov, api_keys, db, namespace):
    before = await _outbox(db, namespace)
    async with _as(prov, api_keys.partner("partner-a")) as a:
        refused = [
            ("POST", "/v1/features", {"account_id": "partner-b", "subscription_id": "steal", "part_number": "XDM00001"}, "unknown_account"),
            ("POST", "/v1/customers", {"account_id": "partner-b", "customer_id": "steal"}, "unknown_account"),
            ("PUT", "/v1/customers/cust-b/placement", {"region_ids": []}, "unknown_customer"),
            ("POST", "/v1/customers/cust-b/removal", {}, "unknown_customer"),
            ("POST", "/v1/subscriptions/sub-b/removal", {}, "unknown_subscription"),
            ("POST", "/v1/subscriptions/sub-b/termination", {}, "unknown_subscription"),
            ("POST", "/v1/accounts", {"account_id": "under-b", "parent_account_id": "partner-b"}, "unknown_account"),
        ]
        for method, path, body, reason in refused:
            _refused(await a.request(method, path, json=body), 404, reason)
        assert await _outbox(db, namespace) == before
        assert await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.subscriptions "
                                 "WHERE subscription_id = 'steal' OR ended_at IS NOT NULL") == 0
        # under its own tree it provisions, removes and opens child partners
        ok = [("POST", "/v1/accounts", {"account_id": "child-a3", "parent_account_id": "partner-a"}),
              ("POST", "/v1/customers", {"account_id": "grandchild-a2", "customer_id": "cust-a2"}),
              ("POST", "/v1/features", {"account_id": "grandchild-a2", "subscription_id": "sub-a2",
                                        "part_number": "XDM00001"}),
              ("POST", "/v1/subscriptions/sub-a1/removal", {}),
              ("POST", "/v1/customers/cust-a1/removal", {})]
        for method, path, body in ok:
            r = await a.request(method, path, json=body)
            assert r.status_code == 201, (path, r.text)


# ------------------------------------------------------------------ rating and auto_provisioning
async def _accounts(runtime, record) -> None:
    async with runtime.pool.acquire() as conn:
        for account, parent in TREE:
            await record(conn, AccountOpenedV1(account_id=account, parent_account_id=parent, at=NOW))


async def test_rating_runs_are_the_operators_and_accounts_the_tree(infra, namespace, db, api_keys):
    runtime = await _runtime(infra, namespace, api_keys, "rating", Path(rating_api.__file__).parent / "migrations")
    try:
        await _accounts(runtime, lambda conn, e: rating_service.record_account(conn, None, e))
        app = rating_api.http_app(runtime)
        async with _as(app, api_keys.partner("partner-a"), "http://rating") as a, \
                _as(app, api_keys.operator, "http://rating") as op, _as(app, None, "http://rating") as nobody:
            _refused(await a.get("/v1/runs"), 403, "forbidden_role")
            _refused(await a.get("/v1/runs/r1"), 403, "forbidden_role")
            assert (await op.get("/v1/runs")).status_code == 200
            assert (await a.get("/v1/accounts/grandchild-a2")).status_code == 200
            _refused(await a.get("/v1/accounts/partner-b"), 404, "unknown_account")
            _refused(await nobody.get("/v1/accounts/partner-a"), 401, "missing_credentials")
            assert (await nobody.get("/health")).status_code == 200  # liveness stays open
    finally:
        await runtime.pool.close()


async def test_auto_provisioning_users_of_a_tree_and_metering_for_operators(infra, namespace, db, api_keys):
    runtime = await _runtime(infra, namespace, api_keys, "auto_provisioning",
                             Path(auto_handlers.__file__).parent / "migrations")
    try:
        await _accounts(runtime, auto_service.record_account)
        await db.execute(f"INSERT INTO {namespace}auto_provisioning.customers (customer_id, account_id) "
                         "VALUES ('cust-a1', 'child-a1'), ('cust-b', 'partner-b')")
        app = auto_handlers.http_app(runtime)
        async with _as(app, api_keys.partner("partner-a"), "http://auto") as a, \
                _as(app, api_keys.integration, "http://auto") as integration:
            assert (await a.get("/v1/customers/cust-a1/users")).status_code == 200
            _refused(await a.get("/v1/customers/cust-b/users"), 404, "unknown_customer")
            _refused(await a.post("/v1/metering", json={}), 403, "forbidden_role")
            _refused(await integration.get("/v1/customers/cust-a1/users"), 403, "forbidden_role")
            assert await db.fetchval(f"SELECT count(*) FROM {namespace}auto_provisioning.user_counts") == 0
    finally:
        await runtime.pool.close()
