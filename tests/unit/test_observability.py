"""Traces cross the outbox and Kafka hop, log lines are JSON with the event's ids, and the kit's
consumer and HTTP edge move the Prometheus counters: the kit's code on fakes, no broker."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import json
import logging
import threading
from datetime import datetime, timezone
from types import SimpleNamespace
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from contracts.envelope import Envelope, build_envelope
from contracts.topics import USAGE_RECORDS
from shared import http as shared_http, metrics, outbox, tracing
from shared.kafka import Subscription
from shared.logging import JsonFormatter, bound
from shared.settings import Settings


class FakeConn:
    """Enough of an asyncpg connection for an outbox write and an inbox claim."""

    def __init__(self) -> None:
        self.executed: list[tuple] = []

    async def execute(self, sql, *args):
        self.executed.append((sql, args))
        return "INSERT 0 1"

    async def copy_records_to_table(self, table, *, records, columns):
        self.executed += [(f"COPY {table}", tuple(record)) for record in records]
        return f"COPY {len(records)}"

    @contextlib.asynccontextmanager
    async def transaction(self):
        yield


class FakePool:
    def __init__(self) -> None:
        self.conn = FakeConn()

    @contextlib.asynccontextmanager
    async def acquire(self):
        yield self.conn


class FakeProducer:
    """Captures the records outbox.publish sends."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def partitions_for(self, topic):
        return {0}

    def create_batch(self):
        producer = self

        class Batch:
            def append(self, key, value, timestamp, headers):
                producer.sent.append({"key": key, "value": value, "headers": headers})
                return object()

        return Batch()

    async def send_batch(self, batch, topic, partition):
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    yield exporter
    tracing.disable()


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("rating"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)  # setLevel, not .level: loggers cache what is enabled
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def _envelope(correlation_id=None) -> Envelope:
    return build_envelope("usage.recorded", 1, {"n": 1}, key="acct-7", producer="test",
                          occurred_at=datetime(2026, 3, 1, tzinfo=timezone.utc), correlation_id=correlation_id)


def _subscription(seen: list) -> Subscription:
    async def handler(conn, envelope, payload):
        logging.getLogger("handler").info("handling")
        seen.append(tracing.current_ids())

    sub = Subscription(Settings(service="rating"), broker=None, pool=FakePool(), topic=USAGE_RECORDS,
                       handler=handler)
    sub._decode = lambda record: (Envelope.decode(record.value), None)  # any payload will do here
    return sub


async def _write_and_relay(envelope: Envelope) -> SimpleNamespace:
    """outbox.add in the caller's span, then the relay's publish: the Kafka record it sends."""
    conn = FakeConn()
    await outbox.add(conn, "usage.records", [envelope])
    sql, args = conn.executed[-1]
    headers = args[5] if len(args) > 5 else None
    row = {"topic": "usage.records", "key": envelope.key, "event_id": envelope.event_id,
           "event_type": envelope.type, "payload": envelope.encode(), "headers": headers}
    producer = FakeProducer()
    await outbox.publish(producer, [row])
    sent = producer.sent[0]
    return SimpleNamespace(topic="usage.records", partition=0, offset=1, key=sent["key"],
                           value=sent["value"], headers=tuple(sent["headers"]))


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_trace_crosses_the_outbox_and_kafka_into_the_consumer(spans):
    seen: list = []
    with tracing._tracer.start_as_current_span("POST /usage") as http_span:
        record = await _write_and_relay(_envelope())
    assert dict(record.headers)["traceparent"].decode().split("-")[2] == format(
        http_span.get_span_context().span_id, "016x")

    await _subscription(seen)._on_record(record)

    by_name = {s.name: s for s in spans.get_finished_spans()}
    consume = by_name["usage.records process"]
    assert consume.parent.span_id == http_span.get_span_context().span_id
    assert consume.context.trace_id == http_span.get_span_context().trace_id
    assert consume.attributes["messaging.destination.name"] == "usage.records"
    # the handler ran inside the consumer span: its writes carry the trace on to the next hop
    assert seen == [(format(consume.context.trace_id, "032x"), format(consume.context.span_id, "016x"))]


async def test_tracing_off_adds_no_headers_and_no_spans():
    assert not tracing.enabled()
    assert tracing.outbox_headers() is None
    record = await _write_and_relay(_envelope())
    assert {name for name, _ in record.headers} == {"event_type", "event_id"}
    seen: list = []
    await _subscription(seen)._on_record(record)
    assert seen == [None]


async def test_log_lines_are_json_with_the_event_ids(log_lines):
    correlation_id = uuid4()
    envelope = _envelope(correlation_id)
    record = SimpleNamespace(topic="usage.records", partition=0, offset=1, key=b"acct-7",
                             value=envelope.encode(), headers=())
    await _subscription([])._on_record(record)
    logging.getLogger("after").warning("outside any event")

    handled, after = [line for line in log_lines() if line["logger"] in ("handler", "after")]
    assert handled["service"] == "rating" and handled["message"] == "handling"
    assert handled["event_id"] == str(envelope.event_id)
    assert handled["correlation_id"] == str(correlation_id)
    assert handled["account"] == "acct-7"
    assert {"time", "level"} <= handled.keys()
    assert after["event_id"] is None and after["account"] is None


def test_bound_nests_and_restores(log_lines):
    with bound(account="a"), bound(event_id="e"):
        logging.getLogger("x").info("in")
    logging.getLogger("x").info("out")
    inner, outer = log_lines()[-2:]
    assert (inner["account"], inner["event_id"]) == ("a", "e")
    assert (outer["account"], outer["event_id"]) == (None, None)


async def test_the_consumer_counts_applied_and_deduplicated_records():
    topic = USAGE_RECORDS.name
    before = {n: _sample(f"billing_messages_{n}_total", topic=topic) for n in ("consumed", "applied", "deduplicated")}
    sub = _subscription([])
    record = await _write_and_relay(_envelope())
    await sub._on_record(record)

    async def claimed_before(sql, *args):
        return "INSERT 0 0"

    sub.pool.conn.execute = claimed_before  # the inbox has the event id already: a redelivery
    await sub._on_record(record)
    after = {n: _sample(f"billing_messages_{n}_total", topic=topic) for n in before}
    assert {n: after[n] - before[n] for n in before} == {"consumed": 2, "applied": 1, "deduplicated": 1}
    assert _sample("billing_handler_seconds_count", topic=topic) >= 1


async def test_http_requests_are_counted_by_route_template_and_metrics_need_no_key():
    app = FastAPI()

    @app.get("/accounts/{account_id}")
    async def show(account_id: str) -> dict:
        return {"id": account_id}

    metrics.install(app)
    metrics.install(app)  # twice changes nothing
    before = _sample("billing_http_requests_total", method="GET", route="/accounts/{account_id}", status="200")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
        for account in ("a", "b"):
            assert (await client.get(f"/accounts/{account}")).status_code == 200
        assert (await client.get("/no/such/path")).status_code == 404
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert 'route="/accounts/{account_id}",status="200"' in scraped.text
    assert 'route="unmatched",status="404"' in scraped.text
    assert _sample("billing_http_requests_total", method="GET", route="/accounts/{account_id}",
                   status="200") - before == 2
    assert "/metrics" not in app.openapi()["paths"]


def test_published_events_move_the_business_counters():
    before = _sample("billing_invoices_issued_total"), _sample("billing_prepaid_notices_total", kind="exhausted")
    metrics.count_published({"invoicing.invoice.issued": 3, "prepaid_credit.balance.exhausted": 1,
                             "usage.recorded": 9})
    after = _sample("billing_invoices_issued_total"), _sample("billing_prepaid_notices_total", kind="exhausted")
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)


def test_with_an_otlp_endpoint_spans_are_exported_there(monkeypatch):
    received: list[str] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        assert tracing.configure("rating")
        with tracing.span("a periodic pass"):
            pass
        tracing.shutdown()  # flushes the batch
    finally:
        tracing.disable()
        server.shutdown()
    assert received == ["/v1/traces"]
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert not tracing.configure("rating") and not tracing.enabled()


async def test_a_requests_log_lines_carry_its_correlation_id(log_lines):
    app = FastAPI()
    shared_http.install(app)

    @app.get("/ping")
    async def ping() -> dict:
        logging.getLogger("route").info("pinged")
        return {}

    given = uuid4()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
        await client.get("/ping", headers={"X-Correlation-Id": str(given)})
        await client.get("/ping", headers={"X-Correlation-Id": "not a uuid"})
    first, second = [line for line in log_lines() if line["logger"] == "route"]
    assert first["correlation_id"] == str(given)
    assert second["correlation_id"] not in (None, str(given))  # a new one for a request without a usable id


def test_a_debit_notice_of_version_2_counts_each_of_its_debits():
    """credit.debited version 2 holds one transaction's debits of a partition: the counter counts
    debits, not notices; other events count one each."""
    two = json.dumps({"type": "prepaid_credit.credit.debited", "payload": {"debits": [{}, {}, {}]}}).encode()
    one = json.dumps({"type": "prepaid_credit.credit.debited", "payload": {"account_id": "a"}}).encode()
    assert metrics.items_in("prepaid_credit.credit.debited", two) == 3
    assert metrics.items_in("prepaid_credit.credit.debited", one) == 1
    assert metrics.items_in("invoicing.invoice.issued", b"not even json") == 1
