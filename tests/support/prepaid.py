"""prepaid_credit under test in this process: builders of the events it consumes (accounts, daily
usage debits, a run's prepaid charges) and the service with its HTTP app through httpx (a
FrozenClock moves time). The `prepaid` fixture (tests/integration/conftest.py) starts one per test."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1
from contracts.rating import AccountChargesRatedV1, ChargeLineV1, PrepaidUsageRatedV1
from services.prepaid_credit import app as prepaid_app
from shared.clock import FrozenClock
from shared.settings import Settings, Tuning
from tests.support.http import asgi_client, session_keys
from tests.support.kafka import publish_envelopes, read_all

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def opened(account: str, mode: str = "prepaid", threshold: str = "0.00", parent: str | None = None,
           tz: str = "UTC", when: str = "2026-03-01T00:00:00Z") -> Envelope:
    return wrap(AccountOpenedV1(account_id=account, parent_account_id=parent, time_zone=tz, mode=mode,
                                low_balance_threshold=Decimal(threshold), at=at(when)),
                key=account, producer="test", occurred_at=at(when))


def line(amount: str, part: str, start: str, end: str, subscription: str | None = None,
         quantity: str = "1") -> ChargeLineV1:
    return ChargeLineV1(subscription_id=subscription, part_number=part, from_date=start, to_date=end,
                        quantity=Decimal(quantity), amount=Decimal(amount),
                        rule="recurring" if subscription else "usage")


def usage(account: str, midnight: str, lines: list[ChargeLineV1] = ()) -> Envelope:
    """Rating's usage debit of one local midnight (empty: the watermark alone)."""
    total = sum((x.amount for x in lines), Decimal("0.00"))
    return wrap(PrepaidUsageRatedV1(account_id=account, currency="USD", at=at(midnight), lines=list(lines),
                                    total=total), key=account, producer="rating", occurred_at=at(midnight))


def run_charges(account: str, month: str, lines: list[ChargeLineV1], when: str, run_id: str | None = None) -> Envelope:
    total = sum((x.amount for x in lines), Decimal("0.00"))
    return wrap(AccountChargesRatedV1(run_id=run_id or f"run-{month}", month=month, account_id=account, currency="USD",
                                      settlement="prepaid", lines=lines, total=total),
                key=account, producer="rating", occurred_at=at(when))


class Prepaid:
    """The service in this process, its HTTP app through httpx, its schema and topics."""

    def __init__(self, infra, namespace: str, clock: FrozenClock, **tuning: float) -> None:
        self.infra, self.ns, self.clock = infra, namespace, clock
        self.settings = Settings(service="prepaid_credit", database_url=infra.database_url,
                                 kafka_bootstrap_servers=infra.kafka, topic_prefix=namespace,
                                 schema=f"{namespace}prepaid_credit", relay_idle_ms=100, retry_backoff_ms=50,
                                 tuning=Tuning.model_validate({"prepaid_expiry_s": 3600, **tuning}),
                                 api_keys_file=str(session_keys().path))
        self.runtime, self.app = prepaid_app.build(self.settings, clock)
        self.http = asgi_client(self.app, "http://prepaid")
        self.schema = self.settings.db_schema

    def client(self, token):
        return asgi_client(self.app, "http://prepaid", token)

    async def publish(self, topic: str, envelopes: list[Envelope]) -> None:
        await publish_envelopes(self.infra.kafka, self.ns + topic, envelopes)

    async def events(self, expect: int, counted=None) -> list[dict]:
        records = await read_all(self.infra.kafka, self.ns + "prepaid_credit.events", expect, timeout=20,
                                 counted=counted)
        return [json.loads(r.value) for r in records]
