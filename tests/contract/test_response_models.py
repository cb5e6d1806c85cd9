"""Every JSON 2xx answer is documented: /docs and /redoc show its schema, never an empty one.

The response models also filter what a route answers (a key missing from one would silently
disappear): the models here are checked to keep handler output exactly as it is."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from contracts.platform import UserCountReportedV1
from services.auto_provisioning import handlers as auto_provisioning
from services.auto_provisioning import store as auto_store
from services.disputes import api as disputes
from services.invoicing import api as invoicing
from services.prepaid_credit import api as prepaid_credit
from services.prepaid_credit import store as prepaid_store
from services.prepaid_credit import vouchers
from services.provisioning import handlers as provisioning
from services.rating import api as rating
from services.rating import quarantine
from shared import dead_letter_api, dead_letters, task_failures
from shared.http import row_json
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings
from tests.support.http import asgi_client, session_keys

MODULES = {"provisioning": provisioning, "auto_provisioning": auto_provisioning, "rating": rating,
           "invoicing": invoicing, "prepaid_credit": prepaid_credit, "disputes": disputes}
DEAD_LETTERS = ["/v1/dead-letters", "/v1/dead-letters/{dead_letter_id}",
                "/v1/dead-letters/{dead_letter_id}/redrive", "/v1/dead-letters/{dead_letter_id}/discard"]
# routes every service serves (the kit's), or that those defining them share: /health, /v1/task-failures
SHARED = [*DEAD_LETTERS, "/v1/ops/clock", "/health", "/v1/task-failures"]


def _app(name: str) -> FastAPI:
    app = MODULES[name].http_app(ServiceRuntime(Settings(service=name), None))
    add_platform_routes(app)
    return app


def _undocumented(app: FastAPI, paths: list[str] | None = None) -> list[str]:
    """Each (method, path, status) whose 2xx answer is JSON with an empty schema."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if paths is not None and path not in paths:
            continue
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media, content in response.get("content", {}).items():
                    if status.startswith("2") and "json" in media and not content.get("schema"):
                        found.append(f"{method.upper()} {path} {status}")
    return found


@pytest.mark.parametrize("name", MODULES)
def test_every_json_2xx_answer_has_a_schema(name):
    app = _app(name)
    assert _undocumented(app) == []
    # CSV exports document text/csv alone (http.CsvText), not FastAPI's default JSON beside it
    for path, operations in app.openapi()["paths"].items():
        if path.endswith(".csv"):
            assert list(operations["get"]["responses"]["200"]["content"]) == ["text/csv"], path


@pytest.mark.parametrize("name", MODULES)
def test_every_service_serves_its_dead_letters_documented(name):
    paths = _app(name).openapi()["paths"]
    assert set(DEAD_LETTERS) <= set(paths), name


@pytest.mark.parametrize("path", SHARED)
@pytest.mark.parametrize("name", MODULES)
def test_shared_routes_have_a_schema(name, path):
    assert _undocumented(_app(name), [path]) == []


class _Conn:
    """A connection answering each statement with rows given by the test (asyncpg.Records are read
    by key, as these dicts are)."""

    def __init__(self, rows: dict[str, list[dict]]) -> None:
        self.rows = rows

    async def fetch(self, sql: str, *_):
        return self.rows[sql]

    async def fetchrow(self, sql: str, *_):
        return (self.rows[sql] or [None])[0]

    async def fetchval(self, sql: str, *_):
        return next(iter(self.rows[sql][0].values()))


class _Pool:
    def __init__(self, conn: _Conn) -> None:
        self.conn = conn

    @contextlib.asynccontextmanager
    async def acquire(self):
        yield self.conn


def _served(name: str, rows: dict[str, list[dict]] | None = None) -> httpx.AsyncClient:
    """A client of the service's app as served (platform routes added), on a fake pool, with the
    test run's operator key."""
    runtime = ServiceRuntime(Settings(service=name, api_keys_file=str(session_keys().path)), None)
    runtime.pool = _Pool(_Conn(rows or {}))
    app = MODULES[name].http_app(runtime)
    add_platform_routes(app)
    return asgi_client(app, f"http://{name}")


NOW = datetime(2026, 4, 1, 12, 30, tzinfo=timezone.utc)
DEAD = {"id": 7, "state": "dead", "consumer": "rating:provisioning.events", "topic": "provisioning.events",
        "partition": 3, "offset": 2**40, "key": None, "event_id": None, "event_type": None, "error": "boom",
        "recorded_at": NOW, "state_at": None, "state_by": None, "note": None, "redrive_of": None,
        "payload_bytes": None}
REDRIVEN = {**DEAD, "state": "redriven", "state_at": NOW, "state_by": "ops", "event_id": UUID(int=1),
            "key": "acc-1", "payload_bytes": 12}


@pytest.mark.parametrize("raw", [None, b'{"a": [1, 99999999999999999999999, 1.5e16, null, "\\u00e9"]}',
                                 b"[" * 64 + b"]" * 64, b"plain text", b"\xff\xfe"])
async def test_dead_letters_are_answered_exactly_as_the_store_gives_them(raw, monkeypatch):
    encoding, payload = dead_letters.render_payload(raw)
    answers = iter([
        {**dead_letters._summary(DEAD), "payload_encoding": encoding, "payload": payload},
        {**dead_letters._summary(REDRIVEN), "payload_encoding": encoding, "payload": payload,
         "retried_as": [8, 9], "outcome": "failed_again", "later_key": {"kept": True}},
    ])
    shown = next(answers)

    async def show(conn, dead_letter_id):
        return shown

    async def act(*_):
        pass

    monkeypatch.setattr(dead_letters, "show", show)
    monkeypatch.setattr(dead_letters, "redrive", act)
    monkeypatch.setattr(dead_letters, "discard", act)
    page = {"items": [dead_letters._summary(DEAD), dead_letters._summary(REDRIVEN)], "next_before": 6}
    monkeypatch.setattr(dead_letters, "list_page", lambda *_: _done(page))
    async with _served("disputes") as http:
        assert (await http.get("/v1/dead-letters")).json() == page
        for _ in range(2):  # not redriven: no `retried_as` nor `outcome` added; then redriven
            assert (await http.get("/v1/dead-letters/7")).json() == shown
            assert (await http.post("/v1/dead-letters/7/discard")).json() == shown
            redrive = await http.post("/v1/dead-letters/7/redrive")
            assert redrive.status_code == 202 and redrive.json() == shown
            shown = next(answers, None)


async def _done(value):
    return value


async def test_rating_answers_keep_their_keys_and_text_values():
    account = {"account_id": "acc-1", "parent_account_id": None, "time_zone": "Europe/Paris", "mode": "prepaid",
               "currency": "EUR", "payment_terms_days": 30, "opened_at": NOW,
               "price_book": {"id": "pb-1", "prices": {"P-1": "1.50"}}}
    sub = {"subscription_id": "s-1", "kind": "feature", "part_number": "P-1", "quantity": 2, "started_at": NOW,
           "ended_at": None, "termination_requested_at": None, "termination_effective": date(2026, 5, 1),
           "billed_through": None}
    month = {"month": "2026-03", "run_id": "r-1", "settlement": "invoice", "lines": 4, "total": Decimal("12.50")}
    run = {"run_id": "r-1", "month": "2026-03", "requested_at": NOW, "status": "failed", "error": "x",
           "rated_at": NOW, "accounts_rated": 0, "lines": 0}
    set_aside = {"account_id": "acc-1", "reason": "KeyError", "error": "x", "at": NOW, "resolved_run": "r-2",
                 "resolved_at": NOW}
    rows = {rating.ACCOUNT: [account], rating.ACCOUNT_SUBSCRIPTIONS: [sub], rating.ACCOUNT_RUNS: [month],
            rating.RUNS: [run], quarantine.OF_RUN: [set_aside], quarantine.COUNT_OF_RUN: [{"count": 1}],
            quarantine.LIST: [{**set_aside, "run_id": "r-1", "month": "2026-03"}]}
    j = row_json
    async with _served("rating", rows) as http:
        assert (await http.get("/v1/accounts/acc-1")).json() == {
            **j(account), "subscriptions": [j(sub)], "rated_months": [j(month)]}
        assert (await http.get("/v1/runs")).json() == [j(run)]
        assert (await http.get("/v1/runs/r-1")).json() == {**j(run), "quarantined_accounts": 1,
                                                          "quarantined": [j(set_aside)]}
        assert (await http.get("/v1/quarantine")).json() == [j(r) for r in rows[quarantine.LIST]]
        assert (await http.get("/health")).json() == {"status": "ok", "service": "rating"}
        assert (await http.get("/v1/accounts/acc-1")).json()["rated_months"][0]["total"] == "12.50"
        # a JSON column is an object in the answer, not its Python text
        assert (await http.get("/v1/accounts/acc-1")).json()["price_book"] == {"id": "pb-1", "prices": {"P-1": "1.50"}}


FAILURE = {"task": "expiry", "account_id": "acc-1", "reason": "ZoneInfoNotFoundError", "error": "no zone",
           "first_at": NOW, "last_at": NOW, "failures": 3}


@pytest.mark.parametrize("name", ["rating", "prepaid_credit", "auto_provisioning"])
async def test_task_failures_keep_their_keys(name):
    async with _served(name, {task_failures.LIST: [FAILURE]}) as http:
        assert (await http.get("/v1/task-failures")).json() == [
            {**FAILURE, "first_at": NOW.isoformat(), "last_at": NOW.isoformat()}]


@pytest.mark.parametrize("name", ["prepaid_credit", "disputes"])
async def test_health_keeps_its_keys(name):
    async with _served(name) as http:
        assert (await http.get("/health")).json() == {"status": "ok", "service": name}


async def test_prepaid_credit_answers_keep_their_keys_and_text_amounts():
    voucher = {"code": "4CTXK9MWQH7A", "batch_id": "b-1", "issuer": None, "credits": Decimal("500.00"),
               "lifetime_days": 60, "issued_at": NOW, "redeemed_by": "acc-1", "redeemed_at": NOW}
    async with _served("prepaid_credit", {prepaid_store.LIST_VOUCHERS: [voucher]}) as http:
        assert (await http.get("/v1/vouchers")).json() == [vouchers.voucher_json(voucher)]
        assert (await http.get("/v1/vouchers")).json()[0]["credits"] == "500.00"


async def test_auto_provisioning_answers_keep_their_keys(monkeypatch):
    user = {"user_id": "u-1", "present": True, "voice": False, "last_at": NOW, "licence": None, "licence_at": None}
    reported = [UserCountReportedV1(account_id="acc-1", count=3, at=NOW)]

    async def report(*_):
        return reported

    monkeypatch.setattr(auto_provisioning.service, "report_user_counts", report)
    async with _served("auto_provisioning", {auto_store.LIST_USERS: [user]}) as http:
        assert (await http.get("/v1/customers/c-1/users")).json() == [
            {"user_id": "u-1", "present": True, "voice_enabled": False, "last_event_at": NOW.isoformat(),
             "licence": None, "licence_at": None}]
        assert (await http.post("/v1/metering", json={})).json() == {
            "reported": [r.model_dump(mode="json") for r in reported]}


def test_a_money_amount_must_stay_text():
    """A model's money field is text: a number a handler might return is refused (a 500), never
    answered as a JSON number."""
    with pytest.raises(ValidationError):
        prepaid_credit.VoucherOut.model_validate({
            "code": "4CTXK9MWQH7A", "batch_id": "b-1", "issuer": None, "credits": 500.0, "lifetime_days": 60,
            "issued_at": NOW.isoformat(), "state": "issued", "redeemed_by": None, "redeemed_at": None})


def test_dead_letter_models_document_every_key_the_store_answers():
    summary = dead_letters._summary(DEAD)
    assert set(summary) == set(dead_letter_api.DeadLetterSummaryOut.model_fields)
    shown = set(dead_letter_api.DeadLetterOut.model_fields) - set(summary)
    assert shown == {"payload_encoding", "payload", "retried_as", "outcome"}
