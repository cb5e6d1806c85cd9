"""Invoicing under test in this process: builders of the events it consumes (accounts, rated
charges, run summaries) and the service itself with its HTTP app through httpx (a FrozenClock
moves time). The `invoicing` fixture (tests/integration/conftest.py) starts one per test."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from contracts import wrap
from contracts.disputes import DisputeOpenedV1, DisputeResolvedV1
from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1
from contracts.rating import AccountChargesRatedV1, BillingRunRatedV1, ChargeLineV1
from services.invoicing import app as invoicing_app
from shared.clock import FrozenClock
from shared.settings import Settings, Tuning
from tests.support.http import asgi_client, session_keys
from tests.support.kafka import publish_envelopes, read_all
from tests.support.polling import eventually

T0 = datetime(2026, 5, 1, 6, tzinfo=timezone.utc)


def opened(account: str, parent: str | None = None, tz: str = "UTC", terms: int = 30,
           at: datetime = datetime(2026, 1, 10, tzinfo=timezone.utc), automatic_runs: bool = True) -> Envelope:
    return wrap(AccountOpenedV1(account_id=account, parent_account_id=parent, time_zone=tz,
                                payment_terms_days=terms, at=at, automatic_runs=automatic_runs),
                key=account, producer="test", occurred_at=at)


def line(amount: str, part: str = "P001") -> ChargeLineV1:
    return ChargeLineV1(part_number=part, product_name="Feature", from_date="2026-05-01", to_date="2026-06-01",
                        quantity=Decimal(1), unit_price=Decimal(amount), price_version="v1",
                        amount=Decimal(amount), days=31, month_days=31, rule="recurring",
                        explanation="May in advance")


def charges(run_id: str, account: str, amounts: list[str], month: str = "2026-05", currency: str = "USD",
            settlement: str = "invoice", terms: int = 30) -> Envelope:
    lines = [line(a) for a in amounts]
    total = sum((Decimal(a) for a in amounts), Decimal("0.00"))
    return wrap(AccountChargesRatedV1(run_id=run_id, month=month, account_id=account, currency=currency,
                                      settlement=settlement, payment_terms_days=terms, lines=lines, total=total),
                key=account, producer="rating", occurred_at=T0)


def summary(run_id: str, invoice_accounts: int, totals: dict[str, str], month: str = "2026-05") -> Envelope:
    return wrap(BillingRunRatedV1(run_id=run_id, month=month, accounts=invoice_accounts, lines=invoice_accounts,
                                  totals={"invoice": {c: Decimal(t) for c, t in totals.items()}},
                                  invoice_accounts=invoice_accounts, rated_at=T0),
                key=month, producer="rating", occurred_at=T0)


class Invoicing:
    """The service in this process, its HTTP app through httpx, its schema and topics."""

    def __init__(self, infra, namespace: str, clock: FrozenClock, **tuning: float) -> None:
        self.infra, self.ns, self.clock = infra, namespace, clock
        self.settings = Settings(service="invoicing", database_url=infra.database_url,
                                 kafka_bootstrap_servers=infra.kafka, topic_prefix=namespace,
                                 schema=f"{namespace}invoicing", relay_idle_ms=100, retry_backoff_ms=50,
                                 tuning=Tuning.model_validate({"scheduler_ms": 3_600_000, "overdue_ms": 3_600_000,
                                                               **tuning}),
                                 api_keys_file=str(session_keys().path))
        self.runtime, self.app = invoicing_app.build(self.settings, clock)
        self.http = asgi_client(self.app, "http://invoicing")
        self.schema = self.settings.db_schema

    async def publish(self, topic: str, envelopes: list[Envelope]) -> None:
        await publish_envelopes(self.infra.kafka, self.ns + topic, envelopes)

    async def events(self, expect: int, types: set[str] | None = None) -> list[dict]:
        records = await read_all(self.infra.kafka, self.ns + "invoicing.events", expect, timeout=20)
        out = [json.loads(r.value) for r in records]
        return [e for e in out if types is None or e["type"] in types]


async def _count(db, sql: str, *args):
    return await db.fetchval(sql, *args)


async def _run_status(invoicing, run_id: str, status: str):
    response = await invoicing.http.get(f"/v1/runs/{run_id}")
    return response.status_code == 200 and response.json()["status"] == status and response.json()


async def issue_invoices(invoicing: Invoicing, db, *specs: tuple[str, list[str]], month: str = "2026-05",
                         run: str = "run-p") -> dict[str, str]:
    """Open the accounts of `specs` ((account, [line amounts])) and send their rated charges of
    `month`; account id -> invoice number once every invoice is issued."""
    accounts = [opened(a, at=datetime(2026, 1, 1, tzinfo=timezone.utc)) for a, _ in specs]
    await invoicing.publish("provisioning.events", accounts)
    await invoicing.publish("rating.charges", [charges(run, a, amounts, month=month) for a, amounts in specs])

    async def issued():
        rows = await db.fetch(f"SELECT invoice_number, account_id FROM {invoicing.schema}.invoices "
                              "WHERE month = $1 ORDER BY account_id", month)
        return rows if len(rows) == len(specs) else None
    rows = await eventually(issued, what="invoices issued")
    return {r["account_id"]: r["invoice_number"] for r in rows}


UTC = timezone.utc


def _utc(text: str) -> datetime:
    """A naive ISO instant read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def dispute_opened(dispute: str, number: str, account: str, amount: str, received: str, due: str):
    """The disputes service's event as invoicing consumes it (issuer platform, USD)."""
    return wrap(DisputeOpenedV1(dispute_id=dispute, invoice_number=number, account_id=account, issuer="platform",
                                currency="USD", amount=Decimal(amount), reason="wrong rate",
                                received_at=_utc(received), due_at=_utc(due)),
                key=account, producer="disputes", occurred_at=_utc(received))


def dispute_resolved(dispute: str, number: str, account: str, amount: str, credited: str, received: str, due: str,
                     resolved: str):
    """The disputes service's event as invoicing consumes it (issuer platform, USD)."""
    outcome = "upheld" if Decimal(credited) > 0 else "rejected"
    return wrap(DisputeResolvedV1(dispute_id=dispute, invoice_number=number, account_id=account, issuer="platform",
                                  currency="USD", outcome=outcome, amount=Decimal(amount), credited=Decimal(credited),
                                  received_at=_utc(received), due_at=_utc(due), resolved_at=_utc(resolved),
                                  late=_utc(resolved) > _utc(due)),
                key=account, producer="disputes", occurred_at=_utc(resolved))
