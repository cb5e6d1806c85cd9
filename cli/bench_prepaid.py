"""`billing bench prepaid --accounts N`: one midnight's daily usage debits of N prepaid accounts end
to end through Kafka and PostgreSQL, with rating and prepaid_credit as separate processes.

Set-up (not timed): N prepaid accounts (three zones), each opened an hour before its last local
midnight, with one usage record received before it, fed as provisioning events and usage
records; each holds a lot of 100.00 credits, written by SQL as a redemption would have (100,000
HTTP redemptions would take longer than the bench). Rating's midnight task runs only when woken.
Timed: from waking it (NOTIFY) to prepaid_credit having consumed every usage debit rating
published (its consumer group's offsets), each account's debit in its ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
from aiokafka import AIOKafkaProducer

from cli.consumption import end_offsets, wait_consumed
from cli.proc_stats import cpu_by_service
from cli.namespace import end_bench
from cli.processes import ROOT, ServiceProcess
from contracts import topics, wrap
from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, ProductV1
from contracts.usage import UsageRecordedV1
from shared import apikeys
from shared.clock import SystemClock
from shared.kafka_security import client_options
from shared.settings import DEFAULT_KAFKA, database_url, local_secrets, role_env

ZONES = ("UTC", "Europe/Berlin", "America/New_York")
PRODUCTS = [ProductV1(part_number="FAX-PAGE-OUT", name="Outbound fax page", kind="usage", unit_price=Decimal("0.05"))]

# each account's lot of 100.00 credits (for 60 days), and its `redeemed` entry, as the
# redemption would have written them
LOTS = """
WITH a AS (SELECT account_id, opened_at FROM {s}.accounts)
INSERT INTO {s}.lots (lot, account_id, credits, remaining, redeemed_at, expires_at, seq)
SELECT 'L' || md5(account_id), account_id, 100.00, 100.00, opened_at, opened_at + interval '60 days', 1 FROM a
"""
ENTRIES = """
INSERT INTO {s}.entries (account_id, sequence, at, kind, change, balance, ref)
SELECT account_id, 1, opened_at, 'redeemed', 100.00, 100.00, 'L' || md5(account_id) FROM {s}.accounts
"""
STATES = "UPDATE {s}.accounts SET balance = 100.00, next_seq = 2, first_redeemed_at = opened_at"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench's schemas and topics")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--rating-replicas", type=int, default=1, help="rating processes (default 1)")
    parser.add_argument("--prepaid-replicas", type=int, default=1, help="prepaid_credit processes (default 1)")


def _opened_at(zone: str, now: datetime) -> datetime:
    """An hour before the zone's last local midnight: exactly one midnight of the account is due."""
    local = now.astimezone(ZoneInfo(zone)).date()
    midnight = datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(zone))
    return midnight - timedelta(hours=1)


async def _produce(bootstrap: str, ns: str, n: int, now: datetime) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True,
                                linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        events, usage_topic = ns + topics.PROVISIONING_EVENTS.name, ns + topics.USAGE_RECORDS.name
        catalog = CatalogPublishedV1(currency="USD", products=PRODUCTS, at=now - timedelta(days=3))
        pending.append(await producer.send(events, wrap(catalog, key="catalog", producer="bench",
                                                        occurred_at=now).encode(), key=b"catalog"))
        for a in range(n):
            aid, zone = f"{ns}pre-{a}", ZONES[a % len(ZONES)]
            opened = _opened_at(zone, now)
            account = AccountOpenedV1(account_id=aid, time_zone=zone, mode="prepaid", at=opened)
            pending.append(await producer.send(events, wrap(account, key=aid, producer="bench",
                                                            occurred_at=opened).encode(), key=aid.encode()))
            usage = UsageRecordedV1(record_id=f"{aid}-u1", account_id=aid, part_number="FAX-PAGE-OUT",
                                    quantity=Decimal(20 + a % 200), used_at=opened + timedelta(minutes=10),
                                    received_at=opened + timedelta(minutes=20))
            pending.append(await producer.send(usage_topic, wrap(usage, key=aid, producer="bench",
                                                                 occurred_at=opened).encode(), key=aid.encode()))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _settle(conn: asyncpg.Connection, ns: str) -> None:
    """VACUUM ANALYZE the set-up's tables (rating's and prepaid_credit's), as a database in use
    would have them: without it autovacuum starts on the freshly loaded tables during the timed part."""
    tables = await conn.fetch("SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])",
                              [ns + "rating", ns + "prepaid_credit"])
    for t in tables:
        await conn.execute(f'VACUUM ANALYZE "{t["schemaname"]}"."{t["tablename"]}"')


async def _bench(args: argparse.Namespace) -> dict:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()  # the admin role: it writes the set-up's lots and drops its namespace
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database, "BILLING_TOPIC_PREFIX": ns,
           "BILLING_SCHEMA_PREFIX": ns, "BILLING_PREPAID_MIDNIGHTS_S": "3600", "BILLING_PREPAID_EXPIRY_S": "3600"}
    log_dir = ROOT / "var" / "bench" / ns
    env["BILLING_API_KEYS_FILE"] = str(log_dir / "keys" / "api-keys.json")
    apikeys.create(log_dir / "keys" / "api-keys.json", "operator", None, "bench", SystemClock().now())
    replicas = {"rating": args.rating_replicas, "prepaid_credit": args.prepaid_replicas}
    env |= role_env(database, local_secrets(bootstrap, ROOT), list(replicas))
    services = [ServiceProcess(name, env, log_dir / f"{name}-{i}" if i else log_dir)
                for name, count in replicas.items() for i in range(count)]
    conn = await asyncpg.connect(database)
    try:
        for proc in services:
            proc.start(timeout=120)
        now = SystemClock().now()
        print(f"setup: feeding {args.accounts} prepaid accounts (one usage record and one lot each)", flush=True)
        began = time.perf_counter()
        await _produce(bootstrap, ns, args.accounts, now)
        fed = await end_offsets(bootstrap, [ns + topics.PROVISIONING_EVENTS.name, ns + topics.USAGE_RECORDS.name])
        await wait_consumed(bootstrap, ns + "rating", fed, args.timeout, "the set-up facts")
        events = {tp: off for tp, off in fed.items() if tp.topic == ns + topics.PROVISIONING_EVENTS.name}
        await wait_consumed(bootstrap, ns + "prepaid_credit", events, args.timeout, "the accounts")
        schema = f'"{ns}prepaid_credit"'
        async with conn.transaction():
            for sql in (LOTS, ENTRIES, STATES):
                await conn.execute(sql.format(s=schema))
        await _settle(conn, ns)
        print(f"setup: done in {time.perf_counter() - began:.1f} s; waking rating's midnight task", flush=True)
        charges = ns + topics.RATING_CHARGES.name
        began, cpu = time.perf_counter(), cpu_by_service(services)
        await conn.execute(f"NOTIFY \"{ns}rating_prepaid\"")
        rating = f'"{ns}rating"'
        # EXISTS, not count(*): the probe itself would otherwise scan the table ten times a second
        while await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {rating}.prepaid_midnights WHERE next_midnight <= $1)",
                                  now) or await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {rating}.outbox)"):
            if time.perf_counter() - began > args.timeout:
                raise RuntimeError("rating did not publish every midnight in time")
            await asyncio.sleep(0.1)
        rated = time.perf_counter() - began
        await wait_consumed(bootstrap, ns + "prepaid_credit", await end_offsets(bootstrap, [charges]),
                            args.timeout, "the usage debits")
        seconds = time.perf_counter() - began
        # CPU per account of each service's processes (PostgreSQL's and Kafka's are not counted):
        # a figure other work on the machine does not move as it moves the elapsed time
        cpu_us = {name: round((used - cpu[name]) / args.accounts * 1e6) for name, used in cpu_by_service(services).items()}
        debited = await conn.fetchval(f"SELECT count(*) FROM {schema}.entries WHERE kind = 'usage'")
        if debited != args.accounts:
            raise RuntimeError(f"{debited} usage debits for {args.accounts} accounts")
        return {"bench": "prepaid", "accounts": args.accounts, "replicas": replicas, "debits": debited,
                "rating_seconds": round(rated, 2), "seconds": round(seconds, 2),
                "accounts_per_second": round(args.accounts / seconds), "cpu_us_per_account": cpu_us,
                # other work on the machine shares its cores: say how busy it was
                "load_average": [round(x, 2) for x in os.getloadavg()]}
    finally:
        await conn.close()
        await end_bench(bootstrap, database, ns, services, args.keep)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(asyncio.run(_bench(args))))
    return 0
