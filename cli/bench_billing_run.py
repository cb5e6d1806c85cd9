"""`billing bench billing-run --accounts N`: one billing run end to end through Kafka and
PostgreSQL, with the rating and invoicing services as separate processes.

Set-up (not timed): N accounts with three subscriptions each and one usage record, fed to the
services as provisioning events and usage records in a namespace of their own. Timed: from the
run request to the run reconciled (the last invoice issued). Topology: one rating process (two
run workers) and two invoicing replicas in one consumer group, by default.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from aiokafka import AIOKafkaProducer

from cli import http as cli_http
from cli.consumption import end_offsets, wait_consumed
from cli.namespace import drop_namespace
from cli.processes import ROOT, ServiceProcess
from contracts import topics, wrap
from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, FeatureProvisionedV1, ProductV1
from contracts.usage import UsageRecordedV1
from shared import apikeys
from shared.clock import SystemClock
from shared.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA
from shared.settings import DEFAULT_KAFKA, database_url, local_secrets, role_env
from shared.kafka_security import client_options

START = datetime(2026, 10, 10, 9, 0, tzinfo=timezone.utc)   # features start mid-October
MONTH = "2026-11"                                           # the November run: arrears + advance
PRODUCTS = [
    ProductV1(part_number="XDM00001", name="Insights User", kind="recurring", unit_price=Decimal("12.00"), minimum_days=30),
    ProductV1(part_number="XDM00020", name="Wallboard", kind="recurring", unit_price=Decimal("150.00"), minimum_days=30),
    ProductV1(part_number="XDM00040", name="Call Recording", kind="recurring", unit_price=Decimal("9.99"), minimum_days=30),
    ProductV1(part_number="FAX-PAGE-OUT", name="Outbound fax page", kind="usage", unit_price=Decimal("0.05")),
]


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench's schemas and topics")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--rating-replicas", type=int, default=1, help="rating processes (default 1)")
    parser.add_argument("--invoicing-replicas", type=int, default=2,
                        help="invoicing processes (default 2: one would lag behind rating and finish alone)")


def _facts(n: int, ns: str):
    yield "catalog", CatalogPublishedV1(currency="USD", products=PRODUCTS, at=START)
    for a in range(n):
        aid = f"{ns}acct-{a}"
        yield aid, AccountOpenedV1(account_id=aid, time_zone=("UTC", "Europe/Berlin", "America/New_York")[a % 3],
                                   at=START)
        for k, part in enumerate(("XDM00001", "XDM00020", "XDM00040")):
            yield aid, FeatureProvisionedV1(account_id=aid, subscription_id=f"{aid}-s{k}", part_number=part,
                                            quantity=1 + (a + k) % 3, at=START)


async def _produce(bootstrap: str, ns: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(),
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        events_topic, usage_topic = ns + topics.PROVISIONING_EVENTS.name, ns + topics.USAGE_RECORDS.name
        for key, payload in _facts(n, ns):
            env = wrap(payload, key=key, producer="bench", occurred_at=START)
            pending.append(await producer.send(events_topic, env.encode(), key=key.encode()))
            if isinstance(payload, AccountOpenedV1):
                usage = UsageRecordedV1(record_id=f"{key}-u1", account_id=key, part_number="FAX-PAGE-OUT",
                                        quantity=Decimal(40), used_at=START, received_at=START)
                env = wrap(usage, key=key, producer="bench", occurred_at=START)
                pending.append(await producer.send(usage_topic, env.encode(), key=key.encode()))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _bench(args: argparse.Namespace) -> dict:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()  # the admin role: it drops its namespace afterwards
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database, "BILLING_TOPIC_PREFIX": ns,
           "BILLING_SCHEMA_PREFIX": ns,
           "BILLING_SCHEDULER_MS": "3600000"}  # the bench requests the run itself
    log_dir = ROOT / "var" / "bench" / ns
    # the bench's services trust a key file of their own, holding one operator key for the bench
    env["BILLING_API_KEYS_FILE"] = str(log_dir / "keys" / "api-keys.json")
    args.api_key, _ = apikeys.create(log_dir / "keys" / "api-keys.json", "operator", None, "bench",
                                     SystemClock().now())
    replicas = {"rating": args.rating_replicas, "invoicing": args.invoicing_replicas}
    # on deploy/local, the services with their own PostgreSQL roles, as in production
    env |= role_env(database, local_secrets(bootstrap, ROOT), list(replicas))
    services = [ServiceProcess(name, env, log_dir / f"{name}-{i}" if i else log_dir)
                for name, count in replicas.items() for i in range(count)]
    try:
        for proc in services:
            proc.start(timeout=120)
        print(f"setup: feeding {args.accounts} accounts (3 subscriptions and 1 usage record each)", flush=True)
        began = time.perf_counter()
        await _produce(bootstrap, ns, args.accounts)
        fed = [ns + topics.PROVISIONING_EVENTS.name, ns + topics.USAGE_RECORDS.name]
        ends = await end_offsets(bootstrap, fed)
        await wait_consumed(bootstrap, ns + "rating", ends, args.timeout, "the set-up facts")
        await wait_consumed(bootstrap, ns + "invoicing", ends, args.timeout, "the set-up facts")
        print(f"setup: done in {time.perf_counter() - began:.1f} s; requesting the {MONTH} run", flush=True)
        invoicing = next(proc.url for proc in services if proc.name == "invoicing")
        async with cli_http.async_client(key=args.api_key) as http:
            began = time.perf_counter()
            run = (await http.post(f"{invoicing}/v1/runs", json={"month": MONTH, "requested_by": "bench"})).json()
            while run.get("status") != "reconciled":
                if run.get("status") == "mismatch" or time.perf_counter() - began > args.timeout:
                    raise RuntimeError(f"run did not reconcile: {run}")
                await asyncio.sleep(0.2)
                run = (await http.get(f"{invoicing}/v1/runs/{run['run_id']}")).json()
            seconds = time.perf_counter() - began
        invoices = run.get("invoices", run.get("received_accounts", args.accounts))
        return {"bench": "billing-run", "accounts": args.accounts, "replicas": replicas, "invoices": invoices,
                "seconds": round(seconds, 2), "invoices_per_second": round(invoices / seconds)}
    finally:
        for proc in services:
            proc.stop()
        if not args.keep:
            await drop_namespace(bootstrap, database, ns)


def run(args: argparse.Namespace) -> int:
    result = asyncio.run(_bench(args))
    print(json.dumps(result))
    return 0
