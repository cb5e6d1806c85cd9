"""Usage dimensions stored by rating, and its usage-report and dashboard API (issue 13), on the
real broker and database: one rating service in this process for the whole module."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import asyncpg
import pytest

from cli.namespace import drop_namespace
from contracts.platform import UserCountReportedV1
from contracts.provisioning import AccountOpenedV1
from contracts.usage import UsageRecordedV1
from services.rating import app as rating_app
from shared.clock import FrozenClock
from shared.settings import Settings, Tuning
from tests.support.http import asgi_client, session_keys
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.rating import at, env, seed_catalog

pytestmark = pytest.mark.infra

T0 = "2026-01-01T00:00:00Z"


def usage(record_id: str, account: str, used_at: str, quantity: str = "1", part: str = "FAX-PAGE-IN",
          **dimensions) -> object:
    return env(UsageRecordedV1(record_id=record_id, account_id=account, part_number=part,
                               quantity=Decimal(quantity), used_at=at(used_at), **dimensions), account)


# Berlin account: 2026-03-29 is the spring-forward day (23 hours), 2026-10-25 the fall-back (25)
RECORDS = [
    usage("b1", "berlin", "2026-03-28T22:59:59Z", "2", direction="inbound", group="Sales", user="u1",
          number="+493011"),  # 23:59:59 on the 28th in Berlin (UTC+1)
    usage("b2", "berlin", "2026-03-28T23:00:00Z", "3", direction="inbound", group="Sales", user="u2",
          number="+493011"),  # 00:00 on the 29th
    usage("b3", "berlin", "2026-03-29T21:59:59Z", "5", part="FAX-PAGE-OUT", direction="outbound",
          group="Support", user="u3", number="+493022"),  # 23:59:59 CEST on the 29th
    usage("b4", "berlin", "2026-03-29T22:00:00Z", "7", part="FAX-PAGE-OUT", direction="outbound",
          group="Support", user="u3", number="+493033"),  # 00:00 on the 30th
    usage("b5", "berlin", "2026-03-15T12:00:00Z", "11"),  # an old-style record: no dimensions
    usage("b6", "berlin", "2026-02-27T12:00:00Z", "13", direction="inbound", group="Sales", user="u1",
          number="+493011"),  # February: the billing cycle of March
    usage("c1", "child", "2026-03-10T12:00:00Z", "17", direction="inbound", user="cu"),
    usage("o1", "other", "2026-03-10T12:00:00Z", "19", direction="inbound", user="ou"),
]


@pytest.fixture(scope="module")
async def rating(infra):
    """Rating in this process on the module's own topics and schema, its facts published."""
    namespace = f"t{uuid.uuid4().hex[:10]}_"
    settings = Settings(service="rating", database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka,
                        topic_prefix=namespace, schema=f"{namespace}rating", relay_idle_ms=100, retry_backoff_ms=50,
                        tuning=Tuning.model_validate({"pending_sweep_s": 3600, "prepaid_midnights_s": 3600}),
                        api_keys_file=str(session_keys().path))
    runtime, app = rating_app.build(settings, FrozenClock(datetime(2026, 11, 1, tzinfo=timezone.utc)))
    await runtime.start()
    db = await asyncpg.connect(infra.database_url)
    try:
        opened = at(T0)
        await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", [
            env(seed_catalog(), "catalog"),
            env(AccountOpenedV1(account_id="partner", time_zone="Europe/Berlin", at=opened), "partner"),
            env(AccountOpenedV1(account_id="berlin", parent_account_id="partner", time_zone="Europe/Berlin",
                                at=opened), "berlin"),
            env(AccountOpenedV1(account_id="child", parent_account_id="berlin", at=opened), "child"),
            env(AccountOpenedV1(account_id="other", time_zone="America/New_York", at=opened), "other")])
        await eventually(lambda: db.fetchval(f"SELECT count(*) = 4 FROM {namespace}rating.accounts"),
                         what="accounts known")
        await publish_envelopes(infra.kafka, f"{namespace}usage.records", RECORDS)
        await publish_envelopes(infra.kafka, f"{namespace}platform.user-counts", [
            env(UserCountReportedV1(account_id="berlin", count=40, at=at("2026-03-01T00:00:00Z")), "berlin"),
            env(UserCountReportedV1(account_id="berlin", count=42, at=at("2026-03-20T00:00:00Z")), "berlin"),
            env(UserCountReportedV1(account_id="berlin", count=99, at=at("2026-04-05T00:00:00Z")), "berlin")])
        await eventually(lambda: db.fetchval(
            f"SELECT (SELECT count(*) FROM {namespace}rating.usage_records) = {len(RECORDS)}"
            f" AND (SELECT count(*) FROM {namespace}rating.user_counts) = 3"), what="usage stored")
        yield {"app": app, "db": db, "schema": f"{namespace}rating"}
    finally:
        await runtime.stop()
        await db.close()
        await drop_namespace(infra.kafka, infra.database_url, namespace)


async def test_dimensions_are_stored_with_the_record_and_old_records_have_none(rating):
    rows = {r["record_id"]: r for r in await rating["db"].fetch(
        f"SELECT record_id, direction, user_group, user_id, number FROM {rating['schema']}.usage_records")}
    assert tuple(rows["b3"])[1:] == ("outbound", "Support", "u3", "+493022")
    assert tuple(rows["b5"])[1:] == (None, None, None, None)



def _client(rating, token):
    return asgi_client(rating["app"], "http://rating", token)


async def _get(rating, path: str, token=None, **params):
    async with _client(rating, token or session_keys().partner("partner")) as http:
        return await http.get(path, params=params)


async def test_report_per_local_day_around_the_spring_dst_change(rating):
    answer = await _get(rating, "/v1/accounts/berlin/usage", month="2026-03")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["time_zone"] == "Europe/Berlin"
    assert body["period"] == {"from": "2026-03-01", "to": "2026-04-01", "kind": "month", "name": "2026-03"}
    days = {d["date"]: d for d in body["days"]}
    assert len(days) == 31
    # 23:59:59 and 00:00 local fall on either side of midnight, in CET and in CEST alike
    assert (days["2026-03-28"]["inbound"], days["2026-03-28"]["records"]) == ("2", 1)
    assert (days["2026-03-29"]["inbound"], days["2026-03-29"]["outbound"]) == ("3", "5")
    assert (days["2026-03-30"]["outbound"], days["2026-03-30"]["inbound"]) == ("7", "0")
    assert days["2026-03-15"]["unspecified"] == "11"
    assert body["totals"] == {"inbound": "5", "outbound": "12", "unspecified": "11", "records": 5}
    assert body["summary"] == [
        {"direction": "outbound", "group": "Support", "part_number": "FAX-PAGE-OUT", "units": "12", "records": 2},
        {"direction": None, "group": None, "part_number": "FAX-PAGE-IN", "units": "11", "records": 1},
        {"direction": "inbound", "group": "Sales", "part_number": "FAX-PAGE-IN", "units": "5", "records": 2}]


async def test_a_billing_cycle_is_the_month_its_run_bills(rating):
    body = (await _get(rating, "/v1/accounts/berlin/usage", cycle="2026-03")).json()
    assert body["period"] == {"from": "2026-02-01", "to": "2026-03-01", "kind": "cycle", "name": "2026-03"}
    assert body["totals"] == {"inbound": "13", "outbound": "0", "unspecified": "0", "records": 1}
    custom = (await _get(rating, "/v1/accounts/berlin/usage", **{"from": "2026-03-29", "to": "2026-03-30"})).json()
    assert [d["date"] for d in custom["days"]] == ["2026-03-29"]
    assert custom["totals"]["records"] == 2


async def test_drill_downs_inbound_per_user_and_outbound_per_number(rating):
    users = (await _get(rating, "/v1/accounts/berlin/usage/inbound-users", month="2026-03")).json()
    assert users["users"] == [{"user": "u2", "group": "Sales", "units": "3", "records": 1},
                              {"user": "u1", "group": "Sales", "units": "2", "records": 1}]
    assert users["truncated"] is False
    numbers = (await _get(rating, "/v1/accounts/berlin/usage/outbound-numbers", month="2026-03")).json()
    assert numbers["numbers"] == [{"number": "+493033", "units": "7", "records": 1},
                                  {"number": "+493022", "units": "5", "records": 1}]


async def test_dashboard_figures(rating):
    body = (await _get(rating, "/v1/accounts/berlin/usage/dashboard", month="2026-03")).json()
    assert {k: body[k] for k in ("inbound", "outbound", "records", "active_users", "numbers", "users_reported")} == \
        {"inbound": "5", "outbound": "12", "records": 5, "active_users": 3, "numbers": 3, "users_reported": 42}
    empty = (await _get(rating, "/v1/accounts/berlin/usage/dashboard", month="2025-12")).json()
    assert (empty["inbound"], empty["records"], empty["users_reported"]) == ("0", 0, None)


@pytest.mark.parametrize("path", ["", "/inbound-users", "/outbound-numbers", "/dashboard"])
async def test_a_partner_sees_its_tree_only(rating, path):
    keys = session_keys()
    url = "/v1/accounts/{}/usage" + path
    assert (await _get(rating, url.format("child"), keys.partner("partner"), month="2026-03")).status_code == 200
    assert (await _get(rating, url.format("child"), keys.partner("berlin"), month="2026-03")).status_code == 200
    assert (await _get(rating, url.format("other"), keys.operator, month="2026-03")).status_code == 200
    for account, token in (("berlin", keys.partner("other")), ("berlin", keys.partner("child")),
                           ("nobody", keys.partner("partner")), ("nobody", keys.operator)):
        answer = await _get(rating, url.format(account), token, month="2026-03")
        assert (answer.status_code, answer.json()["reason"]) == (404, "unknown_account")
    assert (await _get(rating, url.format("berlin"), keys.integration, month="2026-03")).status_code == 403
    async with _client(rating, None) as http:
        assert (await http.get(url.format("berlin"), params={"month": "2026-03"})).status_code == 401


@pytest.mark.parametrize(("params", "reason"), [
    ({}, "invalid_period"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "invalid_period"),  # reversed
    ({"from": "2026-03-10", "to": "2026-03-10"}, "invalid_period"),  # empty
    ({"from": "2000-01-01", "to": "2099-12-31"}, "invalid_period"),  # a century
    ({"from": "2026-03-01"}, "invalid_period"),
    ({"month": "2026-03", "cycle": "2026-04"}, "invalid_period"),
    ({"from": "2026-02-30", "to": "2026-03-10"}, "invalid_request"),
    ({"from": "0001-01-01", "to": "2026-03-10"}, "invalid_request"),
    ({"month": "0000-01"}, "invalid_request"),
    ({"month": "2026-13"}, "invalid_request"),
    ({"cycle": "yesterday"}, "invalid_request"),
    ({"from": "2026-03-01", "to": "9" * 5000}, "invalid_request"),
])
async def test_hostile_periods_are_refused(rating, params, reason):
    answer = await _get(rating, "/v1/accounts/berlin/usage", **params)
    assert (answer.status_code, answer.json()["reason"]) == (422, reason), answer.text
