"""Test helpers on the real broker: publish records or envelopes (the one producer of the tests), read a topic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cli.consumption import partitions_of
from contracts.envelope import Envelope
from shared.kafka_security import client_options


Record = tuple  # (key, value) or (key, value, headers); a str key is UTF-8, None a tombstone value


async def publish(bootstrap: str, topic: str, records: Iterable[Record], *, security: dict | None = None,
                  **producer_options) -> None:
    """The one way tests put records on a topic: in order, batched (an idempotent producer keeps
    a partition's order), every one acknowledged before returning. `records` are (key, value) or
    (key, value, headers) with raw bytes (keys and headers may be anything Kafka allows);
    `security` replaces the admin principal's client options (another principal's, to be refused)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **(client_options() if security is None else security),
                                **{"enable_idempotence": True, "linger_ms": 20, "max_batch_size": 512 * 1024,
                                   **producer_options})
    await producer.start()
    try:
        sent = []
        for key, value, *headers in records:
            sent.append(await producer.send(topic, value=value, key=key.encode() if isinstance(key, str) else key,
                                            headers=headers[0] if headers else None))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def publish_envelopes(bootstrap: str, topic: str, envelopes: Iterable[Envelope]) -> None:
    """Envelopes on a topic, keyed by their key, in order."""
    await publish(bootstrap, topic, [(e.key, e.encode()) for e in envelopes])


async def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 60, counted=None):
    """Records of `topic` from the beginning, waiting until at least `expect` arrived (of those
    `counted(record)` accepts, when given, or as many as it says a record holds when it returns a
    number: the rest are returned too)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **client_options(),
                                auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while seen < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
                seen += len(recs) if counted is None else sum(int(counted(r)) for r in recs)
    finally:
        await consumer.stop()
    return records


async def read_to_end(bootstrap: str, topic: str, timeout: float = 30) -> list:
    """Every record of `topic` up to its end offsets as of the call: an exact count, where
    `read_all` stops as soon as it has `expect` (a lower bound)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(),
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        partitions = await partitions_of(bootstrap, [topic])
        assert partitions, f"{topic}: no partitions"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: not read to its end offsets {ends} within {timeout}s")
            for recs in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                records.extend(r for r in recs if r.offset < ends[TopicPartition(topic, r.partition)])
    finally:
        await consumer.stop()
    return records

