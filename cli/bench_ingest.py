"""`billing bench ingest --records N`: usage records until rating stored them, then latency at a fixed rate."""

# Rating runs as a separate process; `--http` sends the records through its POST /v1/usage.
# Set-up (not timed): a catalogue and `--accounts` accounts, fed as provisioning events.
# Phase 1, throughput: N records (one in a hundred repeating an earlier record id, which rating
# must drop) published as fast as the producer goes; timed from the first send to rating's
# consumer group having committed the last offset (its effects are committed before its offsets),
# then every distinct record checked stored once.
# Phase 2, latency: records offered at `--rate` per second for `--seconds`; each carries its send
# instant as `received_at`, and rating stamps `stored_at` (clock_timestamp() as the row is
# inserted, just before its transaction commits), so the latency is read from the stored rows
# afterwards, with nothing polling rating's tables meanwhile.

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from cli.consumption import end_offsets, wait_consumed
from cli.namespace import end_bench
from cli.proc_stats import cpu_by_service, cpu_seconds
from cli.processes import ROOT, ServiceProcess
from contracts import build_envelope, topics, wrap
from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, ProductV1
from contracts.registry import type_of
from contracts.usage import UsageRecordedV1
from shared import apikeys
from shared.clock import SystemClock
from shared.kafka_security import client_options
from shared.settings import DEFAULT_KAFKA, database_url, local_secrets, role_env

PART = "VOICE-MIN"
_USAGE = type_of(UsageRecordedV1)
_PARTITIONER = DefaultPartitioner()
LATENCY = """
SELECT count(*) AS n,
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - received_at))
           AS q,
       max(extract(epoch FROM stored_at - received_at)) AS worst
FROM {s}.usage_records WHERE record_id LIKE 'lat-%'
"""


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=200_000, help="records of the throughput phase")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--rate", type=int, default=5_000, help="offered load of the latency phase (records/s)")
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency phase (0: none)")
    parser.add_argument("--rating-replicas", type=int, default=1, help="rating processes (default 1)")
    parser.add_argument("--http", action="store_true", help="through rating's POST /v1/usage, not Kafka")
    parser.add_argument("--batch", type=int, default=1_000, help="records per HTTP request (--http)")
    parser.add_argument("--keep", action="store_true", help="keep the bench's schemas and topics")
    parser.add_argument("--timeout", type=float, default=900)


def usage_json(record_id: str, account: str, used_at: datetime, received_at: datetime, quantity: int) -> dict:
    """A record with the report dimensions a platform sends (direction, group, user, number)."""
    n = quantity
    return {"record_id": record_id, "account_id": account, "part_number": PART, "quantity": str(quantity),
            "used_at": used_at.isoformat(), "received_at": received_at.isoformat(),
            "direction": "inbound" if n % 2 else "outbound", "group": f"team-{n}", "user": f"user-{n}",
            "number": f"+4930123456{n}"}


def _encode(payload: dict, now: datetime) -> bytes:
    return build_envelope(*_USAGE, payload, key=payload["account_id"], producer="bench", occurred_at=now).encode()


def _payloads(n: int, accounts: list[str], now: datetime) -> list[dict]:
    """N records; every hundredth repeats the record id of the one ten before it."""
    used = now - timedelta(hours=1)
    out = []
    for i in range(n):
        rid = f"r-{i - 10}" if i % 100 == 99 else f"r-{i}"
        out.append(usage_json(rid, accounts[(i if i % 100 != 99 else i - 10) % len(accounts)], used, now, 1 + i % 7))
    return out


def _socket_ports(pid: int) -> set[int]:
    """Local TCP ports of the process's sockets (Linux /proc; empty elsewhere)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")}
        ports = set()
        for table in ("tcp", "tcp6"):
            for line in open(f"/proc/{pid}/net/{table}").readlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rpartition(":")[2], 16))
        return ports
    except OSError:
        return set()


async def _backends(conn: asyncpg.Connection, services: list[ServiceProcess]) -> list[int]:
    """The PostgreSQL backends serving the services' connections (by their client ports)."""
    ports = set().union(*(_socket_ports(p.proc.pid) for p in services))
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])", list(ports))
    return [r["pid"] for r in rows]


def _producer(bootstrap: str, linger_ms: int) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True, acks="all",
                            linger_ms=linger_ms, max_batch_size=512 * 1024)


def _pg_cpu(backends: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in backends)


async def _setup(bootstrap: str, ns: str, accounts: list[str], now: datetime) -> None:
    producer = _producer(bootstrap, 20)
    await producer.start()
    try:
        events = ns + topics.PROVISIONING_EVENTS.name
        catalog = CatalogPublishedV1(currency="USD", at=now - timedelta(days=40), products=[
            ProductV1(part_number=PART, name="Voice minute", kind="usage", unit_price=Decimal("0.01"))])
        sends = [await producer.send(events, wrap(catalog, key="catalog", producer="bench", occurred_at=now).encode(),
                                     key=b"catalog")]
        for aid in accounts:
            opened = AccountOpenedV1(account_id=aid, time_zone="UTC", at=now - timedelta(days=40))
            sends.append(await producer.send(events, wrap(opened, key=aid, producer="bench", occurred_at=now).encode(),
                                             key=aid.encode()))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _publish_kafka(producer: AIOKafkaProducer, topic: str, encoded: list[tuple[bytes, bytes]]) -> None:
    """Encoded beforehand, sent in batches per partition (the key's partition, as send() would
    pick it): one send() per record would make the producer, not rating, the slower side."""
    partitions = sorted(await producer.partitions_for(topic))
    queues: dict[int, list] = {}
    for key, value in encoded:
        queues.setdefault(_PARTITIONER(key, partitions, partitions), []).append((key, value))
    sends = []
    for partition, items in queues.items():
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                sends.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        sends.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*sends)


async def _publish_http(url: str, token: str, payloads: list[dict], batch: int) -> dict:
    import httpx

    counts = {"accepted": 0, "duplicates": 0, "refused": 0}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        queue = [payloads[i:i + batch] for i in range(0, len(payloads), batch)]

        async def sender() -> None:
            while queue:
                answer = await client.post("/v1/usage", json={"records": queue.pop(0)})
                answer.raise_for_status()
                for k in counts:
                    counts[k] += answer.json()[k]

        await asyncio.gather(*(sender() for _ in range(4)))  # a few requests in flight, as a platform would
    return counts


async def _offer(producer: AIOKafkaProducer, topic: str, accounts: list[str], rate: int, seconds: float) -> int:
    """`rate` records a second for `seconds`, each stamped with its send instant."""
    began, sent, sends = time.perf_counter(), 0, []
    while (elapsed := time.perf_counter() - began) < seconds:
        due = int(rate * elapsed) - sent
        for _ in range(due):
            now = datetime.now(timezone.utc)
            payload = usage_json(f"lat-{sent}", accounts[sent % len(accounts)], now - timedelta(minutes=1), now, 1)
            sends.append(await producer.send(topic, _encode(payload, now), key=payload["account_id"].encode()))
            sent += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*sends)
    return sent


async def _bench(args: argparse.Namespace) -> dict:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database, "BILLING_TOPIC_PREFIX": ns,
           "BILLING_SCHEMA_PREFIX": ns}
    log_dir = ROOT / "var" / "bench" / ns
    keys = log_dir / "keys" / "api-keys.json"
    env["BILLING_API_KEYS_FILE"] = str(keys)
    token, _ = apikeys.create(keys, "integration", None, "bench", SystemClock().now())
    env |= role_env(database, local_secrets(bootstrap, ROOT), ["rating"])
    services = [ServiceProcess("rating", env, log_dir / f"rating-{i}" if i else log_dir)
                for i in range(args.rating_replicas)]
    usage_topic, group, schema = ns + topics.USAGE_RECORDS.name, ns + "rating", f'"{ns}rating"'
    conn = await asyncpg.connect(database)
    try:
        for proc in services:
            proc.start(timeout=120)
        now = SystemClock().now()
        accounts = [f"acct-{a:05d}" for a in range(args.accounts)]
        await _setup(bootstrap, ns, accounts, now)
        await wait_consumed(bootstrap, group, await end_offsets(bootstrap, [ns + topics.PROVISIONING_EVENTS.name]),
                            args.timeout, "the accounts")
        payloads = _payloads(args.records, accounts, now)
        distinct = len({p["record_id"] for p in payloads})
        print(f"setup: {args.accounts} accounts; publishing {args.records} records "
              f"({args.records - distinct} repeated ids)", flush=True)
        encoded = [] if args.http else [(p["account_id"].encode(), _encode(p, now)) for p in payloads]
        producer = _producer(bootstrap, 20)
        await producer.start()
        try:
            backends = await _backends(conn, services)
            cpu, pg, began = cpu_by_service(services), _pg_cpu(backends), time.perf_counter()
            if args.http:
                counts = await _publish_http(services[0].url, token, payloads, args.batch)
            else:
                await _publish_kafka(producer, usage_topic, encoded)
            published = time.perf_counter() - began
            await wait_consumed(bootstrap, group, await end_offsets(bootstrap, [usage_topic]), args.timeout,
                                "the usage records")
            seconds = time.perf_counter() - began
            used, pg_used = cpu_by_service(services), _pg_cpu(backends)
        finally:
            await producer.stop()
        stored = await conn.fetchval(f"SELECT count(*) FROM {schema}.usage_records")
        if stored != distinct:
            raise RuntimeError(f"{stored} usage records stored for {distinct} distinct record ids")
        result = {"bench": "ingest", "path": "http" if args.http else "kafka", "records": args.records,
                  "stored": stored, "rating_replicas": args.rating_replicas,
                  "publish_seconds": round(published, 2), "seconds": round(seconds, 2),
                  "records_per_second": round(args.records / seconds),
                  # rating's own CPU (PostgreSQL's and Kafka's are not counted)
                  "cpu_us_per_record": round((sum(used.values()) - sum(cpu.values())) / args.records * 1e6),
                  # and the PostgreSQL backends serving rating's connections (Kafka's is not counted)
                  "postgres_cpu_us_per_record": round((pg_used - pg) / args.records * 1e6)}
        if args.http:
            result["answers"] = counts
        if args.seconds > 0:
            print(f"throughput: {result['records_per_second']:,}/s; offering {args.rate}/s for {args.seconds} s",
                  flush=True)
            latency = _producer(bootstrap, 0)
            await latency.start()
            try:
                sent = await _offer(latency, usage_topic, accounts, args.rate, args.seconds)
            finally:
                await latency.stop()
            await wait_consumed(bootstrap, group, await end_offsets(bootstrap, [usage_topic]), args.timeout,
                                "the latency phase's records")
            row = await conn.fetchrow(LATENCY.format(s=schema))
            if row["n"] != sent:
                raise RuntimeError(f"{row['n']} of the latency phase's {sent} records stored")
            result |= {"rate": args.rate, "latency_records": sent, "p50_ms": round(row["q"][0] * 1000, 1),
                       "p99_ms": round(row["q"][1] * 1000, 1), "max_ms": round(float(row["worst"]) * 1000, 1)}
        # other work on the machine shares its cores: say how busy it was
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        return result
    finally:
        await conn.close()
        await end_bench(bootstrap, database, ns, services, args.keep)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(asyncio.run(_bench(args))))
    return 0
