"""`billing scenario replay FILE`: drive the running platform through its real interfaces with a
scenario's events and collect the invoices it issues, in the FORMAT.md shape.

Isolation: every id (accounts, subscriptions, customers, usage records, part numbers) is
prefixed with a fresh namespace, so replays never see each other's data; the output strips it.
Ordering: before each billing run the replay waits until the rating service has applied every
event it caused, by comparing rating's committed consumer offsets with the offsets of those
events (a committed offset means the handler's transaction committed).
Version 2 (payments, disputes, prepaid credits, `until`): replay_v2.py, on a platform whose
services run on manual clocks, moved to each event's instant before it is sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cli import http as cli_http
from cli.clock import service_urls
from cli.consumption import partitions_of, wait_consumed
from contracts import wrap
from contracts.envelope import Envelope
from contracts.platform import UserCountReportedV1
from contracts.topics import PROVISIONING_EVENTS, USAGE_RECORDS, USER_COUNTS
from contracts.usage import UsageRecordedV1
from shared.calendar import local_date
from shared.kafka_security import client_options
from shared.settings import Settings

from .model import ScenarioModel
from .replay_v2 import Version2, is_version_2
from .runner import _number
from .settle import SettleError

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


class ReplayError(RuntimeError):
    pass


@dataclass
class Endpoints:
    provisioning: str = "http://127.0.0.1:8001"
    invoicing: str = "http://127.0.0.1:8005"
    timeout: float = 120.0
    api_key: str | None = None  # default: the CLI's operator key (cli/http.py)
    # version 2 (replay_v2.py): the prepaid_credit and disputes APIs, and the services whose
    # clocks a replay moves (default: every service of this checkout, at its usual address)
    prepaid_credit: str = "http://127.0.0.1:8004"
    disputes: str = "http://127.0.0.1:8006"
    services: dict[str, str] | None = None

    def clock_urls(self) -> dict[str, str]:
        if self.services is not None:
            return self.services
        given = {"provisioning": self.provisioning, "invoicing": self.invoicing,
                 "prepaid_credit": self.prepaid_credit, "disputes": self.disputes}
        return {name: given.get(name, url) for name, url in service_urls().items()}


@dataclass
class _State:
    ns: str
    expected_provisioning_events: int = 0
    published: dict[TopicPartition, int] = field(default_factory=dict)  # last offset we caused
    rejections: list[dict] = field(default_factory=list)
    terminations: list[dict] = field(default_factory=list)
    features: set[str] = field(default_factory=set)  # their removal is no reported termination
    invoices: list[dict] = field(default_factory=list)

    def id(self, value: str | None) -> str | None:
        return None if value is None else f"{self.ns}{value}"

    def strip(self, value: str | None) -> str | None:
        return value[len(self.ns):] if value and value.startswith(self.ns) else value

    def saw(self, tp: TopicPartition, offset: int) -> None:
        self.published[tp] = max(self.published.get(tp, -1), offset)


class Replay:
    def __init__(self, scenario: ScenarioModel, endpoints: Endpoints, settings: Settings,
                 namespace: str | None = None) -> None:
        self.scenario, self.endpoints, self.settings = scenario, endpoints, settings
        self.state = _State(ns=namespace or f"r{uuid.uuid4().hex[:8]}-")
        self.zones = {a.id: a.time_zone for a in scenario.accounts}
        self.customer_account: dict[str, str] = {}
        self.v2 = Version2(self) if is_version_2(scenario) else None

    # ------------------------------------------------------------ driving
    async def run(self) -> dict:
        async with cli_http.async_client(key=self.endpoints.api_key) as http:
            self.http = http
            if self.v2:  # a platform on manual clocks, not past the file's first instant
                try:
                    await self.v2.check_clocks(http)
                except SettleError as exc:
                    raise ReplayError(str(exc)) from None
            self.watch = await self._watch_provisioning_events()
            self.producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap_servers, **client_options(),
                                             enable_idempotence=True)
            await self.producer.start()
            more: dict = {}
            try:
                if self.v2:  # on manual clocks: each event at its instant, outputs as of `until`
                    await self.v2.start()
                await self._load_catalog_and_accounts()
                for index, event in enumerate(self.scenario.events):
                    if self.v2:
                        if event.at > self.v2.until:
                            break  # events after `until` are ignored
                        await self.v2.advance_to(event.at)
                    await self._apply(index, event)
                    if self.v2:
                        await self.v2.applied(event.at)
                if self.v2:
                    more = await self.v2.outputs()
            except SettleError as exc:
                raise ReplayError(str(exc)) from None
            finally:
                if self.v2:
                    await self.v2.stop()
                await self.watch.stop()
                await self.producer.stop()
        s = self.state
        return {"invoices": s.invoices, "terminations": s.terminations, "rejections": s.rejections, **more}

    async def _post(self, base: str, path: str, body: dict | None, index: int | None) -> dict | None:
        r = await self.http.post(base + path, json=body)
        if r.status_code < 300:
            return r.json()
        reason = (r.json() or {}).get("reason") if r.headers.get("content-type", "").startswith("application/json") else None
        if index is not None and reason and 400 <= r.status_code < 500:
            self.state.rejections.append({"event": index, "reason": reason})
            return None
        raise ReplayError(f"POST {path} answered {r.status_code}: {r.text}")

    async def _provision(self, path: str, body: dict, index: int | None) -> list[dict]:
        result = await self._post(self.endpoints.provisioning, path, body, index)
        events = (result or {}).get("events", [])
        self.state.expected_provisioning_events += len(events)
        return events

    async def _load_catalog_and_accounts(self) -> None:
        s, catalog = self.state, self.scenario.catalog
        products = [p.model_dump(mode="json", exclude_none=True) | {"part_number": s.id(p.part_number)}
                    for p in catalog.products]
        r = await self.http.put(f"{self.endpoints.provisioning}/v1/catalog",
                                json={"currency": catalog.currency, "products": products})
        if r.status_code >= 300:
            raise ReplayError(f"PUT /v1/catalog answered {r.status_code}: {r.text}")
        self.state.expected_provisioning_events += len(r.json().get("events", []))
        if self.v2:
            await self.v2.open_issuer()
        for account in self.scenario.accounts:
            await self._provision("/v1/accounts", {
                "account_id": s.id(account.id), "name": account.id, "time_zone": account.time_zone,
                "currency": catalog.currency, "payment_terms_days": account.payment_terms_days,
                "automatic_runs": False, "at": EPOCH.isoformat(),
                "price_book": self._price_book(account), **(self.v2.account_fields(account) if self.v2 else {})},
                None)

    def _price_book(self, account) -> dict | None:
        book = account.price_book
        if book is None:
            return None
        return {"id": book.id, "prices": {self.state.id(part): price for part, price in book.prices.items()}}

    async def _apply(self, index: int, e) -> None:
        s, at = self.state, e.at.isoformat()
        kind = e.type
        if kind == "billing_run":
            await self._billing_run(e.month, e.at)
        elif kind == "partner_onboarded":
            await self._provision("/v1/packs", {"account_id": s.id(e.account), "subscription_id": s.id(e.subscription),
                                                "part_number": s.id(e.part_number), "full_brand_id": s.id(e.full_brand),
                                                "at": at}, index)
        elif kind == "brand_ready":
            await self._provision("/v1/brands", {"account_id": s.id(e.account), "subscription_id": s.id(e.subscription),
                                                 "part_number": s.id(e.part_number), "cloud": e.cloud, "at": at}, index)
        elif kind == "region_activated":
            await self._provision("/v1/regions", {"account_id": s.id(e.account), "subscription_id": s.id(e.subscription),
                                                  "part_number": s.id(e.part_number),
                                                  "brand_ids": [s.id(b) for b in e.brands], "at": at}, index)
        elif kind == "customer_provisioned":
            await self._provision("/v1/customers", {"account_id": s.id(e.account), "customer_id": s.id(e.customer),
                                                    "brand_id": s.id(e.brand),
                                                    "region_ids": [s.id(r) for r in e.regions], "at": at}, index)
        elif kind == "customer_removed":
            await self._provision(f"/v1/customers/{s.id(e.customer)}/removal", {"at": at}, index)
        elif kind == "feature_provisioned":
            if await self._provision("/v1/features", {
                    "account_id": s.id(e.account), "subscription_id": s.id(e.subscription),
                    "part_number": s.id(e.part_number), "quantity": e.quantity,
                    "customer_id": s.id(e.customer), "at": at}, index):
                s.features.add(e.subscription)
        elif kind in ("feature_removed", "termination_requested"):
            verb = "removal" if kind == "feature_removed" else "termination"
            events = await self._provision(f"/v1/subscriptions/{s.id(e.subscription)}/{verb}", {"at": at}, index)
            # a feature's removal is no termination (a brand's, region's or pack's is)
            reported = [] if kind == "feature_removed" and e.subscription in s.features else events
            for ev in reported:
                if ev["type"] == "provisioning.termination.scheduled":
                    effective = ev["effective_date"]
                elif ev["type"] == "provisioning.feature.removed":
                    effective = self._local_day(ev["account_id"], ev["at"]).isoformat()
                else:
                    continue
                s.terminations.append({"subscription": s.strip(ev["subscription_id"]), "effective": effective})
        elif kind == "user_count":
            await self._publish(USER_COUNTS.name, s.id(e.account), UserCountReportedV1(
                account_id=s.id(e.account), count=e.count, at=e.at), e.at)
        elif kind == "usage":
            await self._publish(USAGE_RECORDS.name, s.id(e.account), UsageRecordedV1(
                record_id=s.id(e.id), account_id=s.id(e.account), part_number=s.id(e.part_number),
                quantity=Decimal(str(e.quantity)), used_at=e.used_at or e.at, received_at=e.at), e.at)
        elif self.v2:
            await self.v2.apply(index, e)
        else:
            raise ReplayError(f"event {index}: unsupported type {kind}")

    def _local_day(self, account_id: str, instant: str) -> date:
        return local_date(datetime.fromisoformat(instant), self.zones[self.state.strip(account_id)])

    async def _publish(self, topic: str, key: str, payload, at: datetime) -> None:
        envelope = wrap(payload, key=key, producer="scenario-replay", occurred_at=at)
        meta = await self.producer.send_and_wait(self.settings.topic(topic), envelope.encode(),
                                                 key=key.encode(),
                                                 headers=[("event_type", envelope.type.encode())])
        self.state.saw(TopicPartition(meta.topic, meta.partition), meta.offset)

    # ------------------------------------------------------------ barrier
    async def _watch_provisioning_events(self) -> AIOKafkaConsumer:
        """A group-less consumer from the current end of provisioning.events: it sees the events
        our API calls cause, and so learns their offsets."""
        topic = self.settings.topic(PROVISIONING_EVENTS.name)
        partitions = await partitions_of(self.settings.kafka_bootstrap_servers, [topic])
        if not partitions:
            raise ReplayError(f"topic {topic} not found: is the platform running (make up)?")
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, **client_options(),
                                    group_id=None, enable_auto_commit=False)
        await consumer.start()
        consumer.assign(partitions)
        for tp, end in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, end)
        self.seen_provisioning = 0
        return consumer

    def _ours(self, envelope: Envelope) -> bool:
        if envelope.key.startswith(self.state.ns):
            return True
        products = envelope.payload.get("products") if envelope.type == "provisioning.catalog.published" else None
        return bool(products) and products[0].get("part_number", "").startswith(self.state.ns)

    async def _applied_by_rating(self, at: datetime) -> None:
        deadline = time.monotonic() + self.endpoints.timeout
        while self.seen_provisioning < self.state.expected_provisioning_events:
            if time.monotonic() > deadline:
                raise ReplayError(f"provisioning published {self.seen_provisioning} of "
                                  f"{self.state.expected_provisioning_events} events before the run at {at}")
            batches = await self.watch.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for record in records:
                    if self._ours(Envelope.decode(record.value)):
                        self.seen_provisioning += 1
                        self.state.saw(tp, record.offset)
        caused = {tp: off + 1 for tp, off in self.state.published.items()}
        accounts_topic = self.settings.topic(PROVISIONING_EVENTS.name)
        # rating must know every fact; invoicing the accounts (for their issuers and terms)
        for group, targets in (("rating", caused),
                               ("invoicing", {tp: o for tp, o in caused.items() if tp.topic == accounts_topic})):
            try:
                await wait_consumed(self.settings.kafka_bootstrap_servers, f"{self.settings.topic_prefix}{group}",
                                    targets, max(1.0, deadline - time.monotonic()),
                                    f"our events before the run at {at}")
            except TimeoutError as exc:
                raise ReplayError(str(exc)) from None

    # ------------------------------------------------------------ runs and invoices
    async def _billing_run(self, month: str, at: datetime) -> None:
        await self._applied_by_rating(at)
        s = self.state
        accounts = [s.id(a.id) for a in self.scenario.accounts]
        run = await self._post(self.endpoints.invoicing, "/v1/runs",
                               {"month": month, "account_ids": accounts, "as_of": at.isoformat(),
                                "requested_by": "scenario-replay"}, None)
        deadline = time.monotonic() + self.endpoints.timeout
        while run["status"] != "reconciled":
            if run["status"] == "mismatch" or time.monotonic() > deadline:
                raise ReplayError(f"run {run['run_id']} for {month}: {run}")
            await asyncio.sleep(0.1)
            r = await self.http.get(f"{self.endpoints.invoicing}/v1/runs/{run['run_id']}")
            run = r.json()
        for account in self.scenario.accounts:
            r = await self.http.get(f"{self.endpoints.invoicing}/v1/accounts/{s.id(account.id)}/invoices")
            for inv in r.json():
                if inv["month"] == month and inv["run_id"] == run["run_id"]:
                    full = (await self.http.get(f"{self.endpoints.invoicing}/v1/invoices/{inv['invoice_number']}")).json()
                    s.invoices.append(self._invoice_json(account.id, full))

    def _invoice_json(self, account: str, inv: dict) -> dict:
        s = self.state
        lines = []
        for line in inv["lines"]:
            out = {} if line.get("subscription_id") is None else {"subscription": s.strip(line["subscription_id"])}
            out.update({"part_number": s.strip(line["part_number"]), "from": line["from"], "to": line["to"],
                        "quantity": _number(Decimal(str(line["quantity"]))), "amount": line["amount"],
                        "unit_price": line.get("unit_price"), "price_version": (line.get("price_version") or "").replace(s.ns, ""),
                        "days": line.get("days"), "month_days": line.get("month_days"), "rule": line.get("rule"),
                        "late": line.get("late", False),
                        "explanation": (line.get("explanation") or "").replace(s.ns, ""),
                        "product_name": line.get("product_name", ""),
                        "customer": s.strip(line.get("customer_id"))})
            lines.append(out)
        return {"account": account, "month": inv["month"], "currency": inv["currency"],
                "invoice_number": inv["invoice_number"], "issue_date": inv["issue_date"],
                "due_date": inv["due_date"], "total": inv["total"], "lines": lines}


def replay_scenario(scenario: ScenarioModel, endpoints: Endpoints | None = None,
                    settings: Settings | None = None, namespace: str | None = None) -> dict:
    """The scenario's result as the running platform produced it (ids without the namespace)."""
    return asyncio.run(Replay(scenario, endpoints or Endpoints(),
                              settings or Settings.from_env("scenario-replay"), namespace).run())
