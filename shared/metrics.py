"""Prometheus metrics of one service process, served at /metrics (each replica serves its own)."""

from __future__ import annotations

import json
import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

# Labels are registry topic names (without a test's prefix), route templates and event types:
# bounded sets, so a scrape stays small however much traffic there was.
CONSUMED = Counter("billing_messages_consumed", "Records delivered to a subscriber", ["topic"])
APPLIED = Counter("billing_messages_applied", "Events claimed in the inbox and handled", ["topic"])
DEDUPLICATED = Counter("billing_messages_deduplicated", "Redelivered events the inbox skipped", ["topic"])
DEAD_LETTERED = Counter("billing_messages_dead_lettered", "Records given up on (dead-letter topic)", ["topic"])
HANDLER_SECONDS = Histogram(
    "billing_handler_seconds", "One handler transaction (a record, or a batch of them)", ["topic"],
    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
CONSUMER_LAG = Gauge("billing_consumer_lag", "Records behind the partition's end (highwater - position)",
                     ["topic", "partition"])

OUTBOX_DEPTH = Gauge("billing_outbox_depth", "Outbox rows not yet published (sampled by the relay)")
OUTBOX_PUBLISHED = Counter("billing_outbox_published", "Outbox rows published to Kafka", ["topic"])
RELAY_LAG = Histogram(
    "billing_outbox_relay_lag_seconds", "Age of the oldest row of each published batch (commit to Kafka ack)",
    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))

HTTP_REQUESTS = Counter("billing_http_requests", "HTTP requests by route template and status",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("billing_http_request_seconds", "HTTP request duration", ["method", "route"],
                         buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

# Business progress, counted when the event announcing it is published by the outbox relay
# (written in the transaction of the state change, so only committed work counts). A relay that
# crashes between publish and delete publishes a batch again: the counters may then run ahead
# by that batch, like the topic itself.
ACCOUNTS_RATED = Counter("billing_run_accounts_rated", "Accounts whose charges a billing run rated")
RUNS_RATED = Counter("billing_runs_rated", "Billing runs fully rated")
INVOICES_ISSUED = Counter("billing_invoices_issued", "Invoices issued")
CREDIT_NOTES = Counter("billing_credit_notes_issued", "Credit notes issued")
PAYMENTS = Counter("billing_payments_recorded", "Payments recorded")
# counted by rating (accounts a run set aside) and invoicing (charges it could not invoice)
QUARANTINED = Counter("billing_quarantined", "Accounts or charges set aside by a run, by service", ["service"])
VOUCHERS = Counter("billing_voucher_redemptions", "Vouchers redeemed")
DEBITS = Counter("billing_prepaid_debits", "Prepaid credit debits")
NOTICES = Counter("billing_prepaid_notices", "Prepaid notices sent (low balance, exhausted, expired)", ["kind"])

_BY_EVENT_TYPE = {
    "rating.charges.rated": ACCOUNTS_RATED,
    "rating.run.rated": RUNS_RATED,
    "invoicing.invoice.issued": INVOICES_ISSUED,
    "invoicing.credit_note.issued": CREDIT_NOTES,
    "invoicing.payment.recorded": PAYMENTS,
    "prepaid_credit.voucher.redeemed": VOUCHERS,
    "prepaid_credit.credit.debited": DEBITS,
    "prepaid_credit.balance.low": NOTICES.labels("low_balance"),
    "prepaid_credit.balance.exhausted": NOTICES.labels("exhausted"),
    "prepaid_credit.credit.expired": NOTICES.labels("expired"),
}


# events that carry a list of what the counter counts (version 2 of credit.debited: the debits of
# one transaction's partition), by the payload's field holding it
_LISTS = {"prepaid_credit.credit.debited": "debits"}


# events whose items each name their account once, by the key (version 2 of charges.rated: a
# batch of a run's accounts; version 1 holds one): counted in the bytes, a twentieth of the CPU of
# parsing a batch of hundreds of accounts in the relay. Only a key matches: inside a JSON string
# the quotes are escaped, and no line or envelope field is called `account_id`
_KEYED = {"rating.charges.rated": b'"account_id":'}


def counts_items(event_type: str) -> bool:
    """True when `event_type`'s counter counts the items one event holds, not the events."""
    return event_type in _LISTS or event_type in _KEYED


def items_in(event_type: str, envelope: bytes) -> int:
    """How many of what `event_type`'s counter counts one published envelope holds (1 for most)."""
    key = _KEYED.get(event_type)
    if key is not None:
        return envelope.count(key) or 1
    field = _LISTS.get(event_type)
    if field is None:
        return 1
    listed = json.loads(envelope).get("payload", {}).get(field)
    return len(listed) if isinstance(listed, list) else 1


def count_published(event_types: dict[str, int]) -> None:
    """Move the business counters for the events a relay batch published (type -> how many)."""
    for event_type, n in event_types.items():
        counter = _BY_EVENT_TYPE.get(event_type)
        if counter is not None:
            counter.inc(n)


def logical_topic(physical: str, prefix: str) -> str:
    """The registry name of a physical topic (tests prefix theirs; the label stays bounded)."""
    return physical[len(prefix):] if prefix and physical.startswith(prefix) else physical


class _HttpMetrics:
    """ASGI middleware: counts requests by the matched route's template (`/accounts/{account_id}`,
    never the concrete path) and status; an unmatched path counts as `unmatched`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes every handler

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


SERVICE = Gauge("billing_service_info", "1, labelled with the service this process runs", ["service"])


def install(app: FastAPI, service: str | None = None) -> None:
    """Serve /metrics on `app` and count its requests. Open to scrapers without an API key (a
    Prometheus scrape carries none; the counters hold no account data) and left out of the public
    OpenAPI document; network.yaml lets only the monitoring namespace and the ingress reach the
    port. Calling it twice changes nothing."""
    if getattr(app.state, "metrics_installed", False):
        return
    app.state.metrics_installed = True
    if service:
        SERVICE.labels(service).set(1)
    app.add_middleware(_HttpMetrics)
    app.add_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
