"""The transactional outbox: events are written with the state change and relayed to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts.envelope import Envelope
from shared import faults, metrics, tracing
from shared.kafka_security import client_options
from shared.murmur2 import murmur2  # aiokafka's hash, about twice as fast

log = logging.getLogger(__name__)

# rows go in by binary COPY (asyncpg's copy_records_to_table): no conflict is possible on the
# outbox, and COPY halves the Python CPU of an INSERT of unnested arrays (4.8-7.2 -> 2.8-3.4 us
# per 1.6 KB row) at the same PostgreSQL CPU. With tracing on, each row also carries the
# writer's trace context (W3C headers), published with its record.
COLUMNS = ("topic", "key", "event_id", "event_type", "payload")
TRACED_COLUMNS = (*COLUMNS, "headers")

# Only one relay per schema publishes at a time (replicas of a service share the outbox): with
# a single publisher the rows of one key leave in id order. Use cases lock their account row
# before writing, so for one key id order is commit order.
TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('outbox:' || current_schema()))"

# `last`: the newest row's id, so the rows still waiting after the batch are about `last` minus
# the batch's last id (gaps aside): exact enough for the depth gauge and free, where a count(*)
# would scan the table and min(id) walks the index entries of the rows just deleted
# A batch is bounded by rows ($1) and by bytes ($2, the rows before the last one claimed): batched
# events (a run's charges, up to half a megabyte each) would otherwise put 1,000 of them, half a
# gigabyte, in the relay's memory whenever it falls behind. The first row always comes.
# octet_length of a stored payload reads its size without decompressing it.
CLAIM_BATCH = """
SELECT id, topic, key, event_id, event_type, payload, headers, created_at, last FROM (
    SELECT id, topic, key, event_id, event_type, payload, headers, created_at,
           sum(octet_length(payload)) OVER (ORDER BY id) - octet_length(payload) AS before,
           (SELECT max(id) FROM outbox) AS last
    FROM outbox ORDER BY id LIMIT $1
) claim WHERE before < $2 ORDER BY id
"""

INSERT_ONE = """
INSERT INTO outbox (topic, key, event_id, event_type, payload, headers) VALUES ($1, $2, $3, $4, $5, $6)
"""

DELETE_BATCH = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"

LAST_WRITTEN = "SELECT max(id) FROM outbox"
LEFT_UP_TO = "SELECT EXISTS (SELECT 1 FROM outbox WHERE id <= $1)"


async def add(conn: asyncpg.Connection, topic: str, envelopes: Sequence[Envelope]) -> None:
    """Write `envelopes` for `topic` (physical name) in the caller's transaction."""
    if not envelopes:
        return
    await add_encoded(conn, topic, [(e.key, e.event_id, e.type, e.encode()) for e in envelopes])


async def add_encoded(conn: asyncpg.Connection, topic: str, rows: Sequence[tuple[str, UUID, str, bytes]]) -> None:
    """Write events already encoded, as (key, event id, event type, envelope bytes), for `topic`
    (physical name) in the caller's transaction."""
    if not rows:
        return
    trace_headers = tracing.outbox_headers()
    if trace_headers is None:
        await conn.copy_records_to_table("outbox", records=[(topic, *row) for row in rows], columns=COLUMNS)
    else:
        await conn.copy_records_to_table("outbox", records=[(topic, *row, trace_headers) for row in rows],
                                         columns=TRACED_COLUMNS)


async def add_record(conn: asyncpg.Connection, topic: str, key: str, event_id: UUID, event_type: str,
                     payload: bytes, headers: dict[str, str]) -> None:
    """Write one record as it is (bytes already encoded, extra Kafka headers) in the caller's
    transaction: a redrive re-sends a dead letter's original bytes."""
    await conn.execute(INSERT_ONE, topic, key, event_id, event_type, payload, headers)


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer: broker-side dedup of retried sends, acks from all replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        **client_options(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


class OutboxRelay:
    """Publishes outbox rows in id order, deleting them once Kafka acknowledged them.

    A crash between the publish and the delete publishes the rows again: consumers' inboxes make
    that harmless (at least once, never lost).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        batch: int = 1000,
        idle_ms: int = 500,
        *,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._pool, self._producer, self._schema = pool, producer, schema
        self._batch, self._max_bytes, self._idle = batch, max_bytes, idle_ms / 1000
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._listener: asyncpg.Connection | None = None
        self.published = 0
        self._behind = False  # rows were left after the last batch

    async def start(self) -> None:
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(f"{self._schema}_outbox", self._notified)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(f"{self._schema}_outbox", self._notified)
            await self._pool.release(self._listener)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # Kafka or the database away: keep the rows, try again
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1)
                continue
            if sent < self._batch and not self._behind:  # a batch cut by bytes has more behind it
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle)

    async def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row committed before this call has been published (whichever relay
        of the schema's replicas publishes it); False when that took longer than `timeout` s."""
        async with self._pool.acquire() as conn:
            last = await conn.fetchval(LAST_WRITTEN)
            deadline = asyncio.get_running_loop().time() + timeout
            while last is not None and await conn.fetchval(LEFT_UP_TO, last):
                if asyncio.get_running_loop().time() > deadline:
                    return False
                self._wake.set()
                await asyncio.sleep(0.02)
        return True

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        self._behind = False
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(TRY_LOCK):
                return 0
            rows = await conn.fetch(CLAIM_BATCH, self._batch, self._max_bytes)
            if not rows:
                return 0
            with tracing.span("outbox relay", rows=len(rows)):
                await publish(self._producer, rows)
            faults.point("relay-published")
            await conn.execute(DELETE_BATCH, [r["id"] for r in rows])
        self.published += len(rows)
        self._behind = rows[-1]["last"] > rows[-1]["id"]
        _count(rows, max(0, rows[-1]["last"] - rows[-1]["id"]))
        return len(rows)


def _count(rows: Sequence, depth: int) -> None:
    """Metrics of one published batch: rows per topic and event type, the oldest row's age."""
    pairs = Counter((row["topic"], row["event_type"]) for row in rows)
    topics: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for (topic, event_type), n in pairs.items():
        topics[topic] += n
        types[event_type] += n
    for event_type in [t for t in types if metrics.counts_items(t)]:  # rare: the items inside count
        types[event_type] = sum(metrics.items_in(event_type, row["payload"]) for row in rows
                                if row["event_type"] == event_type)
    for topic, n in topics.items():
        metrics.OUTBOX_PUBLISHED.labels(topic).inc(n)
    metrics.count_published(types)
    oldest = rows[0]["created_at"]
    metrics.RELAY_LAG.observe(max(0.0, (datetime.now(timezone.utc) - oldest).total_seconds()))
    metrics.OUTBOX_DEPTH.set(depth)


def partition_of(key: bytes, partitions: list[int]) -> int:
    """The partition aiokafka's (and Java's) default partitioner picks for `key` among the
    topic's `partitions` (sorted)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


def by_partition(items: Sequence[dict], partitions: list[int], key: str = "account_id") -> list[list[dict]]:
    """Items of a batched event grouped by the partition their own `key` field falls on, each
    group in the items' order: an event of one group, keyed by its first item, goes where each
    of its items' own events would (their order per key kept)."""
    groups: dict[int, list[dict]] = {}
    for item in items:
        groups.setdefault(partition_of(item[key].encode(), partitions), []).append(item)
    return list(groups.values())


async def publish(producer: AIOKafkaProducer, rows: Sequence) -> None:
    """Send outbox rows and wait until Kafka acknowledged all of them.

    Rows go out as one record batch per partition (aiokafka's batch API: about a third of the
    CPU of one send() per record), in row order within each partition, so one key's events keep
    their order. The partition of a key is the default partitioner's (murmur2, as Java's), the
    same as a plain send() would choose; the idempotent producer numbers the batches as usual.
    """
    partitions: dict[str, list[int]] = {}
    groups: dict[tuple[str, int], list] = {}
    for row in rows:
        topic = row["topic"]
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        of_topic = partitions[topic]
        key = row["key"].encode()
        partition = partition_of(key, of_topic)
        groups.setdefault((topic, partition), []).append((key, row))
    futures = []
    for (topic, partition), records in groups.items():
        batch = producer.create_batch()
        for key, row in records:
            headers = [("event_type", row["event_type"].encode()), ("event_id", str(row["event_id"]).encode())]
            if row["headers"]:
                headers += [(name, str(value).encode()) for name, value in row["headers"].items()]
            if batch.append(key=key, value=row["payload"], timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()  # full: the record starts the next batch
                batch.append(key=key, value=row["payload"], timestamp=None, headers=headers)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)
