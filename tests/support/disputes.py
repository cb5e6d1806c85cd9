"""Disputes under test in this process: builders of the events it learns from (accounts, issued
invoices) and the service itself with its HTTP app through httpx (a FrozenClock moves time). The
`disputes` fixture (tests/integration/conftest.py) starts one per test."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from contracts import wrap
from contracts.envelope import Envelope
from contracts.invoicing import InvoiceIssuedV1
from services.disputes import app as disputes_app
from shared.clock import FrozenClock
from shared.settings import Settings, Tuning
from tests.support.http import asgi_client, session_keys
from tests.support.invoicing import line, opened
from tests.support.kafka import publish_envelopes, read_all
from tests.support.polling import eventually

T0 = datetime(2026, 4, 28, 10, tzinfo=timezone.utc)  # a Tuesday


def issued(number: str, account: str, total: str, issuer: str = "platform", month: str = "2026-04",
           lines: int = 1, terms: int = 30) -> Envelope:
    """InvoiceIssuedV1 of `total` in `lines` equal lines (the first takes the remainder)."""
    issue = date.fromisoformat(month + "-01")
    amounts = [Decimal(total) / lines] * lines
    parts = [line(str(a.quantize(Decimal("0.01")))) for a in amounts]
    at = datetime(issue.year, issue.month, 1, tzinfo=timezone.utc)
    return wrap(InvoiceIssuedV1(invoice_number=number, issuer=issuer, account_id=account, month=month,
                                run_id=f"run-{month}", issue_date=issue, due_date=issue + timedelta(days=terms),
                                currency="USD", total=Decimal(total), lines=parts),
                key=account, producer="invoicing", occurred_at=at)


class Disputes:
    """The service in this process, its HTTP app through httpx, its schema and topics."""

    def __init__(self, infra, namespace: str, clock: FrozenClock, **tuning: float) -> None:
        self.infra, self.ns, self.clock = infra, namespace, clock
        self.settings = Settings(service="disputes", database_url=infra.database_url,
                                 kafka_bootstrap_servers=infra.kafka, topic_prefix=namespace,
                                 schema=f"{namespace}disputes", relay_idle_ms=100, retry_backoff_ms=50,
                                 tuning=Tuning.model_validate({"dispute_overdue_ms": 3_600_000, **tuning}),
                                 api_keys_file=str(session_keys().path))
        self.runtime, self.app = disputes_app.build(self.settings, clock)
        self.http = asgi_client(self.app, "http://disputes")
        self.schema = self.settings.db_schema

    def as_(self, token: str | None):
        """A client of this app with another key (a partner's, or none)."""
        return asgi_client(self.app, "http://disputes", token)

    async def publish(self, topic: str, envelopes: list[Envelope]) -> None:
        await publish_envelopes(self.infra.kafka, self.ns + topic, envelopes)

    async def events(self, expect: int, topic: str = "disputes.events", timeout: float = 20) -> list[dict]:
        records = await read_all(self.infra.kafka, self.ns + topic, expect, timeout=timeout)
        return [json.loads(r.value) for r in records]


async def setup_invoices(disputes, db, invoices=(("R1-000001", "acme", "1000.00", "r1"),)):
    """Partner r1 with account acme, partner r2 with account other; the invoices known."""
    await disputes.publish("provisioning.events", [opened("r1"), opened("acme", parent="r1"), opened("r2"),
                                                   opened("other", parent="r2")])
    await disputes.publish("invoicing.events", [issued(n, a, t, issuer=i, lines=2) for n, a, t, i in invoices])

    async def known():
        accounts = await db.fetchval(f"SELECT count(*) FROM {disputes.schema}.accounts")
        found = await db.fetchval(f"SELECT count(*) FROM {disputes.schema}.invoices")
        return accounts == 4 and found == len(invoices)
    await eventually(known, what="accounts and invoices learnt")


async def dispute_rows(disputes, db):
    """Every dispute row of the service under test, by id."""
    return await db.fetch(f"SELECT * FROM {disputes.schema}.disputes ORDER BY dispute_id")
