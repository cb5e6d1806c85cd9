"""Test helpers on the real broker: publish raw bytes or envelopes, read a topic to the end."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import Envelope
from shared.kafka_security import client_options


async def publish(bootstrap: str, topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


async def publish_envelopes(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    await publish(bootstrap, topic, [(e.key, e.encode()) for e in envelopes])


async def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 60, counted=None):
    """Records of `topic` from the beginning, waiting until at least `expect` arrived (of those
    `counted(record)` accepts, when given: the rest are returned too)."""
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
                seen += len(recs) if counted is None else sum(1 for r in recs if counted(r))
    finally:
        await consumer.stop()
    return records
